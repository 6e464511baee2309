import pytest

from harness.events.registry_events import ApplicationCreated, ApplicationUpdated
from services.registry.domain import applications as d
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound


def created():
    cmd = d.CreateApplication("a1", "bot", "openai/gpt-4o-mini", "p1")
    [ev] = d.decide(cmd, d.ApplicationState())
    return d.evolve(d.ApplicationState(), ev)


def test_create_leaves_unset_options_to_the_version_config_and_the_defaults():
    """Left out, the model and options stay unset (None): the version's config, else the
    defaults, apply where it runs (harness.prompt_config.in_effect)."""
    [ev] = d.decide(d.CreateApplication("a1", "bot", None, "p1"), d.ApplicationState())
    assert isinstance(ev, ApplicationCreated)
    assert (ev.model_id, ev.temperature, ev.max_tokens, ev.top_p) == (None, None, None, None)
    state = d.evolve(d.ApplicationState(), ev)
    assert (state.model_id, state.temperature, state.max_tokens) == (None, None, None)


def test_created_events_stored_before_unset_options_keep_their_values():
    old = ApplicationCreated.model_validate({"application_id": "a1", "name": "bot",
                                             "model_id": "m", "prompt_id": "p1"})
    assert (old.temperature, old.max_tokens) == (0.7, 1024)


def test_create_twice_conflicts():
    with pytest.raises(AlreadyExists):
        d.decide(d.CreateApplication("a1", "bot", "m", "p1"), created())


@pytest.mark.parametrize("field,value", [("temperature", 2.5), ("max_tokens", 0),
                                         ("top_p", 0), ("model_id", " ")])
def test_bad_options_are_invalid(field, value):
    with pytest.raises(Invalid) as info:
        d.decide(d.UpdateApplication({field: value}), created())
    assert info.value.extra["field"] == field


def test_update_emits_only_real_changes():
    state = created()
    assert d.decide(d.UpdateApplication({"temperature": None}), state) == []
    [ev] = d.decide(d.UpdateApplication({"temperature": 0.1, "fallback_models": ["b"]}), state)
    assert isinstance(ev, ApplicationUpdated)
    state = d.evolve(state, ev)
    assert state.temperature == 0.1 and state.fallback_models == ("b",)


def test_unknown_field_and_missing_app():
    with pytest.raises(Invalid):
        d.decide(d.UpdateApplication({"id": "x"}), created())
    with pytest.raises(NotFound):
        d.decide(d.UpdateApplication({"temperature": 0.1}), d.ApplicationState())
