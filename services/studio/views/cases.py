"""Test cases in an editable table: one column per variable, and back to API changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .content import parse_value

ID, EXPECTED, DESCRIPTION, ASSERTIONS = "id", "expected_output", "description", "assertions"


def variable_columns(cases: list[dict[str, Any]]) -> list[str]:
    """Variable names used by any case, in first-seen order."""
    names: list[str] = []
    for c in cases:
        for k in c.get("input") or {}:
            if k not in names:
                names.append(k)
    return names


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False)


def assertion_summary(assertions: list[dict[str, Any]]) -> str:
    """``icontains "roll"; is-json`` — shown read-only next to a case."""
    parts = []
    for a in assertions:
        value = a.get("value")
        shown = "" if value is None else f" {_cell(value)!r}" if len(_cell(value)) <= 40 \
            else f" {_cell(value)[:37]!r}…"
        parts.append(f"{a.get('type')}{shown}")
    return "; ".join(parts)


def case_rows(cases: list[dict[str, Any]], variables: list[str]) -> list[dict[str, Any]]:
    rows = []
    for c in cases:
        inp = c.get("input") or {}
        row: dict[str, Any] = {ID: c["id"]}
        row.update({v: _cell(inp.get(v)) for v in variables})
        row[EXPECTED] = c.get("expected_output") or ""
        row[DESCRIPTION] = (c.get("metadata") or {}).get("description", "")
        row[ASSERTIONS] = assertion_summary(c.get("assert") or [])
        rows.append(row)
    return rows


@dataclass
class CaseEdits:
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    additions: list[dict[str, Any]] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.updates or self.additions or self.removals)

    def summary(self) -> str:
        parts = []
        if self.additions:
            parts.append(f"{len(self.additions)} new")
        if self.updates:
            parts.append(f"{len(self.updates)} changed")
        if self.removals:
            parts.append(f"{len(self.removals)} removed")
        return ", ".join(parts) or "no changes"


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or str(v).strip() == ""


def _input_of(row: dict[str, Any], variables: list[str]) -> dict[str, Any]:
    return {v: parse_value(str(row[v])) for v in variables if not _blank(row.get(v))}


def edits_from_rows(cases: list[dict[str, Any]], rows: list[dict[str, Any]],
                    variables: list[str]) -> CaseEdits:
    """Compare the table a person edited with the cases it was made from. Rows without an
    id are new; cases whose row is gone are removed; only changed fields are sent."""
    by_id = {c["id"]: c for c in cases}
    seen: set[str] = set()
    edits = CaseEdits()
    for row in rows:
        case_id = row.get(ID)
        expected = None if _blank(row.get(EXPECTED)) else str(row[EXPECTED])
        description = "" if _blank(row.get(DESCRIPTION)) else str(row[DESCRIPTION])
        if _blank(case_id) or case_id not in by_id:
            inp = _input_of(row, variables)
            if not inp and expected is None and not description:
                continue  # a blank row the editor added
            metadata = {"description": description} if description else {}
            edits.additions.append({"input": inp, "expected_output": expected,
                                    "metadata": metadata})
            continue
        seen.add(case_id)
        old = by_id[case_id]
        changes: dict[str, Any] = {}
        old_input = old.get("input") or {}
        new_input = {k: v for k, v in old_input.items() if k not in variables}
        for v in variables:  # an untouched cell keeps its stored value (and type)
            cell = "" if _blank(row.get(v)) else str(row[v])
            if cell == _cell(old_input.get(v)):
                if v in old_input:
                    new_input[v] = old_input[v]
            elif cell:
                new_input[v] = parse_value(cell)
        if new_input != old_input:
            changes["input"] = new_input
        if expected != (old.get("expected_output") or None):
            changes["expected_output"] = expected
        old_meta = old.get("metadata") or {}
        if description != old_meta.get("description", ""):
            meta = {k: v for k, v in old_meta.items() if k != "description"}
            if description:
                meta["description"] = description
            changes["metadata"] = meta
        if changes:
            edits.updates.append((case_id, changes))
    edits.removals = [c["id"] for c in cases if c["id"] not in seen]
    return edits
