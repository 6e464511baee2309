"""Webhook subscriptions, pure (issue 18 item 6): decisions, which events a subscription
receives, order keys, the delivered body and the retry policy."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from harness.events import EventMetadata, StoredEvent
from harness.events.webhook_events import (
    WebhookDeleted,
    WebhookDisabled,
    WebhookEnabled,
    WebhookSubscribed,
)
from services.registry.domain import webhooks as d
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound

SUBSCRIBE = d.Subscribe("w1", "https://hooks.example.com/h", ("PromptVersionActivated",))


def state_after(*commands) -> d.WebhookState:
    state = d.WebhookState()
    for command in commands:
        for ev in d.decide(command, state):
            state = d.evolve(state, ev)
    return state


def event(position: int, type_: str = "PromptVersionActivated", stream: str = "prompt-p1",
          **data) -> StoredEvent:
    return StoredEvent(global_position=position, event_id=uuid.uuid4(), stream_id=stream,
                       stream_version=1, type=type_, schema_version=1, data=data,
                       metadata=EventMetadata(actor="kim"),
                       recorded_at=datetime(2026, 1, 2, tzinfo=UTC))


def test_subscribe_records_the_subscription_without_any_secret():
    [ev] = d.decide(SUBSCRIBE, d.WebhookState())
    assert isinstance(ev, WebhookSubscribed)
    assert "secret" not in json.dumps(ev.model_dump())
    state = d.evolve(d.WebhookState(), ev)
    assert state.exists and state.enabled and state.event_types == ("PromptVersionActivated",)
    with pytest.raises(AlreadyExists):
        d.decide(SUBSCRIBE, state)


@pytest.mark.parametrize(("changes", "field"), [
    ({"url": "ftp://example.com"}, "url"),
    ({"url": "https://u:p@example.com"}, "url"),
    ({"event_types": ("NoSuchEvent",)}, "event_types"),
    ({"event_types": ()}, "event_types"),
    ({"event_types": ("*", "PromptCreated")}, "event_types"),
    ({"prompt_id": "p1", "application_id": "a1"}, "application_id"),
])
def test_subscribe_refuses(changes, field):
    from dataclasses import replace

    with pytest.raises(Invalid) as info:
        d.decide(replace(SUBSCRIBE, **changes), d.WebhookState())
    assert info.value.extra["field"] == field


def test_event_types_are_kept_once_and_star_alone():
    from dataclasses import replace

    [ev] = d.decide(replace(SUBSCRIBE, event_types=("PromptCreated", "PromptCreated")),
                    d.WebhookState())
    assert ev.event_types == ["PromptCreated"]
    [ev] = d.decide(replace(SUBSCRIBE, event_types=("*",)), d.WebhookState())
    assert ev.event_types == ["*"]


def test_disable_enable_delete_and_their_idempotence():
    state = state_after(SUBSCRIBE)
    [ev] = d.decide(d.Disable("maintenance"), state)
    assert isinstance(ev, WebhookDisabled) and not ev.automatic
    state = d.evolve(state, ev)
    assert d.decide(d.Disable("again", automatic=True, failures=3), state) == []
    [ev] = d.decide(d.Enable(), state)
    assert isinstance(ev, WebhookEnabled)
    state = d.evolve(state, ev)
    assert d.decide(d.Enable(), state) == []
    [ev] = d.decide(d.Delete(), state)
    assert isinstance(ev, WebhookDeleted)
    state = d.evolve(state, ev)
    for command in (d.Disable(), d.Enable(), d.Delete()):
        with pytest.raises(NotFound):
            d.decide(command, state)
    with pytest.raises(AlreadyExists):  # an id is never reused
        d.decide(SUBSCRIBE, state)


def test_a_subscription_wants_later_events_of_its_types():
    sub = d.Subscription("w1", frozenset({"PromptVersionActivated"}), since_position=10)
    assert d.wants(sub, event(11))
    assert not d.wants(sub, event(10))  # made before (or with) the subscription
    assert not d.wants(sub, event(12, "PromptCreated"))
    star = d.Subscription("w1", frozenset({"*"}), since_position=0)
    assert d.wants(star, event(1, "RunCompleted", "run-r1", run_id="r1"))


def test_prompt_and_application_filters():
    by_prompt = d.Subscription("w1", frozenset({"*"}), 0, prompt_id="p1")
    assert d.wants(by_prompt, event(1, stream="prompt-p1"))
    assert d.wants(by_prompt, event(2, "ApplicationCreated", "application-a1", prompt_id="p1"))
    assert not d.wants(by_prompt, event(3, stream="prompt-p2"))
    by_app = d.Subscription("w1", frozenset({"*"}), 0, application_id="a1",
                            application_prompt_id="p1")
    assert d.wants(by_app, event(4, "ApplicationUpdated", "application-a1"))
    assert d.wants(by_app, event(5, stream="prompt-p1"))  # what it resolves to moved
    assert d.wants(by_app, event(6, "CostAlertFired", "alert-x", application_id="a1"))
    assert not d.wants(by_app, event(7, stream="prompt-p2"))
    assert not d.wants(by_app, event(8, "ApplicationUpdated", "application-a2"))


def test_deliveries_are_ordered_by_stream():
    assert d.ordering_key(event(1, stream="prompt-p1")) == "prompt-p1"


def test_the_body_is_the_stored_event_and_the_subscription():
    ev = event(7, version=3, prompt_id="p1")
    doc = json.loads(d.body(ev, "w1"))
    assert doc == {"webhook_id": "w1", "event_id": str(ev.event_id),
                   "type": "PromptVersionActivated", "schema_version": 1,
                   "stream_id": "prompt-p1", "stream_version": 1, "global_position": 7,
                   "recorded_at": "2026-01-02T00:00:00+00:00",
                   "data": {"version": 3, "prompt_id": "p1"}, "metadata": {"actor": "kim"}}
    assert d.body(ev, "w1") == d.body(ev, "w1")  # a retry posts the same bytes


def test_retry_waits_double_up_to_the_cap_and_give_up_after_max_failures():
    assert [d.retry_delay_s(n, 10, 3600) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert d.retry_delay_s(30, 10, 3600) == 3600
    assert not d.gives_up(19, 20) and d.gives_up(20, 20)
