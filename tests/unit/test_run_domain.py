"""Pure decisions of the run aggregate: request, import, cancellation and the lifecycle."""

from __future__ import annotations

import pytest

from harness.evaluation.models import CaseResult, Target
from harness.events.run_events import (
    CaseResultRecorded,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunRequested,
    RunStarted,
    result_event_id,
    run_event_id,
)
from services.registry.domain import runs
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound

DATASET = runs.DatasetFacts(dataset_id="d", name="support", case_count=2,
                            default_assert=[{"type": "contains", "value": "hi"}])
SNAPSHOT = runs.Snapshot(uri="mem://snapshots/abc.jsonl", sha256="abc", case_count=2)
PROMPT = runs.TargetSource(prompt_id="p", prompt_name="reply", version=2, content="Hi {{x}}")
APP = runs.TargetSource(prompt_id="p", prompt_name="reply", version=3, content="Hey",
                        application_id="a", application_name="support-bot", model="echo",
                        params={"temperature": 0.2, "max_tokens": 64},
                        fallback_models=["echo-2"])


def target(**overrides) -> Target:
    fields = dict(target_id="", label="reply v2 · echo", prompt_id="p", prompt_name="reply",
                  prompt_version=2, content="Hi {{x}}", model="echo")
    return Target(**{**fields, **overrides})


def request(**overrides) -> runs.RequestRun:
    fields = dict(run_id="r", dataset=DATASET, snapshot=SNAPSHOT,
                  targets=(target(), target(model="echo-2")))
    return runs.RequestRun(**{**fields, **overrides})


def at(status: str | None) -> runs.RunState:
    return runs.RunState(run_id="r", status=status)


# ---- request ---------------------------------------------------------------------------


def test_a_request_pins_targets_numbered_in_order_and_adds_the_dataset_assertions():
    [event, *_shards] = runs.decide(request(assert_=[{"type": "is-json"}], metrics=["bleu"],
                                  source="gate"), runs.RunState())
    assert isinstance(event, RunRequested)
    assert [t["target_id"] for t in event.targets] == ["t0", "t1"]
    assert [t["model"] for t in event.targets] == ["echo", "echo-2"]
    assert event.default_assert == [{"type": "contains", "value": "hi"}, {"type": "is-json"}]
    assert (event.snapshot_uri, event.snapshot_sha256, event.case_count) == (
        "mem://snapshots/abc.jsonl", "abc", 2)
    assert (event.dataset_id, event.dataset_name) == ("d", "support")
    assert event.metrics == ["bleu"] and event.source == "gate"


def test_a_run_is_requested_once():
    with pytest.raises(AlreadyExists):
        runs.decide(request(), at("queued"))


@pytest.mark.parametrize("overrides, field", [
    ({"dataset": runs.DatasetFacts(dataset_id="d", name="empty")}, "dataset_id"),
    ({"dataset": runs.DatasetFacts(dataset_id="d", name="g", dataset_type="golden",
                                   case_count=3), "min_pass_rate": 0.9}, "min_pass_rate"),
    ({"assert_": [{"type": "no-such-assertion"}]}, "assert"),
    ({"judge_params": {"api_key": "sk-1"}}, "judge_params.api_key"),
    ({"targets": (target(params={"api_base": "http://x"}),)}, "targets.0.params.api_base"),
])
def test_a_request_is_refused_naming_the_field(overrides, field):
    with pytest.raises(Invalid) as e:
        runs.decide(request(**overrides), runs.RunState())
    assert e.value.extra["field"] == field


def test_an_unverified_golden_dataset_runs_but_cannot_gate():
    golden = runs.DatasetFacts(dataset_id="d", name="g", dataset_type="golden", case_count=3)
    [event, *_shards] = runs.decide(request(dataset=golden), runs.RunState())
    assert event.min_pass_rate is None
    verified = runs.DatasetFacts(dataset_id="d", name="g", dataset_type="golden", case_count=3,
                                 is_verified=True)
    [event, *_shards] = runs.decide(request(dataset=verified, min_pass_rate=0.9), runs.RunState())
    assert event.min_pass_rate == 0.9


# ---- targets ----------------------------------------------------------------------------


@pytest.mark.parametrize("prompt_id, application_id", [(None, None), ("p", "a")])
def test_a_target_names_a_prompt_or_an_application(prompt_id, application_id):
    with pytest.raises(Invalid) as e:
        runs.check_target_names("targets.1", prompt_id, application_id)
    assert e.value.extra["field"] == "targets.1"
    runs.check_target_names("targets.1", "p", None)
    runs.check_target_names("targets.1", None, "a")


def test_a_prompt_target_runs_on_each_of_the_requests_models():
    made = runs.targets_for("targets.0", PROMPT, models=["m1", "m2"], params={"seed": 1})
    assert [(t.model, t.label, t.params) for t in made] == [
        ("m1", "reply v2 · m1", {"seed": 1}), ("m2", "reply v2 · m2", {"seed": 1})]
    assert made[0].prompt_version == 2 and made[0].application_id is None


def test_an_application_target_takes_its_model_and_options_unless_overridden():
    [t] = runs.targets_for("targets.0", APP, models=["ignored"])
    assert (t.model, t.label, t.fallback_models) == ("echo", "support-bot · echo", ["echo-2"])
    assert t.params == {"temperature": 0.2, "max_tokens": 64}
    assert (t.application_id, t.application_name, t.prompt_version) == ("a", "support-bot", 3)
    [t] = runs.targets_for("targets.0", APP, models=[], model="other", label="mine",
                           params={"temperature": 0.9}, fallback_models=[])
    assert (t.model, t.label, t.fallback_models) == ("other", "mine", [])
    assert t.params == {"temperature": 0.9, "max_tokens": 64}


def test_a_target_without_any_model_is_refused():
    with pytest.raises(Invalid) as e:
        runs.targets_for("targets.2", PROMPT, models=[])
    assert e.value.extra["field"] == "targets.2.model"


def test_a_target_with_an_endpoint_or_credential_option_is_refused():
    with pytest.raises(Invalid) as e:
        runs.targets_for("targets.0", PROMPT, models=["m"], params={"api_key": "sk"})
    assert e.value.extra["field"] == "targets.0.params.api_key"


# ---- import -----------------------------------------------------------------------------


def result(case_id="c1", target_id="t0", repeat=0, status="pass") -> CaseResult:
    return CaseResult(run_id="elsewhere", case_id=case_id, target_id=target_id, repeat=repeat,
                      status=status, score=1.0 if status == "pass" else 0.0)


def imported(**overrides) -> runs.ImportRun:
    fields = dict(run_id="r", dataset=DATASET, snapshot=SNAPSHOT,
                  case_ids=frozenset({"c1", "c2"}), targets=(target(target_id="t0"),),
                  results=(result("c1"), result("c2", status="fail")), source="cli")
    return runs.ImportRun(**{**fields, **overrides})


def test_an_import_is_requested_recorded_and_completed_with_its_summary():
    events = runs.decide(imported(), runs.RunState())
    assert [type(e) for e in events] == [RunRequested, CaseResultRecorded, CaseResultRecorded,
                                        RunCompleted]
    assert events[0].source == "cli" and events[0].targets[0]["target_id"] == "t0"
    assert all(e.result["run_id"] == "r" for e in events[1:3])
    assert events[3].summary["total"]["case_pass_rate"] == 0.5
    assert runs.fact_ids(events) == [None, result_event_id("r", "c1", "t0", 0),
                                     result_event_id("r", "c2", "t0", 0),
                                     run_event_id("r", "completed")]


@pytest.mark.parametrize("overrides, field", [
    ({"results": (result("c9"),)}, "results.0.case_id"),
    ({"results": (result("c1"), result("c2", target_id="t7"))}, "results.1.target_id"),
    ({"targets": (target(target_id="t0", params={"api_base": "x"}),)},
     "targets.0.params.api_base"),
])
def test_an_import_is_refused_naming_the_field(overrides, field):
    with pytest.raises(Invalid) as e:
        runs.decide(imported(**overrides), runs.RunState())
    assert e.value.extra["field"] == field


def test_a_run_is_imported_once():
    with pytest.raises(AlreadyExists):
        runs.decide(imported(), at("completed"))


# ---- cancellation and lifecycle ---------------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "running"])
def test_a_queued_or_running_run_is_cancelled(status):
    [event, *_shards] = runs.decide(runs.CancelRun("r", "wrong model"), at(status))
    assert isinstance(event, RunCancelled) and event.reason == "wrong model"


@pytest.mark.parametrize("status", ["completed", "cancelled", "failed"])
def test_a_finished_run_is_not_cancelled(status):
    with pytest.raises(runs.RunFinished) as e:
        runs.decide(runs.CancelRun("r"), at(status))
    assert str(e.value) == f"run r is already {status}"


def test_an_unknown_run_is_not_cancelled():
    with pytest.raises(NotFound):
        runs.decide(runs.CancelRun("r"), runs.RunState())


def fold(*events) -> runs.RunState:
    state = runs.RunState()
    for e in events:
        state = runs.evolve(state, e)
    return state


def test_the_lifecycle_and_the_first_ending_counts():
    [requested, *_shards] = runs.decide(request(), runs.RunState())
    assert fold(requested) == at("queued")
    assert fold(requested, RunStarted(run_id="r")) == at("running")
    first_result = CaseResultRecorded(run_id="r", result=result().model_dump())
    assert fold(requested, first_result) == at("running")
    done = RunCompleted(run_id="r", summary={})
    assert fold(requested, RunStarted(run_id="r"), done) == at("completed")
    assert fold(requested, done, RunCancelled(run_id="r")) == at("completed")
    assert fold(requested, RunFailed(run_id="r", error="x"), done) == at("failed")
    assert fold(requested, RunCancelled(run_id="r"), RunStarted(run_id="r")) == at("cancelled")
    assert set(runs.LIFECYCLE) == {"RunRequested", "RunStarted", "RunCompleted", "RunCancelled",
                                   "RunFailed"}


# ---- shards and completion ---------------------------------------------------------------


def test_a_request_is_followed_by_its_shards_covering_every_item_once():
    requested, *shards = runs.decide(request(shard_items=3), runs.RunState())
    # 2 cases × 2 targets × 1 repeat = 4 items, at most 3 a shard: two shards of 2
    assert requested.shards == 2 == len(shards)
    assert [(s.shard, s.start, s.stop, s.shards) for s in shards] == [(0, 0, 2, 2),
                                                                      (1, 2, 4, 2)]
    assert all(RunRequested.model_validate(s.request) == requested for s in shards)
    again = runs.decide(request(shard_items=3), runs.RunState())[1:]
    assert [s.shard_id for s in again] == [s.shard_id for s in shards]
    assert len({s.shard_id for s in shards}) == 2


def test_a_small_run_is_one_shard():
    requested, *shards = runs.decide(request(), runs.RunState())
    assert requested.shards == 1 and [(s.start, s.stop) for s in shards] == [(0, 4)]


def tally(status="running", recorded=4, expected=4) -> runs.RunTally:
    return runs.RunTally("r", status, recorded, expected)


def test_a_run_completes_when_every_item_is_recorded_and_only_while_active():
    results = [result(case_id=c, target_id=t) for c in ("c1", "c2") for t in ("t0", "t1")]
    targets = [target(target_id="t0"), target(target_id="t1", model="echo-2")]
    done = runs.completion(tally(), results, targets)
    assert isinstance(done, RunCompleted) and done.run_id == "r"
    assert done.summary["total"]["passed"] == 4 and done.summary["verdict"] == "pass"
    assert runs.completion(tally(recorded=3), results[:3], targets) is None
    for ended in ("completed", "cancelled", "failed"):
        assert runs.completion(tally(status=ended), results, targets) is None
    assert runs.completion_id("r") == run_event_id("r", "completed")


def test_scoring_shards_one_per_runner_shard_when_metrics_and_several_shards():
    made = runs.scoring_shards("r1", ["exact_match"], {2: 3, 0: 5, 1: 5})
    assert [(e.shard, e.shards, e.results) for e, _ in made] == [(0, 3, 5), (1, 3, 5),
                                                                 (2, 3, 3)]
    ids = [i for _, i in made]
    assert len(set(ids)) == 3  # deterministic and distinct: a redelivery records none again
    assert ids == [i for _, i in runs.scoring_shards("r1", ["exact_match"], {0: 5, 1: 5, 2: 3})]
    assert ids != [i for _, i in runs.scoring_shards("r2", ["exact_match"], {0: 5, 1: 5, 2: 3})]


def test_no_scoring_shards_without_metrics_one_shard_or_a_result_without_a_shard():
    assert runs.scoring_shards("r1", [], {0: 5, 1: 5}) == []
    assert runs.scoring_shards("r1", ["exact_match"], {0: 10}) == []
    # a result recorded without a shard (an older runner): the whole run is scored at once
    assert runs.scoring_shards("r1", ["exact_match"], {0: 5, None: 1, 1: 4}) == []
