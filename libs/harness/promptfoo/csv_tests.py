"""promptfoo's CSV test conventions.

Every column is a variable except the special ones: ``__expected`` (and ``__expected1``,
``__expected2``, ...) hold one assertion each, written as ``type:value`` shorthand;
``__description``, ``__metric`` (a metric name given to every assertion of the row),
``__threshold`` (the test's threshold), ``__prefix`` / ``__suffix`` (added around the
prompt) and ``__providerOutput`` (not supported: it would skip the model call).
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

from harness.assertions.shorthand import assertion_from_string

from .errors import ConfigError


def _finite(value: str) -> float | None:
    """promptfoo's parseFiniteNumber: a plain decimal number, else None."""
    text = value.strip()
    if not re.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def csv_row_to_test(row: dict[str, str], *, file: Path | str, row_number: int) -> dict:
    """A promptfoo test case from one CSV row (``row_number`` counts data rows from 1), as
    promptfoo's ``testCaseFromCsvRow`` builds it: header names trimmed, each
    ``__expected`` cell trimmed then read as shorthand, ``__metadata:key`` (``key[]``:
    a comma list) into metadata, ``__config:__expectedN:threshold`` onto an assertion."""
    variables: dict[str, str] = {}
    asserts: list[dict] = []
    options: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    configs: dict[int, dict[str, float]] = {}
    description = metric = None
    threshold: float | None = None
    for raw_key, value in row.items():
        if raw_key is None:  # more cells than headers
            raise ConfigError(
                f"row has {len(row) - 1 + len(value)} cells but the header names {len(row) - 1}",
                file=file, location=f"row {row_number}",
            )
        key = raw_key.strip()
        value = "" if value is None else value
        where = f"row {row_number}, column {key}"
        if key.startswith("__expected"):
            if value.strip():
                asserts.append(assertion_from_string(value.strip()))
        elif key == "__description":
            description = value
        elif key == "__metric":
            metric = value
        elif key == "__threshold":
            threshold = _finite(value)  # as promptfoo: not a number = no threshold
        elif key in ("__prefix", "__suffix"):
            options[key[2:]] = value
        elif key == "__providerOutput":
            if value.strip():
                raise ConfigError("__providerOutput (grading a given output without calling "
                                  "the model) is not supported", file=file, location=where)
        elif key.startswith("__metadata:"):
            name = key[len("__metadata:"):]
            if name.endswith("[]") and value.strip():
                metadata[name[:-2]] = [v.strip().replace("\\,", ",")
                                       for v in re.split(r"(?<!\\),", value)]
            elif value.strip():
                metadata[name] = value
        elif key == "__metadata":
            continue  # promptfoo ignores it (it needs a key: __metadata:category)
        elif key.startswith("__config:"):
            parts = key[len("__config:"):].split(":")
            m = re.fullmatch(r"__expected(\d*)", parts[0]) if len(parts) == 2 else None
            index = (int(m.group(1)) - 1 if m.group(1) else 0) if m else -1
            if index < 0 or parts[1] != "threshold" or _finite(value) is None:
                raise ConfigError(f"invalid __config column {key!r} or value {value!r} "
                                  "(use __config:__expectedN:threshold with a number)",
                                  file=file, location=where)
            configs.setdefault(index, {})["threshold"] = _finite(value)
        else:
            variables[key] = value
    for i, a in enumerate(asserts):
        if metric:
            a["metric"] = metric
        for name, number in configs.get(i, {}).items():
            a[name] = number
            metadata[name] = number
    test: dict[str, Any] = {"vars": variables, "assert": asserts, "options": options}
    if metadata:
        test["metadata"] = metadata
    if description:
        test["description"] = description
    if threshold is not None:
        test["threshold"] = threshold
    return test


def read_csv_rows(text: str, *, file: Path | str) -> list[dict[str, str]]:
    """Rows of a CSV with a header line (a UTF-8 BOM is ignored)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ConfigError(f"invalid CSV: {exc}", file=file,
                          location=f"line {reader.line_num}") from exc
    if reader.fieldnames is None:
        raise ConfigError("the CSV is empty (it needs a header row)", file=file)
    blank = [i for i, name in enumerate(reader.fieldnames) if not (name or "").strip()]
    if blank:
        raise ConfigError(f"header column {blank[0] + 1} has no name", file=file,
                          location="line 1")
    return rows


def csv_to_tests(text: str, *, file: Path | str) -> list[tuple[dict, str]]:
    """(test, location) for each row, described ``Row #n`` unless ``__description`` says."""
    out = []
    for i, row in enumerate(read_csv_rows(text, file=file), start=1):
        test = csv_row_to_test(row, file=file, row_number=i)
        test.setdefault("description", f"Row #{i}")
        out.append((test, f"row {i}"))
    return out
