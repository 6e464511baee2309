"""One Playground try as a real registry run.

The registry renders first (a missing variable is named before anything is spent); then the
try is a one-case run on the ``studio-playground`` dataset, so it is recorded, reproducible
and listed under Runs like any other. The case is taken out of the dataset as soon as the
run has pinned its snapshot, so the dataset stays empty between tries.
"""

from __future__ import annotations

import time
from typing import Any

from .api import StudioAPI

PLAYGROUND_DATASET = "studio-playground"
WAIT_S = 120


def playground_dataset(client: StudioAPI) -> dict[str, Any]:
    for ds in client.datasets(q=PLAYGROUND_DATASET):
        if ds["name"] == PLAYGROUND_DATASET:
            return ds
    return client.create_dataset(PLAYGROUND_DATASET, "Cases tried in the studio's "
                                 "Playground; each try is a one-case run.", "evaluation")


def run_once(client: StudioAPI, target: dict[str, Any], model: str | None,
             variables: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Add the case, request the run, take the case out again (the run pinned a snapshot),
    and wait for its result."""
    ds = playground_dataset(client)
    case = client.add_cases(ds["id"], [{"input": variables,
                                        "metadata": {"source": "studio-playground"}}])[0]
    try:
        spec = dict(target, **({"model": model} if model else {}))
        run = client.start_run({"dataset_id": ds["id"], "targets": [spec],
                                "description": "studio playground"})
    finally:
        client.remove_case(ds["id"], case["id"])
    deadline = time.monotonic() + WAIT_S
    while run["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run {run['id']} did not finish within {WAIT_S} s; "
                               "see it under Runs")
        time.sleep(0.2)
        run = client.run(run["id"])
    items = client.results(run["id"], limit=500)["items"]
    mine = [r for r in items if r["case_id"] == case["id"]]
    if not mine:
        raise TimeoutError(f"the run {run['id']} ended {run['status']} without a result"
                           + (f": {run['reason']}" if run.get("reason") else ""))
    return run, mine[0]


