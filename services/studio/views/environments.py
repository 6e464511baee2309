"""A prompt's environments as a table: where each points, its weighted split, who set it."""

from __future__ import annotations

from typing import Any

from services.studio.views.timeline import split_text


def environment_rows(environments: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per environment (``GET /prompts/{id}/environments``' ``environments``):
    its version (what requests without a stickiness key get), its split as
    ``v3 90% · v4 10%`` with where the key comes from, and what set it."""
    rows = []
    for name, env in environments.items():
        split = env.get("split")
        set_by = env.get("set_by") or {}
        rows.append({
            "environment": name,
            "version": f"v{env['version']}" if env.get("version") is not None else "—",
            "split": split_text(split["variants"]) if split else "",
            "sticky by": split["sticky_by"] if split else "",
            "split by": (split.get("started_by") or "") if split else "",
            "set by": set_by.get("actor") or "",
            "reason": (split or {}).get("reason") or set_by.get("reason") or "",
        })
    return rows
