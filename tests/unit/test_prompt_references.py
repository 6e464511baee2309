"""Prompt composition without I/O: the reference syntax (harness.templating) and the
expansion with its cycle, depth and type rules (services.registry.domain.composition)."""

from __future__ import annotations

import jinja2
import pytest

from harness import nunjucks, templating
from services.registry.domain import composition
from services.registry.domain.composition import Bound, Node
from services.registry.domain.errors import Invalid


def test_references_parse_environment_version_and_default():
    content = [{"role": "system",
                "content": 'A {{ prompt("support-tone@staging") }} B {{- prompt(\'Sig@3\') -}}'},
               {"role": "user", "content": "{{ prompt('plain') }} {{ question }}"}]
    refs = templating.references(content)
    assert [(r.ref, r.name, r.environment, r.version) for r in refs] == [
        ("support-tone@staging", "support-tone", "staging", None),
        ("Sig@3", "Sig", None, 3),
        ("plain", "plain", "production", None)]
    assert refs[2].where == "messages[1].content line 1"
    # the reference is not a variable; the other placeholders are
    assert templating.variables(content) == ["question"]
    templating.validate(content)


def test_a_name_may_hold_an_at_sign_the_label_follows_the_last_one():
    (r,) = templating.references('{{ prompt("team@acme@production") }}')
    assert (r.name, r.environment) == ("team@acme", "production")


@pytest.mark.parametrize(("text", "message"), [
    ("{{ prompt(name) }}", "one quoted name"),
    ('{{ prompt("a", "b") }}', "one quoted name"),
    ('{{ prompt("tone") | upper }}', "stand alone"),
    ('{{ "x" ~ prompt("tone") }}', "stand alone"),
    ('{% raw %}{{ prompt("tone") }}{% endraw %}', "stand alone"),
    ('{# {{ prompt("tone") }} #}', "stand alone"),
    ('{% macro prompt(x) %}{% endmacro %}{{ prompt("tone") }}', "defines its own"),
    ('{{ prompt("@production") }}', "name is missing"),
    ('{{ prompt("tone@Prod!") }}', "neither a version number nor an environment"),
    ('{{ prompt("tone@0") }}', "versions start at 1"),
])
def test_malformed_references_are_refused_when_stored(text, message):
    with pytest.raises(templating.TemplateSyntaxError, match=message):
        templating.validate(text)


def test_include_is_refused_pointing_to_the_reference_syntax():
    with pytest.raises(templating.TemplateSyntaxError) as err:
        templating.validate('Hi {% include "support-tone" %}')
    assert '{{ prompt("name@environment") }}' in str(err.value)
    assert err.value.where == "content line 1"


def test_a_plain_prompt_variable_stays_a_variable():
    assert templating.references("{{ prompt }} and {{ prompt.upper() }}") == []
    assert templating.variables("{{ prompt }}") == ["prompt"]


def test_unexpanded_references_never_render_silently():
    text = 'Be {{ prompt("tone") }}.'
    # harness: refused with a pointer to what renders them
    with pytest.raises(templating.TemplateRenderError, match="registry resolved"):
        templating.render(text, {})
    # plain Jinja (strict or not) and the Nunjucks-compatible renderer: an error, not text
    with pytest.raises(jinja2.UndefinedError):
        jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).render()
    with pytest.raises(jinja2.UndefinedError):
        jinja2.Environment().from_string(text).render()
    with pytest.raises(jinja2.TemplateError):
        nunjucks.render(text, {})


def test_expand_keeps_whitespace_control_and_renders_in_both_engines():
    text = 'Start\n  {{- prompt("tone") -}}  \nEnd {{ x }}'
    expanded = templating.expand(text, lambda r: "[{{ x }}]")
    assert templating.render(expanded, {"x": 1}) == "Start[1]End 1"
    assert nunjucks.render(expanded, {"x": 1}) == "Start[1]End 1"
    plain = templating.expand('A {{ prompt("tone") }} B', lambda r: "tone")
    assert plain == "A tone B"


def _node(pid, content, *refs, version=1):
    return Node(pid, pid, version, content, tuple(refs))


def _ref(pid, env="production", version=None):
    label = version if version is not None else env
    return Bound(f"{pid}@{label}", pid, pid, None if version else env, version)


def _prompt(pid, env="production"):
    return '{{ prompt("' + f"{pid}@{env}" + '") }}'


def test_compose_nested_lists_each_version_with_depth_and_referrer():
    sig = _node("sig", "— {{ agent }}", version=3)
    tone = _node("tone", "Be kind. " + _prompt("sig", 3), _ref("sig", version=3), version=2)
    root = _node("reply", [{"role": "system", "content": _prompt("tone", "staging")},
                           {"role": "user", "content": "{{ q }}"}], _ref("tone", "staging"))
    out = composition.compose(root, {("tone", "staging", None): tone, ("sig", None, 3): sig})
    assert out.content[0]["content"] == "Be kind. — {{ agent }}"
    assert out.variables == ["agent", "q"]
    assert [(u.prompt_id, u.version, u.environment, u.referenced_by, u.depth)
            for u in out.references] == [("tone", 2, "staging", "reply", 1),
                                         ("sig", 3, None, "tone", 2)]


def test_compose_names_the_cycle():
    a = _node("a", _prompt("b"), _ref("b"))
    b = _node("b", _prompt("c"), _ref("c"))
    c = _node("c", _prompt("a"), _ref("a"))
    targets = {("b", "production", None): b, ("c", "production", None): c,
               ("a", "production", None): a}
    with pytest.raises(composition.ReferenceCycle) as err:
        composition.compose(a, targets)
    assert err.value.extra["cycle"] == ["a", "b", "c", "a"]
    assert "a → b → c → a" in err.value.detail


def test_compose_depth_limit():
    nodes = [_node("p0", "base")]
    for i in range(1, 8):
        nodes.append(_node(f"p{i}", _prompt(f"p{i - 1}"), _ref(f"p{i - 1}")))
    targets = {(n.prompt_id, "production", None): n for n in nodes}
    ok = composition.compose(nodes[5], targets, max_depth=5)
    assert ok.content == "base" and max(u.depth for u in ok.references) == 5
    with pytest.raises(composition.ReferenceTooDeep, match="deeper than 5"):
        composition.compose(nodes[6], targets, max_depth=5)


def test_a_shared_reference_is_expanded_once_and_still_checked_for_depth():
    leaf = _node("leaf", "L")
    mid = _node("mid", _prompt("leaf") + _prompt("leaf"), _ref("leaf"))
    root = _node("root", _prompt("mid") + "|" + _prompt("leaf"), _ref("mid"), _ref("leaf"))
    targets = {("leaf", "production", None): leaf, ("mid", "production", None): mid}
    out = composition.compose(root, targets)
    assert out.content == "LL|L"
    assert [(u.prompt_id, u.depth) for u in out.references] == [("mid", 1), ("leaf", 2)]
    with pytest.raises(composition.ReferenceTooDeep):
        composition.compose(root, targets, max_depth=1)


def test_only_text_prompts_can_be_referenced_and_a_cleared_environment_is_unresolved():
    chat = _node("chat", [{"role": "user", "content": "hi"}])
    root = _node("root", _prompt("chat"), _ref("chat"))
    with pytest.raises(Invalid, match="chat prompt"):
        composition.compose(root, {("chat", "production", None): chat})
    staged = _node("root", _prompt("chat", "staging"), _ref("chat", "staging"))
    with pytest.raises(composition.ReferenceUnresolved, match="points at no version"):
        composition.compose(staged, {("chat", "staging", None): None})


def test_composed_size_is_bounded():
    big = _node("big", "x" * 600)
    root = _node("root", _prompt("big") * 2, _ref("big"))
    with pytest.raises(composition.ComposedTooLarge, match="1200 bytes"):
        composition.compose(root, {("big", "production", None): big}, max_bytes=1000)


def test_bind_keeps_one_entry_per_reference_text():
    refs = templating.references(_prompt("Tone") + _prompt("Tone") + '{{ prompt("tone@2") }}')
    bound = composition.bind(refs, {"tone": ("id-1", "tone")})
    assert [b.as_data() for b in bound] == [
        {"ref": "Tone@production", "prompt_id": "id-1", "name": "tone",
         "environment": "production"},
        {"ref": "tone@2", "prompt_id": "id-1", "name": "tone", "version": 2}]


def test_the_studio_timeline_says_what_a_reference_move_was():
    from services.studio.views.timeline import describe_event

    e = {"type": "PromptReferenceMoved", "version": None,  # the dependent did not move
         "data": {"referenced_name": "support-tone", "environment": "staging",
                  "version": 3, "previous_version": 2}}
    assert describe_event(e) == "referenced prompt 'support-tone' moved staging to v3"
    e["data"]["version"] = None
    assert describe_event(e) == "referenced prompt 'support-tone' moved staging to nothing"


def test_references_expand_in_text_parts_and_are_refused_in_other_parts():
    content = [{"role": "user", "content": [
        {"type": "text", "text": 'Look: {{ prompt("tone") }} {{ x }}'},
        {"type": "image_url", "image_url": {"url": "https://img.example/{{ x }}.png"}}]}]
    (r,) = templating.references(content)
    assert r.where == "messages[0].content[0].text line 1"
    out = templating.expand(content, lambda ref: "Be kind.")
    assert out[0]["content"][0]["text"] == "Look: Be kind. {{ x }}"
    assert out[0]["content"][1] == content[0]["content"][1]
    bad = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": 'https://x/{{ prompt("tone") }}'}}]}]
    with pytest.raises(templating.TemplateSyntaxError, match="not in an image URL"):
        templating.validate(bad)


def test_the_studio_shows_references_and_does_not_take_them_for_variables():
    from services.studio.views.content import references_caption, variables_in

    assert variables_in('{{ prompt("tone@staging") }} for {{ name }}, {{ prompt }}') == [
        "name", "prompt"]
    assert references_caption([]) is None
    assert references_caption([
        {"ref": "tone@staging", "prompt_id": "p", "name": "tone", "environment": "staging"},
        {"ref": "sig@2", "prompt_id": "q", "name": "sig", "version": 2}]) == (
        "References: tone @ staging, sig @ v2 (expanded when resolved, rendered or run)")
