"""harness.nunjucks renders as Nunjucks 3.2.4 does (expected values taken from
``nunjucks.renderString`` on Node 22, as promptfoo configures it)."""

from __future__ import annotations

import pytest

from harness.nunjucks import NunjucksError, js_json, js_number, render

CASES = [
    ("{{ o | dump(2) }}", {"o": {"a": 1}}, '{\n  "a": 1\n}'),
    ("{{ x }}", {"x": 1e21}, "1e+21"),
    ("{{ x }}", {"x": 0.1 + 0.2}, "0.30000000000000004"),
    ("{{ x.y.z }}", {"x": {}}, ""),
    ("{{ x.y.z }}", {}, ""),
    ("{{ x | upper }}", {}, ""),
    ("{{ x | length }}", {"x": None}, "0"),
    ("{% for k, v in o %}{{k}}={{v}};{% endfor %}", {"o": {"a": 1, "b": 2}}, "a=1;b=2;"),
    ("{% for k in o %}{{k}};{% endfor %}", {"o": {"a": 1}}, ""),
    ("{% for c in s %}{{ loop.index }}{{ c }}{% endfor %}", {"s": "xy"}, "1x2y"),
    ('{{ x | default("d") }}', {"x": None}, ""),
    ('{{ "a" + 1 }}', {}, "a1"),
    ('{{ 1 + "2" }}', {}, "12"),
    ("{{ [1,2] }}", {}, "1,2"),
    ("{{ x == 1 }}", {"x": "1"}, "true"),
    ("{{ x | escape }}", {"x": '"&'}, "&quot;&amp;"),
    ("{{ x | title }}", {"x": "hELLO wORLD"}, "Hello World"),
    ("{% if x %}y{% endif %}", {"x": []}, "y"),
    ("{% if x %}y{% endif %}", {"x": 0}, ""),
    ("{{ x | sort | join }}", {"x": ["b", "A", "c"]}, "Abc"),
    ("{{ x | round(1) }}", {"x": 2.45}, "2.5"),
    ("{{ x | int }}", {"x": "3.9abc"}, "3"),
    ("{{ x | float }}", {"x": "abc"}, ""),
    ('{{ x | replace("", "-") }}', {"x": "abc"}, "-a-b-c-"),
    ("{{ x | truncate(5) }}", {"x": "abcdefgh"}, "abcde..."),
    ("{{ x | wordcount }}", {"x": "a-b c"}, "3"),
    ("{{ x | last }}", {"x": []}, ""),
    ("{{ x | length }}", {"x": "日本"}, "2"),
    ("{{ x | list }}", {"x": {"a": 1}}, "[object Object]"),
    ("{{ x | urlencode }}", {"x": {"a": "b c"}}, "a=b%20c"),
    ("{{ x | string }}", {"x": [1, [2, 3]]}, "1,2,3"),
    ("{{ 10 / 4 }} {{ 2 ** 10 }} {{ 10 // 4 }} {{ -7 // 2 }} {{ -7 % 3 }}", {},
     "2.5 1024 2 -4 -1"),
    ("{{ x.length }} {{ x[1] }}", {"x": "abc"}, "3 b"),
    ("{{ o.items }}", {"o": {"items": [1, 2]}}, "1,2"),
    ("{{ v }}", {"v": [1, "a", True, None]}, "1,a,true,"),
    ("{{ v }}", {"v": 2.0}, "2"),
    ("a\r\nb", {}, "a\r\nb"),
]


@pytest.mark.parametrize(("template", "variables", "expected"), CASES)
def test_renders_like_nunjucks(template, variables, expected):
    assert render(template, variables) == expected


@pytest.mark.parametrize("template", ['{{ w | reverse | join(" ") }}', '{{ x | join(",") }}',
                                      "{{ x | trim }}", "{{ x | tojson }}", "{% if %}"])
def test_what_nunjucks_throws_on_is_an_error(template):
    with pytest.raises(NunjucksError):
        render(template, {"w": "pear", "x": 5})


def test_javascript_numbers_and_json():
    assert [js_number(x) for x in (0.000001, 1e-7, 123456789012, -0.0, 1.5e300)] == [
        "0.000001", "1e-7", "123456789012", "0", "1.5e+300"]
    assert js_json({"a": [1, 2.0, None], "b": "é"}) == '{"a":[1,2,null],"b":"é"}'


@pytest.mark.parametrize("text", ["plain", "two\nlines\n", "cr\r\nlf", "", "  spaced  ",
                                  "% not a tag %", "}} closing only"])
def test_text_without_a_brace_renders_as_itself(text):
    assert render(text, {"x": 1}) == text
