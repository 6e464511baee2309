"""Template rendering runs under a budget: steps, time and size. Hostile templates stop
with RenderBudgetExceeded naming the bound; ordinary templates render exactly as before."""

from __future__ import annotations

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from harness import templating
from harness.template_sandbox import (
    BudgetedSandbox,
    RenderBudget,
    RenderBudgetExceeded,
    format_width,
    metered,
    percent_width,
    weight,
)

BIG = "{% set s = 'x' * 1000000 %}"


@pytest.mark.parametrize(
    ("template", "bound"),
    [
        # nested loops: 10^10 iterations without a budget
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
         "steps"),
        ("{{ 'x' * 10**10 }}", "size"),
        ("{{ 10 ** 10000000 }}", "size"),
        ("{{ 'x'|center(10**10) }}", "size"),
        ("{{ 'x'.ljust(10**10) }}", "size"),
        ("{{ '%999999999d' % 1 }}", "size"),
        ("{{ '%999999999d'|format(1) }}", "size"),
        ("{{ '{:>999999999}'.format(1) }}", "size"),
        (BIG + "{% set s = s ~ s %}{% set s = s ~ s %}{{ s|length }}", "size"),
        # output built inside a set block is counted although it is never shown
        ("{% set s %}{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}{% endset %}-",
         "size"),
        ("{% set s %}{% for i in range(100000) %}" + "z" * 50 + "{% endfor %}{% endset %}-",
         "size"),
        ("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", "depth"),
        ("{% set l = [1] %}{% for i in range(40) %}{{ l.extend(l) }}{% endfor %}", "size"),
        # one long string referenced a thousand times is refused before it becomes text
        (BIG + "{{ [s] * 1000 }}", "size"),
        (BIG + "{% set l = [s, s, s] %}{{ l|join }}", "size"),
        (BIG + "{% set l = [s, s, s] %}{{ l }}", "size"),
        (BIG + "{% set l = [s, s, s] %}{{ 'a' ~ l }}", "size"),
        (BIG + "{% set l = [s, s, s] %}{{ '{}'.format(l) }}", "size"),
        (BIG + "{{ s|wordwrap(1) }}", "size"),  # textwrap is quadratic on long words
        ("{{ ('a\n' * 900000)|indent(100) }}", "size"),
    ],
)
def test_hostile_templates_stop_at_a_named_bound(template, bound):
    with pytest.raises(RenderBudgetExceeded) as err:
        templating.render(template, {})
    assert err.value.bound == bound
    assert isinstance(err.value, jinja2.TemplateRuntimeError)  # a render error like others


def test_the_time_bound():
    slow = "{% for i in range(100000) %}{{ range(1000)|sum }}{% endfor %}"
    env = BudgetedSandbox()
    with pytest.raises(RenderBudgetExceeded) as err, metered(
        RenderBudget(max_steps=10**9, timeout_s=0.01)
    ):
        env.from_string(slow).render()
    assert err.value.bound == "time" and "0.01 s" in str(err.value)


def test_messages_of_one_prompt_share_one_budget(monkeypatch):
    monkeypatch.setenv("HARNESS_RENDER_MAX_CHARS", "1500")
    from harness.config import get_settings

    get_settings.cache_clear()
    try:
        one = [{"role": "user", "content": "{{ 'x' * 1000 }}"}]
        assert len(templating.render(one, {})[0]["content"]) == 1000
        with pytest.raises(RenderBudgetExceeded):
            templating.render(one * 2, {})
    finally:
        get_settings.cache_clear()


ORDINARY = [
    ("Hello {{ name }}!", {"name": "Ann"}),
    ("{% for x in items %}{{ loop.index }}:{{ x|upper }}{% if not loop.last %}, {% endif %}"
     "{% endfor %}", {"items": ["a", "b", "c"]}),
    ("{{ items|join(', ') }} {{ items|length }} {{ '%05.1f'|format(3.14159) }}",
     {"items": ["a", "b"]}),
    ("{% macro li(x) %}<li>{{ x }}</li>{% endmacro %}{% for i in range(3) %}{{ li(i) }}"
     "{% endfor %}", {}),
    ("{% set t %}inner {{ n * 2 }}{% endset %}{{ t|trim }} {{ 'a' ~ n ~ 'b' }} {{ [1, 2] + [3] }}",
     {"n": 21}),
    ("{{ '{:>6}|{:<4}'.format('r', 'l') }} {{ 'ab'.center(6, '*') }} {{ 2 ** 10 }}", {}),
    ("{{ text|wordwrap(10) }}\n{{ text|indent(2) }}", {"text": "a long line of words here\nx"}),
    ("{{ data|tojson }} {{ data.items()|list }} {{ 7 // 2 }} {{ 7 % 4 }}", {"data": {"k": [1]}}),
    ("{{ 'a b c'|replace(' ', '-') }} {{ 'ab'.replace('', '.') }}", {}),
]


@pytest.mark.parametrize(("template", "bindings"), ORDINARY)
def test_ordinary_templates_render_as_in_the_plain_sandbox(template, bindings):
    plain = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    assert templating.render(template, bindings) == plain.from_string(template).render(
        **bindings
    )


def test_size_helpers():
    assert percent_width("%-12.3f and %(name)8s %%") == 12
    assert format_width("{:>20}{0:.3}{name}") == 20
    assert format_width("{:{w}}") >= 10**18
    assert weight(["ab", ("c", {"d": "ef"})], 10**6) > 5
    assert weight(["x" * 100] * 10**6, 1000) <= 1000 + 200  # stops counting past the limit


def test_reading_a_templates_variables_does_not_run_hostile_constant_filters():
    # Jinja folds filters on constants while analysing a template (prompt creation reads
    # its variables): the fold must not allocate the gigabyte the filter asks for.
    import tracemalloc

    tracemalloc.start()
    try:
        names = templating.variables("{{ '%999999999d'|format(1) }}{{ 'x'|center(10**9) }}{{ y }}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert names == ["y"]
    assert peak < 50_000_000
