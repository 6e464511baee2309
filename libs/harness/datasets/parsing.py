"""Parse dataset uploads (CSV, JSON, JSONL) into test cases, all-or-nothing.

Every row is validated; problems are collected with their row number and field, and the
caller adds nothing unless the whole file is clean. Files are read incrementally.

Row shapes:
- CSV: each column is a variable, except ``expected_output`` (or ``__expected_output``),
  ``__expected`` / ``__expectedN`` (promptfoo assertions), ``__description``,
  ``__metric``, ``__threshold``, ``__metadata:<key>``, ``__contexts`` (JSON list or
  text) and ``__assert_json`` (a JSON list of assertions, as the CSV export writes).
  A cell (or header) starting with quotes (``'``) and then ``=``, ``+``, ``-``, ``@``, a
  tab or CR loses one quote: the export's CSV-injection guard (``harness.csv_cells``)
  undone.
  Empty cells of variables are empty strings, as in promptfoo.
- JSON / JSONL: objects with ``input`` (or promptfoo's ``vars``), ``expected_output``,
  ``metadata``, ``assert``, ``threshold``, ``description``; an object with none of those
  keys is taken as the variables themselves. A JSON file is a list, or ``{"cases": [...]}``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from harness import csv_cells
from harness.assertions import parse_assertions

from .expected import ExpectedSyntaxError, expected_to_assertion

MAX_ERRORS = 100
_CASE_KEYS = {"input", "vars", "expected_output", "metadata", "assert", "threshold",
              "description", "options", "contexts", "reference"}


@dataclass
class RowError:
    row: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class ParsedCase:
    row: int
    input: dict[str, Any]
    expected_output: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    assert_: list[dict[str, Any]] = field(default_factory=list)
    threshold: float | None = None

    def as_case(self, case_id: str) -> dict[str, Any]:
        return {"id": case_id, "input": self.input, "expected_output": self.expected_output,
                "metadata": self.metadata, "assert": self.assert_, "threshold": self.threshold}


class ImportRejected(ValueError):
    def __init__(self, errors: list[RowError], total_errors: int, filename: str) -> None:
        super().__init__(f"{filename}: {total_errors} problem(s); nothing was imported")
        self.errors = errors
        self.total_errors = total_errors
        self.filename = filename


def detect_format(filename: str, content_type: str | None = None) -> str:
    name = filename.lower()
    for ext, fmt in ((".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
                     (".json", "json")):
        if name.endswith(ext):
            return fmt
    if content_type:
        if "csv" in content_type:
            return "csv"
        if "ndjson" in content_type or "jsonl" in content_type:
            return "jsonl"
        if "json" in content_type:
            return "json"
    raise ValueError(f"{filename}: unknown file type (use .csv, .json or .jsonl)")


def _check_assertions(raw: Any, row: int, errors: list[RowError]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(RowError(row, "assert", "must be a list of assertions"))
        return []
    try:
        parse_assertions(raw)
    except ValueError as exc:
        errors.append(RowError(row, "assert", str(exc)))
    return raw


def _threshold(value: Any, row: int, fieldname: str, errors: list[RowError]) -> float | None:
    if value is None or value == "":
        return None
    try:
        t = float(value)
    except (TypeError, ValueError):
        errors.append(RowError(row, fieldname, f"not a number: {value!r}"))
        return None
    if not 0 <= t <= 1:
        errors.append(RowError(row, fieldname, "must be between 0 and 1"))
    return t


def _csv_row(row_no: int, record: dict[str, str | None], errors: list[RowError]
             ) -> ParsedCase | None:
    if None in record:  # more cells than header columns
        errors.append(RowError(row_no, None, "more cells than columns in the header"))
        return None
    variables: dict[str, Any] = {}
    case = ParsedCase(row=row_no, input=variables)
    for column, raw in record.items():
        value = csv_cells.restore(raw) if raw is not None else ""
        if column in ("expected_output", "__expected_output"):
            case.expected_output = value or None
        elif column.startswith("__expected"):
            if value.strip():
                try:
                    case.assert_.append(expected_to_assertion(value))
                except ExpectedSyntaxError as exc:
                    errors.append(RowError(row_no, column, str(exc)))
        elif column == "__description":
            if value:
                case.metadata["description"] = value
        elif column == "__metric":
            if value:
                for a in case.assert_:
                    a.setdefault("metric", value)
                case.metadata["metric"] = value
        elif column == "__threshold":
            case.threshold = _threshold(value, row_no, column, errors)
        elif column == "__contexts":
            if value:
                try:
                    parsed = json.loads(value)
                    case.input["contexts"] = parsed if isinstance(parsed, list) else [value]
                except json.JSONDecodeError:
                    case.input["contexts"] = [value]
        elif column == "__assert_json":
            if value.strip():
                try:
                    extra = json.loads(value)
                except json.JSONDecodeError as exc:
                    errors.append(RowError(row_no, column, f"not JSON: {exc}"))
                    extra = []
                if isinstance(extra, list):
                    case.assert_.extend(extra)
                else:
                    errors.append(RowError(row_no, column, "must be a JSON list"))
        elif column.startswith("__metadata:"):
            case.metadata[column.split(":", 1)[1]] = value
        elif column.startswith("__"):
            errors.append(RowError(row_no, column, "unknown special column"))
        else:
            variables[column] = value
    if "metric" in case.metadata:
        for a in case.assert_:
            a.setdefault("metric", case.metadata["metric"])
    if case.assert_:
        _check_assertions(case.assert_, row_no, errors)
    return case


def iter_csv(stream: IO[bytes], errors: list[RowError]) -> Iterator[ParsedCase]:
    text = codecs.getreader("utf-8-sig")(stream, errors="strict")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
        if header:  # an exported file's cells (headers too) may carry csv_cells' quote
            header = reader.fieldnames = [csv_cells.restore(h) for h in header]
    except UnicodeDecodeError as exc:
        errors.append(RowError(1, None, f"not UTF-8: {exc.reason}"))
        return
    if not header:
        errors.append(RowError(1, None, "the file is empty (a header row is needed)"))
        return
    if len(set(header)) != len(header):
        errors.append(RowError(1, None, "duplicate column names in the header"))
        return
    if any(not h or not h.strip() for h in header):
        errors.append(RowError(1, None, "empty column name in the header"))
        return
    row_no = 1
    try:
        for record in reader:
            row_no = reader.line_num
            case = _csv_row(row_no, record, errors)
            if case is not None:
                yield case
    except (csv.Error, UnicodeDecodeError) as exc:
        errors.append(RowError(row_no + 1, None, f"unreadable CSV: {exc}"))


def _object_case(row_no: int, obj: Any, errors: list[RowError]) -> ParsedCase | None:
    if not isinstance(obj, dict):
        errors.append(RowError(row_no, None, "each case must be a JSON object"))
        return None
    if not (_CASE_KEYS & obj.keys()):
        obj = {"input": obj}
    unknown = set(obj) - _CASE_KEYS
    if unknown:
        errors.append(RowError(row_no, sorted(unknown)[0],
                               f"unknown field(s): {', '.join(sorted(unknown))}"))
        return None
    variables = obj.get("input", obj.get("vars", {}))
    if not isinstance(variables, dict):
        errors.append(RowError(row_no, "input", "must be an object of variables"))
        return None
    variables = dict(variables)
    for key in ("contexts", "reference"):
        if key in obj:
            variables[key] = obj[key]
    expected = obj.get("expected_output")
    if expected is not None and not isinstance(expected, str):
        expected = json.dumps(expected, ensure_ascii=False)
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        errors.append(RowError(row_no, "metadata", "must be an object"))
        return None
    if obj.get("description"):
        metadata = {**metadata, "description": obj["description"]}
    if obj.get("options"):
        metadata = {**metadata, "options": obj["options"]}
    return ParsedCase(row=row_no, input=variables, expected_output=expected, metadata=metadata,
                      assert_=_check_assertions(obj.get("assert"), row_no, errors),
                      threshold=_threshold(obj.get("threshold"), row_no, "threshold", errors))


def iter_jsonl(stream: IO[bytes], errors: list[RowError]) -> Iterator[ParsedCase]:
    for row_no, raw in enumerate(stream, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            errors.append(RowError(row_no, None, f"not JSON: {exc}"))
            continue
        case = _object_case(row_no, obj, errors)
        if case is not None:
            yield case


def iter_json(stream: IO[bytes], errors: list[RowError]) -> Iterator[ParsedCase]:
    try:
        doc = json.load(io.TextIOWrapper(stream, encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        errors.append(RowError(getattr(exc, "lineno", 1), None, f"not JSON: {exc}"))
        return
    if isinstance(doc, dict) and isinstance(doc.get("cases", doc.get("tests")), list):
        doc = doc.get("cases", doc.get("tests"))
    if not isinstance(doc, list):
        errors.append(RowError(1, None, 'expected a list of cases or {"cases": [...]}'))
        return
    for index, obj in enumerate(doc, start=1):
        case = _object_case(index, obj, errors)
        if case is not None:
            yield case


def parse_upload(stream: IO[bytes], fmt: str, filename: str) -> list[ParsedCase]:
    """All cases of the file, or ``ImportRejected`` listing (up to MAX_ERRORS) problems."""
    errors: list[RowError] = []
    parser = {"csv": iter_csv, "json": iter_json, "jsonl": iter_jsonl}[fmt]
    cases = list(parser(stream, errors))
    if not errors and not cases:
        errors.append(RowError(1, None, "the file has no cases"))
    if errors:
        raise ImportRejected(errors[:MAX_ERRORS], len(errors), filename)
    return cases
