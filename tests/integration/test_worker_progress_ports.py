"""The contracts of the ports through which workers read what the registry has recorded,
run against both adapters of each: the local one over the registry's read models (real
PostgreSQL, the same process) and the remote one over the registry's REST API (served by
uvicorn on loopback), on the same recorded state.

- ``RunProgress`` (runner): ``LocalRunProgress`` / ``RegistryRunProgress``
- ``ScoringSource`` (scorer): ``LocalScoringSource`` / ``RegistryScoringSource``
- ``GenerationProgress`` (generator): ``LocalGenerationProgress`` /
  ``RegistryGenerationProgress``

Each contract is a base class of tests; each adapter's test class subclasses it and
supplies the adapter. ``resumes`` says whether an adapter lists unfinished work after a
restart: the local stack resumes it; a service over Pub/Sub does not (the unacked message
is delivered again), and answers an empty list.
"""

from __future__ import annotations

import pytest

from harness.evaluation.models import CaseResult
from services.generator.local import LocalGenerationProgress
from services.generator.ports import Recorded
from services.generator.remote import RegistryGenerationProgress
from services.runner.local import LocalRunProgress
from services.runner.remote import RegistryRunProgress
from services.scorer.local import LocalScoringSource
from services.scorer.ports import ScoringJob
from services.scorer.remote import RegistryScoringSource
from tests.support.worker_ports import (
    METRICS,
    complete_run,
    record_batches,
    record_scores,
    request_generation,
    request_run,
    start_run,
)


@pytest.fixture(autouse=True)
def _judge_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # runs name an openai/ judge


def _by_key(results: list[CaseResult]) -> dict[tuple[str, str, int], CaseResult]:
    out = {(r.case_id, r.target_id, r.repeat): r for r in results}
    assert len(out) == len(results), "a result listed twice"
    return out


# ---- RunProgress (runner) -----------------------------------------------------------------


class RunProgressContract:
    resumes: bool

    @pytest.fixture
    def progress(self):
        raise NotImplementedError  # each adapter's class supplies it

    async def test_status_follows_the_run_and_an_unknown_run_has_none(
            self, progress, runtime, client):
        run = await request_run(client, "status")
        assert await progress.status(run.id) == "queued"
        await start_run(runtime, run, run.keys[:1])
        assert await progress.status(run.id) == "running"
        await complete_run(runtime, run)
        assert await progress.status(run.id) == "completed"
        assert await progress.status("no-such-run") is None

    async def test_recorded_keys_and_results_are_what_was_recorded(
            self, progress, runtime, client):
        run = await request_run(client, "recorded")
        assert await progress.recorded_keys(run.id) == set()
        assert await progress.results(run.id) == []
        done = run.keys[:3]
        await start_run(runtime, run, done)
        assert await progress.recorded_keys(run.id) == set(done)
        got = _by_key([CaseResult.model_validate(r) for r in await progress.results(run.id)])
        assert got == {k: run.results[k] for k in done}

    async def test_a_shard_reads_only_its_own_recorded_keys(self, progress, runtime, client):
        run = await request_run(client, "shards", cases=3, targets=2, repeat=2)  # 12 items
        first, second, unsharded = run.keys[:4], run.keys[4:8], run.keys[8:9]
        await start_run(runtime, run, first, shard=0)
        await start_run(runtime, run, second, shard=1)
        await start_run(runtime, run, unsharded)  # recorded before runs had shards
        assert await progress.recorded_keys(run.id, 0) == set(first + unsharded)
        assert await progress.recorded_keys(run.id, 1) == set(second + unsharded)
        assert await progress.recorded_keys(run.id, 2) == set(unsharded)
        assert await progress.recorded_keys(run.id) == set(first + second + unsharded)

    async def test_every_result_of_a_run_larger_than_a_page(self, progress, runtime, client):
        run = await request_run(client, "large", cases=3, targets=2, repeat=100)
        await start_run(runtime, run, run.keys)  # 600 results: the API pages by 500
        got = _by_key([CaseResult.model_validate(r) for r in await progress.results(run.id)])
        assert got == run.results and len(got) == 600
        assert await progress.recorded_keys(run.id) == set(run.keys)

    async def test_unfinished_runs_after_a_restart(self, progress, runtime, client):
        queued = await request_run(client, "queued")
        running = await request_run(client, "running")
        finished = await request_run(client, "finished")
        await start_run(runtime, running, running.keys[:1])
        await start_run(runtime, finished, finished.keys)
        await complete_run(runtime, finished)
        want = [queued.id, running.id] if self.resumes else []  # oldest first
        assert await progress.unfinished_runs() == want


class TestLocalRunProgress(RunProgressContract):
    resumes = True

    @pytest.fixture
    def progress(self, runtime):
        return LocalRunProgress(runtime.pool)


class TestRegistryRunProgress(RunProgressContract):
    resumes = False

    @pytest.fixture
    async def progress(self, live_url):
        progress = RegistryRunProgress(live_url)
        yield progress
        await progress.close()


# ---- ScoringSource (scorer) ---------------------------------------------------------------


class ScoringSourceContract:
    resumes: bool

    @pytest.fixture
    def source(self):
        raise NotImplementedError

    async def test_the_job_is_the_runs_scoring_configuration(self, source, runtime, client):
        run = await request_run(client, "job", metrics=["BLEU", "exact_match", "bleu"])
        job = await source.job(run.id)
        assert job == ScoringJob(
            run_id=run.id, status="queued", metrics=METRICS, judge_model="openai/judge",
            judge_params={"temperature": 0}, embedding_model=None,
            snapshot_uri=run.body["snapshot_uri"], snapshot_sha256=run.body["snapshot_sha256"],
            expected_results=4, trace_context=run.body["config"]["trace_context"])
        assert job.trace_context and len(job.trace_context["trace_id"]) == 32  # the run's span
        await start_run(runtime, run, run.keys)
        await complete_run(runtime, run)
        assert (await source.job(run.id)).status == "completed"
        assert await source.job("no-such-run") is None

    async def test_results_carry_the_recorded_scores_and_only_those(
            self, source, runtime, client):
        run = await request_run(client, "scores", metrics=METRICS)
        # a score inside a result (as an import could hold) is never taken for recorded
        forged = {"bleu": {"status": "ok", "value": 0.99}}
        await start_run(runtime, run, run.keys, scores=forged)
        await complete_run(runtime, run)
        first, second = run.keys[0], run.keys[1]
        await record_scores(runtime, run, {(first, "bleu"): 0.25, (first, "exact_match"): 1.0,
                                           (second, "exact_match"): 0.0})
        got = _by_key(await source.results(run.id))
        assert set(got) == set(run.keys)
        scores = {k: {m: (s.status, s.value) for m, s in r.scores.items()}
                  for k, r in got.items()}
        assert scores == {**{k: {} for k in run.keys},
                          first: {"bleu": ("ok", 0.25), "exact_match": ("ok", 1.0)},
                          second: {"exact_match": ("ok", 0.0)}}
        # the rest of each result is as the runner recorded it
        assert {k: r.model_copy(update={"scores": {}}) for k, r in got.items()} == {
            k: r.model_copy(update={"scores": {}}) for k, r in run.results.items()}

    async def test_unscored_runs_after_a_restart(self, source, runtime, client):
        partly = await request_run(client, "partly", metrics=["bleu"])
        fully = await request_run(client, "fully", metrics=["bleu"])
        running = await request_run(client, "running", metrics=["bleu"])
        for run in (partly, fully):
            await start_run(runtime, run, run.keys)
            await complete_run(runtime, run)
        await start_run(runtime, running, running.keys[:1])
        await record_scores(runtime, partly, {(partly.keys[0], "bleu"): 0.5})
        await record_scores(runtime, fully, {(k, "bleu"): 0.5 for k in fully.keys})
        assert await source.unscored_runs() == ([partly.id] if self.resumes else [])


class TestLocalScoringSource(ScoringSourceContract):
    resumes = True

    @pytest.fixture
    def source(self, runtime):
        return LocalScoringSource(runtime.pool)


class TestRegistryScoringSource(ScoringSourceContract):
    resumes = False

    @pytest.fixture
    async def source(self, live_url):
        source = RegistryScoringSource(live_url)
        yield source
        await source.close()


# ---- GenerationProgress (generator) -------------------------------------------------------


class GenerationProgressContract:
    resumes: bool

    @pytest.fixture
    def progress(self):
        raise NotImplementedError

    async def test_recorded_follows_the_generation_batch_by_batch(
            self, progress, runtime, client):
        gid = await request_generation(client)
        assert await progress.recorded(gid) == Recorded(status="queued")
        await record_batches(runtime, client, gid, {0: (2, 0), 2: (1, 1)})
        now = await progress.recorded(gid)
        assert now == Recorded(status="running", batches=frozenset({0, 2}), generated=3,
                               failed=1)
        assert not now.finished
        await record_batches(runtime, client, gid, {1: (2, 0)}, complete=True)
        done = await progress.recorded(gid)
        assert done == Recorded(status="completed", batches=frozenset({0, 1, 2}),
                                generated=5, failed=1)
        assert done.finished
        assert await progress.recorded("no-such-generation") is None

    async def test_unfinished_generations_after_a_restart(self, progress, runtime, client):
        queued = await request_generation(client)
        running = await request_generation(client)
        finished = await request_generation(client)
        await record_batches(runtime, client, running, {0: (1, 0)})
        await record_batches(runtime, client, finished, {0: (1, 0)}, complete=True)
        assert await progress.unfinished() == ([queued, running] if self.resumes else [])


class TestLocalGenerationProgress(GenerationProgressContract):
    resumes = True

    @pytest.fixture
    def progress(self, runtime):
        return LocalGenerationProgress(runtime.pool)


class TestRegistryGenerationProgress(GenerationProgressContract):
    resumes = False

    @pytest.fixture
    async def progress(self, live_url):
        progress = RegistryGenerationProgress(live_url)
        yield progress
        await progress.close()
