"""Choosing what a run evaluates: prompt versions and applications × models."""

from __future__ import annotations

from typing import Any


def version_options(prompt: dict[str, Any], versions: list[dict[str, Any]]
                    ) -> dict[str, dict[str, Any]]:
    """``label → target spec`` for each version of a prompt (newest first)."""
    out = {}
    for v in sorted(versions, key=lambda v: -v["version"]):
        mark = " (active)" if v.get("is_active") else ""
        note = f" — {v['change_note']}" if v.get("change_note") else ""
        out[f"{prompt['name']} v{v['version']}{mark}{note}"] = {
            "prompt_id": prompt["id"], "version": v["version"]}
    return out


def application_options(apps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"app {a['name']} ({a.get('model_id') or 'its version config model'})":
            {"application_id": a["id"]} for a in apps}


def parse_models(text: str) -> list[str]:
    """``"echo, openai/gpt-4o-mini"`` → both, in order, without duplicates or blanks."""
    out: list[str] = []
    for part in text.replace("\n", ",").split(","):
        m = part.strip()
        if m and m not in out:
            out.append(m)
    return out


def run_body(dataset_id: str, targets: list[dict[str, Any]], models: list[str], *,
             repeat: int = 1, min_pass_rate: float | None = None,
             description: str = "") -> dict[str, Any]:
    """The POST /runs body; ``ValueError`` names what is missing."""
    if not dataset_id:
        raise ValueError("Choose a dataset.")
    if not targets:
        raise ValueError("Choose at least one prompt version or application.")
    # no models: each prompt version runs on its config's model (the registry names a
    # version that has none)
    body: dict[str, Any] = {"dataset_id": dataset_id, "targets": targets, "models": models,
                            "repeat": repeat, "description": description}
    if min_pass_rate is not None:
        body["min_pass_rate"] = min_pass_rate
    return body
