"""Online evaluators, decided without I/O; sampling is deterministic by trace id."""

from __future__ import annotations

import uuid

import pytest

from harness.evaluation.online import (
    matches,
    sample_event_id,
    sampled,
    score_event_id,
    selects,
)
from services.registry.domain import evaluators as domain
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound

RUBRIC = {"type": "llm-rubric", "value": "is polite"}


def _created(**kw) -> domain.EvaluatorState:
    d = domain.Definition(name="polite", assertion=RUBRIC, sampling_rate=0.5, **kw)
    return domain.EvaluatorState(evaluator_id="e1", definition=d)


def test_create_checks_and_tidies_the_definition():
    [ev] = domain.decide(domain.CreateEvaluator("e1", domain.Definition(
        name=" polite ", assertion=RUBRIC, traffic={"application": " support "},
        sampling_rate=1, judge_model="openai/j")), domain.EvaluatorState())
    assert ev.name == "polite" and ev.traffic == {"application": "support"}
    assert ev.sampling_rate == 1.0 and ev.judge_model == "openai/j"
    [ev] = domain.decide(domain.CreateEvaluator("e2", domain.Definition(
        name="rel", metric="response_relevancy")), domain.EvaluatorState())
    assert ev.metric == "answer_relevancy" and ev.assertion is None


@pytest.mark.parametrize(("definition", "field"), [
    (domain.Definition(name="x y", assertion=RUBRIC), "name"),
    (domain.Definition(name="x"), "assertion"),
    (domain.Definition(name="x", assertion=RUBRIC, metric="bleu"), "assertion"),
    (domain.Definition(name="x", assertion={"type": "no-such"}), "assertion"),
    (domain.Definition(name="x", metric="nope"), "metric"),
    (domain.Definition(name="x", metric="bleu"), "metric"),  # needs a reference
    (domain.Definition(name="x", assertion=RUBRIC, sampling_rate=1.5), "sampling_rate"),
    (domain.Definition(name="x", assertion=RUBRIC, traffic={"colour": "red"}),
     "traffic.colour"),
])
def test_create_refuses_naming_the_field(definition, field):
    with pytest.raises(Invalid) as exc:
        domain.decide(domain.CreateEvaluator("e1", definition), domain.EvaluatorState())
    assert exc.value.extra["field"] == field


def test_create_twice_and_change_unknown_are_refused():
    with pytest.raises(AlreadyExists):
        domain.decide(domain.CreateEvaluator("e1", domain.Definition(
            name="x", assertion=RUBRIC)), _created())
    with pytest.raises(NotFound):
        domain.decide(domain.ChangeEvaluator({"sampling_rate": 0.2}), domain.EvaluatorState())


def test_change_pause_and_resume():
    [ev] = domain.decide(domain.ChangeEvaluator({"sampling_rate": 0.2}), _created())
    assert type(ev).__name__ == "EvaluatorChanged" and ev.sampling_rate == 0.2
    assert ev.assertion == RUBRIC
    [ev] = domain.decide(domain.ChangeEvaluator({"metric": "answer_relevancy"}), _created())
    assert ev.assertion is None and ev.metric == "answer_relevancy"
    assert domain.decide(domain.ChangeEvaluator({"sampling_rate": 0.5}), _created()) == []
    [ev] = domain.decide(domain.ChangeEvaluator({}, status="paused"), _created())
    assert type(ev).__name__ == "EvaluatorPaused"
    paused = domain.EvaluatorState("e1", _created().definition, status="paused")
    assert domain.decide(domain.ChangeEvaluator({}, status="paused"), paused) == []
    [ev] = domain.decide(domain.ChangeEvaluator({}, status="active"), paused)
    assert type(ev).__name__ == "EvaluatorResumed"
    with pytest.raises(Invalid):
        domain.decide(domain.ChangeEvaluator({"sampling_rate": -1}), _created())


def test_sampling_is_deterministic_and_near_the_rate():
    ids = [uuid.UUID(int=i * 7919 + 1) for i in range(10_000)]
    picked = [sampled("e1", t, 0.1) for t in ids]
    assert abs(sum(picked) / len(ids) - 0.1) <= 0.01
    assert picked == [sampled("e1", t, 0.1) for t in ids]
    assert all(sampled("e1", t, 1.0) for t in ids[:100])
    assert not any(sampled("e1", t, 0.0) for t in ids[:100])
    assert [sampled("e2", t, 0.1) for t in ids] != picked  # evaluators sample independently


def test_traffic_matches_every_field_given_and_score_ids_are_stable():
    row = {"application": "support", "prompt_id": "p1", "model_requested": "app/support",
           "model_answered": "openai/a", "key_id": uuid.UUID(int=5), "key_name": "web",
           "source": "gateway"}
    assert matches({}, row)
    assert matches({"application": "support", "model": "openai/a", "key": "web"}, row)
    assert matches({"key": str(uuid.UUID(int=5))}, row)
    assert not matches({"application": "support", "source": "runner"}, row)
    assert score_event_id("e1", "t1") == score_event_id("e1", "t1") != score_event_id("e2", "t1")


def test_the_sampler_picks_traffic_and_sample_and_its_event_ids_are_stable():
    row = {"id": str(uuid.UUID(int=3)), "application": "support", "source": "gateway",
           "model_requested": "openai/a"}
    assert selects("e1", {"application": "support"}, 1.0, row)
    assert not selects("e1", {"application": "other"}, 1.0, row)
    assert not selects("e1", {"application": "support"}, 0.0, row)
    assert selects("e1", {}, 0.5, row) == sampled("e1", row["id"], 0.5)
    assert sample_event_id("e1", "t1") == sample_event_id("e1", "t1")
    assert len({sample_event_id("e1", "t1"), sample_event_id("e2", "t1"),
                sample_event_id("e1", "t2"), score_event_id("e1", "t1")}) == 4
