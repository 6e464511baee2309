"""Record a ``harness eval`` (or a promptfoo results file) in the registry: prompts and
versions, a dataset of the config's tests, and a completed run with its results, so it
shows up in comparisons and trends."""

from __future__ import annotations

from typing import Any

import httpx

from harness.evaluation.models import CaseResult, TestCaseSnapshot
from harness.llm.options import allowed_options


class RecordError(Exception):
    pass


def _ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise RecordError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")
    return r.json()


def _find_by_name(client: httpx.Client, path: str, name: str) -> dict | None:
    for item in _ok(client.get(path, params={"q": name, "limit": 500}))["items"]:
        if item["name"].lower() == name.lower():
            return item
    return None


def ensure_prompt_version(client: httpx.Client, name: str, content: Any, note: str
                          ) -> tuple[str, int]:
    """The prompt called ``name`` with ``content`` as a version: reuse the version that has
    this content, else add one (not activated: recording never changes production)."""
    prompt = _find_by_name(client, "/prompts", name)
    if prompt is None:
        created = _ok(client.post("/prompts", json={"name": name, "content": content,
                                                     "change_note": note}))
        return created["id"], 1
    # lists carry no content: read the versions themselves, newest first (the likeliest)
    for number in range(prompt["latest_version"], 0, -1):
        v = _ok(client.get(f"/prompts/{prompt['id']}/versions/{number}"))
        if v["content"] == content:
            return prompt["id"], number
    added = _ok(client.post(f"/prompts/{prompt['id']}/versions",
                            json={"content": content, "change_note": note}))
    return prompt["id"], added["version"]


def _case_body(case: TestCaseSnapshot) -> dict[str, Any]:
    return {"input": case.input, "expected_output": case.expected_output,
            "metadata": case.metadata, "assert": case.assert_, "threshold": case.threshold}


def ensure_dataset(client: httpx.Client, name: str, cases: list[TestCaseSnapshot]
                   ) -> tuple[str, dict[str, str]]:
    """A dataset holding exactly these cases (reused when one already does); returns its
    id and a map from the plan's case ids to the dataset's."""
    wanted = [_case_body(c) for c in cases]
    candidate, suffix = name, 1
    while True:
        ds = _find_by_name(client, "/datasets", candidate)
        if ds is None:
            ds = _ok(client.post("/datasets", json={
                "name": candidate, "description": "recorded from a promptfoo config"}))
            added = []
            for i in range(0, len(wanted), 1000):
                added += _ok(client.post(f"/datasets/{ds['id']}/cases",
                                         json={"cases": wanted[i:i + 1000]}))["items"]
            return ds["id"], {c.id: a["id"] for c, a in zip(cases, added, strict=True)}
        if ds["case_count"] == len(wanted):
            existing = []
            while len(existing) < ds["case_count"]:
                page = _ok(client.get(f"/datasets/{ds['id']}/cases",
                                      params={"limit": 500, "offset": len(existing)}))
                existing += page["items"]
            same = all(
                {**_case_body(TestCaseSnapshot.model_validate(e))} == w
                for e, w in zip(existing, wanted, strict=True))
            if same:
                return ds["id"], {c.id: e["id"] for c, e in zip(cases, existing, strict=True)}
        suffix += 1
        candidate = f"{name} ({suffix})"


def record(client: httpx.Client, *, name: str, targets: list, cases: list[TestCaseSnapshot],
           results: list[CaseResult], repeat: int = 1, source: str = "promptfoo",
           description: str = "") -> dict:
    """Create or reuse prompts, versions and the dataset, then import the run."""
    pinned = []
    for t in targets:
        prompt_name = t.prompt_name or t.label.split(" · ")[0]
        prompt_id, version = ensure_prompt_version(client, prompt_name, t.content,
                                                   f"recorded from {source}")
        # the provider's endpoint and key stay on this machine: a run stores LLM options
        pinned.append(t.model_copy(update={"prompt_id": prompt_id, "prompt_name": prompt_name,
                                           "prompt_version": version,
                                           "params": allowed_options(t.params)}))
    dataset_id, case_map = ensure_dataset(client, name, cases)
    mapped = [r.model_copy(update={"case_id": case_map[r.case_id]}).model_dump(mode="json")
              for r in results]
    return _ok(client.post("/runs/import", json={
        "dataset_id": dataset_id, "targets": [t.model_dump(mode="json") for t in pinned],
        "results": mapped, "repeat": repeat, "source": source, "description": description}))
