"""What the worker-port contract tests record in a registry before asking each adapter
about it: runs and generations in every state a worker meets, made through the REST API
and the registry's ingestion of worker facts (``Commands.record_facts``), as in
production."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.evaluation.models import CaseResult
from harness.events import EventMetadata
from harness.events.base import DomainEvent
from harness.events.generation_events import (
    CasesGenerated,
    GenerationCompleted,
    GenerationStarted,
    generation_event_id,
)
from harness.events.run_events import (
    CaseResultRecorded,
    RunCompleted,
    RunStarted,
    ScoresRecorded,
    result_event_id,
    run_event_id,
    score_event_id,
)
from tests.support.runs import seed

DOCUMENT = Path(__file__).resolve().parents[1] / "data" / "generation" / "shipping.txt"
METRICS = ["bleu", "exact_match"]

Key = tuple[str, str, int]  # (case_id, target_id, repeat)


async def record(runtime, stream_id: str, facts: list[tuple[DomainEvent, uuid.UUID]],
                 actor: str = "runner") -> None:
    """Ingest ``facts`` as the registry ingests a worker's (one batch)."""
    await runtime.commands.record_facts(stream_id, [e for e, _ in facts],
                                        [i for _, i in facts], EventMetadata(actor=actor))


def result_of(run_id: str, key: Key, **extra: Any) -> CaseResult:
    case_id, target_id, repeat = key
    return CaseResult(run_id=run_id, case_id=case_id, target_id=target_id, repeat=repeat,
                      status="pass", score=1.0, output=f"answer to {case_id} #{repeat}",
                      **extra)


@dataclass
class Run:
    id: str
    body: dict[str, Any]                  # the POST /runs answer
    keys: list[Key]                       # every result the run expects
    results: dict[Key, CaseResult] = field(default_factory=dict)  # recorded so far

    @property
    def stream(self) -> str:
        return f"run-{self.id}"


async def request_run(client, name: str, *, repeat: int = 2, targets: int = 1,
                      cases: int = 2, metrics: list[str] | None = None) -> Run:
    """A queued run (no runner consumes it here) of ``cases`` × ``targets`` × ``repeat``."""
    p, ds = await seed(client, name=name, versions=["{{ question }}"],
                       cases=[{"input": {"question": f"q{i}"}, "expected_output": f"a{i}"}
                              for i in range(cases)])
    r = await client.post("/runs", json={
        "dataset_id": ds["id"], "repeat": repeat, "metrics": metrics or [],
        "judge_model": "openai/judge", "judge_params": {"temperature": 0},
        "targets": [{"prompt_id": p["id"], "model": "echo"}] * targets})
    assert r.status_code == 202, r.text
    body = r.json()
    case_ids = [c["id"] for c in (await client.get(f"/datasets/{ds['id']}/cases")).json()
                ["items"]]
    keys = [(c, f"t{t}", rep) for c in case_ids for t in range(targets) for rep in range(repeat)]
    return Run(body["id"], body, keys)


async def start_run(runtime, run: Run, keys: list[Key], *, shard: int | None = None,
                    **result_extra: Any) -> None:
    """The runner started ``run`` and recorded the results of ``keys`` (as ``shard``'s)."""
    facts: list[tuple[DomainEvent, uuid.UUID]] = [
        (RunStarted(run_id=run.id, worker="contract"), run_event_id(run.id, "started"))]
    for key in keys:
        result = run.results[key] = result_of(run.id, key, **result_extra)
        facts.append((CaseResultRecorded(run_id=run.id, shard=shard,
                                         result=result.model_dump(mode="json")),
                      result_event_id(run.id, *key)))
    await record(runtime, run.stream, facts)


async def complete_run(runtime, run: Run) -> None:
    await record(runtime, run.stream, [(RunCompleted(run_id=run.id, summary={}),
                                        run_event_id(run.id, "completed"))])


async def record_scores(runtime, run: Run, scores: dict[tuple[Key, str], float]) -> None:
    """The scorer recorded ``{(result key, metric): value}``."""
    await record(runtime, run.stream, [
        (ScoresRecorded(run_id=run.id, case_id=k[0], target_id=k[1], repeat=k[2], metric=m,
                        status="ok", value=v), score_event_id(run.id, *k, m))
        for (k, m), v in scores.items()], actor="scorer")


# ---- generations -----------------------------------------------------------------------


async def request_generation(client, num_questions: int = 6) -> str:
    """A queued generation (no generator consumes it here) of a new dataset."""
    ds = (await client.post("/datasets", json={"name": f"docs-{uuid.uuid4().hex[:8]}"})).json()
    r = await client.post(
        f"/datasets/{ds['id']}/generate",
        data={"num_questions": str(num_questions), "question_kinds": "simple",
              "model": "openai/writer"},
        files=[("files", (DOCUMENT.name, DOCUMENT.read_bytes(), "text/plain"))])
    assert r.status_code == 202, r.text
    return r.json()["id"]


def generated_case(generation_id: str, n: int) -> dict[str, Any]:
    return {"id": f"gen-{generation_id}-{n}", "input": {"question": f"q{n}?"},
            "expected_output": f"a{n}", "metadata": {"synthetic": True}, "assert": [],
            "threshold": None}


async def record_batches(runtime, client, generation_id: str,
                         batches: dict[int, tuple[int, int]], *, complete: bool = False
                         ) -> None:
    """The generator started and recorded ``{batch: (cases made, questions failed)}``."""
    dataset_id = (await client.get(f"/generations/{generation_id}")).json()["dataset_id"]
    facts: list[tuple[DomainEvent, uuid.UUID]] = [
        (GenerationStarted(generation_id=generation_id, worker="contract", planned=6),
         generation_event_id(generation_id, "started"))]
    made = failed = 0
    for batch, (cases, errors) in batches.items():
        facts.append((CasesGenerated(
            generation_id=generation_id, dataset_id=dataset_id, batch=batch,
            cases=[generated_case(generation_id, batch * 10 + i) for i in range(cases)],
            errors=[{"item": batch * 10 + cases + i, "kind": "simple", "documents": [],
                     "message": "no"} for i in range(errors)]),
            generation_event_id(generation_id, f"batch:{batch}")))
        made, failed = made + cases, failed + errors
    if complete:
        facts.append((GenerationCompleted(generation_id=generation_id, generated=made,
                                          failed=failed),
                      generation_event_id(generation_id, "completed")))
    await record(runtime, f"generation-{generation_id}", facts, actor="generator")
