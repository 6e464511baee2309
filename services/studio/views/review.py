"""Reviewing generated cases in a table: a decision per row, edits taken with an accept."""

from __future__ import annotations

import json
from typing import Any

from .badges import run_badge

DECISIONS = ("", "accept", "reject")


def _source(meta: dict[str, Any]) -> str:
    sources = meta.get("sources") or meta.get("documents") or []
    names = [str(x.get("document", x)) if isinstance(x, dict) else str(x) for x in sources]
    return ", ".join(dict.fromkeys(names))


def review_rows(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per generated case: the question (or the input), the generated answer
    (editable), its kind and source, and empty decision/note cells."""
    rows = []
    for c in cases:
        meta, inp = c.get("metadata") or {}, c.get("input") or {}
        question = inp.get("question")
        rows.append({"id": c["id"],
                     "question": question if isinstance(question, str)
                     else json.dumps(inp, ensure_ascii=False),
                     "expected_output": c.get("expected_output") or "",
                     "kind": meta.get("question_kind") or "", "source": _source(meta),
                     "decision": "", "note": ""})
    return rows


def decisions_from_rows(cases: list[dict[str, Any]],
                        rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The POST /review decisions: rows with a decision; an accepted row whose expected
    output was edited carries the edit as ``changes``."""
    by_id = {c["id"]: c for c in cases}
    out = []
    for row in rows:
        decision = (row.get("decision") or "").strip()
        case = by_id.get(row.get("id"))
        if decision not in ("accept", "reject") or case is None:
            continue
        d: dict[str, Any] = {"case_id": case["id"], "decision": decision,
                             "note": str(row.get("note") or "")}
        expected = row.get("expected_output") or None
        if decision == "accept" and expected != (case.get("expected_output") or None):
            d["changes"] = {"expected_output": expected}
        out.append(d)
    return out


ACTIVE_GENERATION = ("queued", "running")


def _documents(g: dict[str, Any]) -> str:
    return ", ".join(d.get("name", "?") for d in g.get("documents") or [])


def _why(g: dict[str, Any]) -> str:
    if g.get("status") == "cancelled":
        who = f"cancelled by {g.get('cancelled_by') or 'someone'}"
        return f"{who}: {g['reason']}" if g.get("reason") else who
    return g.get("reason") or ""


def generation_rows(generations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"requested": str(g.get("requested_at", ""))[:19],
             "status": run_badge(g.get("status")),
             "engine": g.get("engine"), "model": g.get("model") or "—",
             "generated": f"{g.get('generated', 0)} of {g.get('requested', 0)}",
             "failed": g.get("failed", 0), "documents": _documents(g), "why": _why(g)}
            for g in generations]


def cancellable(generations: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(generation id, button label) of each generation still queued or running."""
    return [(g["id"], f"Cancel the generation from {_documents(g) or 'documents'} "
                      f"({g.get('generated', 0)} of {g.get('requested', 0)} made)")
            for g in generations if g.get("status") in ACTIVE_GENERATION]


def rejected_rows(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per rejected case: what it asked and answered, and who turned it down,
    when and why."""
    return [{"question": row["question"], "expected_output": row["expected_output"],
             "note": c.get("review_note") or "", "rejected_by": c.get("reviewed_by") or "—",
             "rejected_at": str(c.get("reviewed_at") or "")[:19], "kind": row["kind"],
             "source": row["source"]}
            for c, row in zip(cases, review_rows(cases), strict=True)]
