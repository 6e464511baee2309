import pytest

from harness.events.registry_events import ApplicationCreated, ApplicationUpdated
from services.registry.domain import applications as d
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound


def created():
    cmd = d.CreateApplication("a1", "bot", "openai/gpt-4o-mini", "p1")
    [ev] = d.decide(cmd, d.ApplicationState())
    return d.evolve(d.ApplicationState(), ev)


def test_create_uses_roadmap_defaults():
    [ev] = d.decide(d.CreateApplication("a1", "bot", "m", "p1"), d.ApplicationState())
    assert isinstance(ev, ApplicationCreated)
    assert (ev.temperature, ev.max_tokens, ev.top_p) == (0.7, 1024, None)


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
    assert d.decide(d.UpdateApplication({"temperature": 0.7}), state) == []
    [ev] = d.decide(d.UpdateApplication({"temperature": 0.1, "fallback_models": ["b"]}), state)
    assert isinstance(ev, ApplicationUpdated)
    state = d.evolve(state, ev)
    assert state.temperature == 0.1 and state.fallback_models == ("b",)


def test_unknown_field_and_missing_app():
    with pytest.raises(Invalid):
        d.decide(d.UpdateApplication({"id": "x"}), created())
    with pytest.raises(NotFound):
        d.decide(d.UpdateApplication({"temperature": 0.1}), d.ApplicationState())
