"""Pure decisions: a generation request, the review of generated cases, promotion into
a golden dataset; and how Ragas samples are mapped onto planned questions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.events.dataset_events import CaseRemoved, CaseReviewed, CasesAdded
from harness.events.generation_events import (
    GenerationCancelled,
    GenerationCompleted,
    GenerationFailed,
    GenerationRequested,
    GenerationStarted,
)
from harness.generation.chunking import Chunk
from harness.generation.plan import PlannedQuestion
from harness.generation.ragas_engine import _assign
from services.registry.domain import datasets as ds
from services.registry.domain import generations as gen
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound
from services.registry.read.projections.generation import merge_documents, merge_usage


def request(**overrides) -> gen.RequestGeneration:
    fields = dict(generation_id="g", dataset_id="d", documents=[{"name": "a.txt"}],
                  num_questions=5, question_kinds={"simple": 1.0})
    return gen.RequestGeneration(**{**fields, **overrides})


def test_generation_request_becomes_one_event_once():
    [event] = gen.decide(request(language=" French "), gen.GenerationState())
    assert isinstance(event, GenerationRequested) and event.language == "French"
    state = gen.evolve(gen.GenerationState(), event)
    with pytest.raises(AlreadyExists):
        gen.decide(request(), state)


@pytest.mark.parametrize("overrides, field", [
    ({"documents": []}, "files"),
    ({"documents": [{"name": str(i)} for i in range(51)]}, "files"),
    ({"num_questions": 0}, "num_questions"),
    ({"num_questions": 2001}, "num_questions"),
    ({"question_kinds": {"tricky": 1.0}}, "question_kinds"),
    ({"question_kinds": {}}, "question_kinds"),
    ({"question_kinds": {"simple": 0}}, "question_kinds"),
    ({"engine": "magic"}, "engine"),
    ({"language": " "}, "language"),
    ({"chunk_size": 50}, "chunk_size"),
])
def test_generation_request_checks(overrides, field):
    with pytest.raises(Invalid) as e:
        gen.decide(request(**overrides), gen.GenerationState())
    assert e.value.extra["field"] == field


def test_a_queued_or_running_generation_is_cancelled_once_and_the_first_ending_counts():
    requested = gen.evolve(gen.GenerationState(), gen.decide(request(), gen.GenerationState())[0])
    running = gen.evolve(requested, GenerationStarted(generation_id="g", planned=5))
    for state in (requested, running):
        [event] = gen.decide(gen.CancelGeneration("g", "  wrong files "), state)
        assert event == GenerationCancelled(generation_id="g", reason="wrong files")
    cancelled = gen.evolve(running, event)
    late = gen.evolve(cancelled, GenerationCompleted(generation_id="g", generated=5))
    assert cancelled.ended == late.ended == "cancelled"  # a completion reported afterwards
    for ended, fact in (("cancelled", None), ("completed", GenerationCompleted(
            generation_id="g")), ("failed", GenerationFailed(generation_id="g", error="x"))):
        state = cancelled if fact is None else gen.evolve(running, fact)
        with pytest.raises(gen.GenerationFinished) as e:
            gen.decide(gen.CancelGeneration("g"), state)
        assert e.value.extra == {"generation_status": ended}
    with pytest.raises(NotFound):
        gen.decide(gen.CancelGeneration("g"), gen.GenerationState())


def dataset(dataset_type="evaluation", cases=None) -> ds.DatasetState:
    return ds.DatasetState(dataset_id="d", name="d", dataset_type=dataset_type,
                           cases=cases or {})


def review(*decisions) -> ds.ReviewCases:
    return ds.ReviewCases(tuple(ds.ReviewDecision(*d) for d in decisions))


def test_review_accepts_with_edits_and_rejects_by_removing():
    state = dataset(cases={"a": "pending", "b": "accepted", "c": "pending"})
    events = ds.decide(review(("a", "accept", {"expected_output": "better"}, "fixed"),
                              ("b", "reject", {}, "wrong after all")), state)
    assert events == [
        CaseReviewed(dataset_id="d", case_id="a", decision="accepted",
                     changes={"expected_output": "better"}, note="fixed"),
        CaseReviewed(dataset_id="d", case_id="b", decision="rejected", note="wrong after all"),
        CaseRemoved(dataset_id="d", case_id="b")]


@pytest.mark.parametrize("decisions, error, field", [
    ((), Invalid, "decisions"),
    ((("x", "accept"),), NotFound, None),
    ((("h", "accept"),), Invalid, "decisions.0.case_id"),
    ((("a", "accept"), ("a", "reject")), Invalid, "decisions.1.case_id"),
    ((("a", "approve"),), Invalid, "decisions.0.decision"),
    ((("a", "accept", {"id": "other"}),), Invalid, "decisions.0.changes"),
    ((("a", "reject", {"input": {}}),), Invalid, "decisions.0.changes"),
])
def test_review_refusals(decisions, error, field):
    state = dataset(cases={"a": "pending", "h": None})
    with pytest.raises(error) as e:
        ds.decide(review(*decisions), state)
    assert e.value.extra.get("field") == field


def test_promotion_copies_into_golden_once():
    reviewed = datetime(2026, 1, 2, tzinfo=UTC)
    row = {"id": "a", "input": {"question": "q", "contexts": ["p"]}, "expected_output": "x",
           "metadata": {"generation_id": "g"}, "assert": [], "threshold": None,
           "reviewed_by": "ana", "reviewed_at": reviewed}
    copy = ds.promoted_copy("gold", "eval", row)
    assert copy["id"] == ds.promoted_copy("gold", "eval", row)["id"] != "a"
    assert copy["metadata"] == {"generation_id": "g", "promoted_from": {
        "dataset_id": "eval", "case_id": "a", "reviewed_by": "ana",
        "reviewed_at": "2026-01-02T00:00:00+00:00"}}
    assert copy["input"] == row["input"] and copy["expected_output"] == "x"
    command = ds.PromoteCases("eval", (copy,))
    [event] = ds.decide(command, dataset("golden"))
    assert isinstance(event, CasesAdded) and event.source == "promotion:eval"
    assert ds.decide(command, dataset("golden", cases={copy["id"]: None})) == []
    with pytest.raises(Invalid, match="golden"):
        ds.decide(command, dataset("evaluation"))
    with pytest.raises(Invalid, match="another dataset"):
        ds.decide(ds.PromoteCases("d", (copy,)), dataset("golden"))


def test_usage_and_documents_merge():
    total = merge_usage({}, {"calls": 2, "prompt_tokens": 10, "cost_usd": 0.5})
    total = merge_usage(total, {"calls": 1, "prompt_tokens": 5, "cost_usd": 0.25})
    assert total == {"calls": 3, "prompt_tokens": 15, "cost_usd": 0.75}
    assert merge_usage(total, {"calls": 1, "cost_usd": None})["cost_usd"] is None
    docs = [{"name": "a", "kind": "text"}, {"name": "b", "kind": "pdf"}]
    assert merge_documents(docs, [{"name": "b", "error": "bad"}]) == [
        {"name": "a", "kind": "text"}, {"name": "b", "kind": "pdf", "error": "bad"}]


def test_ragas_samples_fill_planned_questions_by_kind_and_report_shortfalls():
    chunks = [Chunk("a.txt", 0, "Alpha passage."), Chunk("b.pdf", 0, "Beta passage.")]
    items = [PlannedQuestion(0, "simple", (0,)), PlannedQuestion(1, "reasoning", (1,)),
             PlannedQuestion(2, "multi_context", (0, 1)), PlannedQuestion(3, "simple", (1,))]

    def sample(kind, question, contexts):
        return {"kind": kind, "question": question, "answer": "A.", "contexts": contexts,
                "extra": {"synthesizer": kind}}

    samples = [sample("simple", "Q1", ["Alpha passage."]),
               sample("simple", "Q2", ["Beta passage."]),
               sample("simple", "Q3", ["Text Ragas rewrote."]),
               sample("reasoning", " ", ["Alpha passage."])]
    out = _assign(items, chunks, samples, {"multi_context": "no related passages"})
    assert out[0].qa.question == "Q1" and out[0].contexts == [chunks[0]]
    assert out[1].qa is None and "unusable sample" in out[1].error  # blank question
    # the surplus simple sample stands in for the missing multi-context one, saying so
    assert out[2].qa.question == "Q3" and out[2].kind == "simple"
    assert out[2].contexts[0].document == "(unknown)"
    assert out[3].qa.question == "Q2" and out[3].documents == ["b.pdf"]
    out = _assign(items[2:3], chunks, [], {"multi_context": "no related passages"})
    assert out[0].error == "no multi_context question from Ragas: no related passages"
    assert out[0].documents == ["a.txt", "b.pdf"]


def test_only_cases_of_the_source_and_reviewed_ones_are_promoted():
    found = {"a": {"id": "a", "input": {"q": 1}, "review_status": None},
             "b": {"id": "b", "input": {"q": 2}, "review_status": "accepted"},
             "c": {"id": "c", "input": {"q": 3}, "review_status": "pending"}}
    copies = ds.promotion_copies("gold", "eval", ["a", "b"], found)
    assert copies == [ds.promoted_copy("gold", "eval", found["a"]),
                      ds.promoted_copy("gold", "eval", found["b"])]
    with pytest.raises(Invalid) as e:
        ds.promotion_copies("gold", "eval", ["a", "x", "y"], found)
    assert e.value.extra == {"field": "case_ids", "case_ids": ["x", "y"]}
    with pytest.raises(Invalid, match="not reviewed yet") as e:
        ds.promotion_copies("gold", "eval", ["c"], found)
    assert e.value.extra["case_ids"] == ["c"]
