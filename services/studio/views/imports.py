"""What an upload will import, shown before sending it, and the registry's row errors.

The preview only reads the file to show it; the registry does the real parsing and
validation (all or nothing) and answers with the rows it refused.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass
class Preview:
    format: str
    total_rows: int
    rows: list[dict[str, Any]]
    columns: list[tuple[str, str]] = field(default_factory=list)  # (column, what it becomes)
    problem: str | None = None


def column_role(column: str) -> str:
    """What a promptfoo-style CSV column becomes."""
    if column in ("expected_output", "__expected_output"):
        return "expected output"
    if column.startswith("__expected"):
        return "assertion"
    if column == "__assert_json":
        return "assertions (JSON)"
    if column == "__description":
        return "description"
    if column in ("__metric", "__threshold"):
        return "option"
    if column.startswith("__metadata:"):
        return "metadata"
    if column == "__contexts":
        return "contexts"
    if column.startswith("__"):
        return "unknown (refused)"
    return "variable"


def format_of(filename: str) -> str | None:
    name = filename.lower()
    for ext, fmt in FORMATS.items():
        if name.endswith(ext):
            return fmt
    return None


def preview_upload(filename: str, data: bytes, limit: int = 20) -> Preview:
    fmt = format_of(filename)
    if fmt is None:
        return Preview("?", 0, [], problem=f"{filename}: use a .csv, .json or .jsonl file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Preview(fmt, 0, [], problem=f"{filename} is not UTF-8 text")
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = list(reader)
        columns = [(c, column_role(c)) for c in reader.fieldnames or []]
        if not columns:
            return Preview(fmt, 0, [], problem=f"{filename} has no header row")
        return Preview(fmt, len(rows), rows[:limit], columns)
    try:
        if fmt == "json":
            loaded = json.loads(text)
            items = loaded.get("cases", loaded.get("tests")) if isinstance(loaded, dict) \
                else loaded
        else:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        return Preview(fmt, 0, [], problem=f"{filename} is not valid {fmt.upper()}: {exc}")
    if not isinstance(items, list):
        return Preview(fmt, 0, [], problem=f"{filename}: expected a list of cases")
    rows = [_flat(i) for i in items[:limit]]
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    return Preview(fmt, len(items), rows, [(k, "field") for k in keys])


def _flat(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"value": json.dumps(item)}
    return {k: v if isinstance(v, str | int | float | bool) or v is None
            else json.dumps(v, ensure_ascii=False) for k, v in item.items()}


def error_rows(problem: dict[str, Any]) -> list[dict[str, Any]]:
    """The registry's refusal as a table: row, field, reason."""
    return [{"row": e.get("row"), "field": e.get("field") or "—", "reason": e.get("message")}
            for e in problem.get("errors") or []]
