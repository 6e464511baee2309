"""Pure: stored traces as test cases (variables of an application call, else messages;
the answer as expected output; masked; provenance; one case per trace and dataset)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from harness.events.dataset_events import CasesAdded
from services.registry.domain import datasets as ds
from services.registry.domain.errors import AlreadyExists, Invalid
from services.registry.domain.trace_cases import answer_of, case_id_of, cases_from_traces

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def trace(**kw) -> dict:
    base = dict(id=uuid.uuid4(), created_at=AT, source="gateway", kind="chat",
                application=None, prompt_id=None, prompt_version=None,
                model_requested="openai/a", model_answered="openai/a", status=200,
                request={"messages": [{"role": "user", "content": "hi"}], "params": {}},
                response={"content": "hello", "finish_reason": "stop"})
    return {**base, **kw}


def test_an_application_call_gives_its_variables_and_keeps_the_trace():
    t = trace(application="bot", prompt_id="p1", prompt_version=3,
              request={"messages": [{"role": "system", "content": "Be kind."}],
                       "variables": {"tone": "kind", "who": "mail hong@example.com"}})
    [case] = cases_from_traces("d1", [t])
    assert case["input"] == {"tone": "kind", "who": "mail [EMAIL]"}  # masked again
    assert case["expected_output"] is None
    assert case["id"] == case_id_of("d1", t["id"]) != case_id_of("d2", t["id"])
    assert case["metadata"]["from_trace"] == {
        "trace_id": str(t["id"]), "source": "gateway", "application": "bot",
        "prompt_id": "p1", "prompt_version": 3, "model": "openai/a",
        "recorded_at": AT.isoformat()}


def test_any_other_call_gives_its_messages_and_the_answer_when_asked():
    t = trace(response={"choices": [{"message": {"content": "call 010-1234-5678"}}]})
    [case] = cases_from_traces("d1", [t], answer_as_expected=True)
    assert case["input"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert case["expected_output"] == "call [PHONE]"
    assert answer_of(None) is None and answer_of({"content": None}) is None


def test_traces_that_cannot_become_cases_are_named_together():
    no_body, failed, fine = trace(request=None), trace(status=502, response=None), trace()
    with pytest.raises(Invalid) as err:
        cases_from_traces("d1", [fine, no_body, failed], answer_as_expected=True)
    assert err.value.extra["trace_ids"] == [str(no_body["id"]), str(failed["id"])]
    assert str(no_body["id"]) in err.value.detail and str(failed["id"]) in err.value.detail
    assert len(cases_from_traces("d1", [fine, failed])) == 2  # no answer needed


def test_a_trace_already_in_the_dataset_is_refused_by_id_or_skipped():
    old, new = trace(), trace()
    cases = tuple(cases_from_traces("d1", [old, new]))
    state = ds.DatasetState(dataset_id="d1", cases={cases[0]["id"]: None})
    with pytest.raises(AlreadyExists) as err:
        ds.decide(ds.AddTraceCases(cases), state)
    assert err.value.extra == {"field": "trace_ids", "trace_ids": [str(old["id"])]}
    [event] = ds.decide(ds.AddTraceCases(cases, skip_duplicates=True), state)
    assert isinstance(event, CasesAdded) and event.source == "traces"
    assert [c["id"] for c in event.cases] == [cases[1]["id"]]
    everything = ds.DatasetState(dataset_id="d1", cases={c["id"]: None for c in cases})
    assert ds.decide(ds.AddTraceCases(cases, skip_duplicates=True), everything) == []
