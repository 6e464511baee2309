from datetime import UTC, datetime

import pytest

from harness.events.registry_events import (
    PromptCreated,
    PromptUpdated,
    PromptVersionActivated,
    PromptVersionCreated,
)
from services.registry.domain import prompts as d
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(commands, state=None):
    state = state or d.PromptState()
    all_events = []
    for c in commands:
        events = d.decide(c, state)
        for e in events:
            state = d.evolve(state, e, T0, "alice")
        all_events.extend(events)
    return state, all_events


def test_create_makes_v1_active_with_variables():
    state, events = run([d.CreatePrompt("p1", "greet", "Hi {{ name }}, {{greeting}}")])
    assert [type(e) for e in events] == [PromptCreated, PromptVersionCreated,
                                         PromptVersionActivated]
    assert state.active_version == 1
    assert state.versions[1].variables == ["greeting", "name"]
    assert state.versions[1].created_by == "alice"


def test_create_twice_conflicts():
    state, _ = run([d.CreatePrompt("p1", "greet", "x")])
    with pytest.raises(AlreadyExists):
        d.decide(d.CreatePrompt("p1", "greet", "x"), state)


@pytest.mark.parametrize("content", ["{{ unclosed", [], [{"role": "robot", "content": "x"}],
                                     [{"content": "no role"}]])
def test_bad_content_is_invalid(content):
    with pytest.raises(Invalid):
        d.decide(d.CreatePrompt("p1", "greet", content), d.PromptState())


def test_empty_name_is_invalid():
    with pytest.raises(Invalid):
        d.decide(d.CreatePrompt("p1", "  ", "x"), d.PromptState())


def test_versions_are_numbered_without_gaps_and_activate_optionally():
    state, _ = run([
        d.CreatePrompt("p1", "greet", "v1"),
        d.CreateVersion("v2 {{a}}", "second"),
        d.CreateVersion("v3", "third", activate=True),
    ])
    assert sorted(state.versions) == [1, 2, 3]
    assert state.active_version == 3
    assert state.versions[2].change_note == "second"


def test_activate_older_version_is_rollback_and_records_previous():
    state, _ = run([d.CreatePrompt("p1", "g", "v1"), d.CreateVersion("v2", activate=True)])
    events = d.decide(d.ActivateVersion(1, "rollback"), state)
    assert events == [PromptVersionActivated(prompt_id="p1", version=1, previous_version=2,
                                             reason="rollback")]


def test_activate_active_version_is_a_noop():
    state, _ = run([d.CreatePrompt("p1", "g", "v1")])
    assert d.decide(d.ActivateVersion(1), state) == []


def test_activate_unknown_version_is_not_found():
    state, _ = run([d.CreatePrompt("p1", "g", "v1")])
    with pytest.raises(NotFound):
        d.decide(d.ActivateVersion(7), state)


def test_commands_on_missing_prompt_are_not_found():
    for c in (d.CreateVersion("x"), d.ActivateVersion(1), d.UpdatePrompt(description="y")):
        with pytest.raises(NotFound):
            d.decide(c, d.PromptState())


def test_update_only_emits_changes():
    state, _ = run([d.CreatePrompt("p1", "g", "v1", description="old")])
    assert d.decide(d.UpdatePrompt(name="g", description="old"), state) == []
    events = d.decide(d.UpdatePrompt(description="new"), state)
    assert events == [PromptUpdated(prompt_id="p1", name=None, description="new")]
    state = d.evolve(state, events[0], T0)
    assert state.description == "new" and state.name == "g"


def test_chat_message_content_variables():
    content = [{"role": "system", "content": "You help with {{ product }}"},
               {"role": "user", "content": "{{ question }}"}]
    state, _ = run([d.CreatePrompt("p1", "g", content)])
    assert state.versions[1].variables == ["product", "question"]
