import pytest

from harness import templating
from harness.events import StoredEvent, registry
from harness.events.registry_events import PromptVersionCreated


def test_variables_nunjucks_style():
    assert templating.variables("{{ a }} {{b}} {{ a | upper }}") == ["a", "b"]


def test_render_reports_all_missing_variables():
    with pytest.raises(templating.MissingVariablesError) as info:
        templating.render("{{ a }} {{ b }} {{ c }}", {"b": 1})
    assert info.value.missing == ["a", "c"]


def test_render_messages_and_to_messages():
    out = templating.render([{"role": "user", "content": "Q: {{ q }}"}], {"q": "why"})
    assert out == [{"role": "user", "content": "Q: why"}]
    assert templating.to_messages("hi") == [{"role": "user", "content": "hi"}]


def test_syntax_error_says_where():
    with pytest.raises(templating.TemplateSyntaxError) as info:
        templating.variables([{"role": "user", "content": "ok"},
                              {"role": "user", "content": "{% if %}"}])
    assert "messages[1]" in str(info.value)


def test_sandbox_blocks_attribute_escapes():
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        templating.render_text("{{ x.__class__.__mro__ }}", {"x": 1})


def test_prompt_version_created_v1_is_upcast_to_v2():
    """v1 of PromptVersionCreated stored `template` and `note`; readers see v2."""
    v1 = {"prompt_id": "p1", "version": 3, "template": "Hi {{ who }}", "note": "old shape"}
    version, data = registry.upcast("PromptVersionCreated", 1, v1)
    assert version == 2
    assert data == {"prompt_id": "p1", "version": 3, "content": "Hi {{ who }}",
                    "variables": ["who"], "change_note": "old shape"}
    stored = StoredEvent(global_position=1, event_id="00000000-0000-0000-0000-000000000001",
                         stream_id="prompt-p1", stream_version=4, type="PromptVersionCreated",
                         schema_version=1, data=v1, metadata={}, recorded_at="2025-01-01T00:00Z")
    event = registry.decode(stored)
    assert isinstance(event, PromptVersionCreated) and event.variables == ["who"]


def test_missing_upcaster_is_an_error():
    with pytest.raises(ValueError):
        registry.upcast("PromptVersionCreated", 0, {})
