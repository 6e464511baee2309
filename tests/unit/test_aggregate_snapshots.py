"""Snapshots of aggregates (``commands.Snapshotted``): a state read back from its snapshot
with the events after it replayed equals the state folded from the whole stream."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness.events import EventMetadata, StoredEvent
from harness.events.registry_events import (
    ApplicationCreated,
    ApplicationUpdated,
    PromotionApproved,
    PromotionGateEvaluated,
    PromotionProposed,
    PromptCreated,
    PromptEnvironmentCleared,
    PromptEnvironmentMoved,
    PromptPolicySet,
    PromptUpdated,
    PromptVersionActivated,
    PromptVersionCreated,
)
from services.registry.handlers.applications import APPLICATION
from services.registry.handlers.prompt_aggregate import PROMPT

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _stored(stream_id: str, events) -> list[StoredEvent]:
    out = []
    for i, event in enumerate(events, start=1):
        new = event.to_new(EventMetadata(actor=f"user{i % 3}"))
        out.append(StoredEvent(
            global_position=i, event_id=uuid.uuid4(), stream_id=stream_id, stream_version=i,
            type=new.type, schema_version=new.schema_version, data=new.data,
            metadata=new.metadata, recorded_at=T0 + timedelta(seconds=i)))
    return out


def _prompt_history() -> list[StoredEvent]:
    p = "p1"
    events = [
        PromptCreated(prompt_id=p, name="support", description="first"),
        PromptVersionCreated(prompt_id=p, version=1, content="Hi {{ who }}", variables=["who"],
                             change_note="initial version"),
        PromptVersionActivated(prompt_id=p, version=1, reason="first version"),
        PromptVersionCreated(prompt_id=p, version=2, derived_from=1, variables=["q"],
                             content=[{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "{{ q }}"}]),
        PromptUpdated(prompt_id=p, name="support bot"),
        PromptPolicySet(prompt_id=p, policy={"require_approval": ["production"],
                                             "gate": {"dataset_id": "d", "min_pass": 0.9}}),
        PromptEnvironmentMoved(prompt_id=p, environment="staging", version=2),
        PromotionProposed(prompt_id=p, promotion_id="pr1", version=2, environment="production",
                          reason="better", expires_at="2026-01-04T00:00:00+00:00",
                          gate_run_id="r1"),
        PromotionGateEvaluated(prompt_id=p, promotion_id="pr1", gate={"passed": True,
                                                                     "scores": [0.9, 1]}),
        PromotionApproved(prompt_id=p, promotion_id="pr1", comment="ok"),
        PromptEnvironmentCleared(prompt_id=p, environment="staging", previous_version=2),
    ]
    events += [PromptVersionActivated(prompt_id=p, version=1 + i % 2, previous_version=2 - i % 2,
                                      reason=f"flip {i}") for i in range(30)]
    return _stored("prompt-p1", events)


def _application_history() -> list[StoredEvent]:
    a = "a1"
    events = [ApplicationCreated(application_id=a, name="bot", model_id="openai/gpt-4o-mini",
                                 prompt_id="p1", top_p=0.5, fallback_models=["m2", "m3"])]
    events += [ApplicationUpdated(application_id=a, changes={"temperature": i / 10,
                                                             "max_tokens": 100 + i})
               for i in range(15)]
    events.append(ApplicationUpdated(application_id=a, changes={"environment": "staging",
                                                                "top_p": None}))
    return _stored("application-a1", events)


@pytest.mark.parametrize("aggregate, history", [(PROMPT, _prompt_history()),
                                                (APPLICATION, _application_history())],
                         ids=["prompt", "application"])
def test_snapshot_and_tail_equal_the_whole_fold_at_every_point(aggregate, history):
    replay, initial = aggregate.events.replay, aggregate.events.initial
    whole = replay(history, initial)
    assert whole != initial
    for k in range(len(history) + 1):
        at_k = replay(history[:k], initial)
        stored = aggregate.encode(at_k)
        assert aggregate.decode(stored) == at_k, f"snapshot at {k} does not read back"
        assert replay(history[k:], aggregate.decode(stored)) == whole, f"split at {k}"


def test_a_snapshot_is_plain_json():
    import orjson

    state = PROMPT.events.replay(_prompt_history(), PROMPT.events.initial)
    data = orjson.loads(orjson.dumps(PROMPT.encode(state)))
    assert PROMPT.decode(data) == state
    assert PROMPT.decode(data).versions[2].content[1] == {"role": "user", "content": "{{ q }}"}
