"""YAML 1.2 scalars as promptfoo (js-yaml) reads them, from libyaml's parser and from
PyYAML's pure-Python one alike."""

from __future__ import annotations

import math

import pytest
import yaml

from harness import yaml12

CASES = {
    "a: yes": {"a": "yes"},
    "a: on": {"a": "on"},
    "a: 0755": {"a": 755},
    "a: 1e3": {"a": 1000.0},
    "a: 10:30": {"a": "10:30"},
    "a: 2020-01-01": {"a": "2020-01-01"},
    "a: 0x1F": {"a": 31},
    "a: 0o17": {"a": 15},
    "a: -.inf": {"a": -math.inf},
    "a: TRUE": {"a": True},
    "a: ~": {"a": None},
    "a: [1, off, 2.5, '3']": {"a": [1, "off", 2.5, "3"]},
    "tests:\n  - vars: {q: 'x: y'}\n    assert: [{type: contains, value: 07}]":
        {"tests": [{"vars": {"q": "x: y"}, "assert": [{"type": "contains", "value": 7}]}]},
}


@pytest.mark.parametrize("text", sorted(CASES))
def test_both_parsers_read_yaml_12_scalars(text):
    assert yaml12.load_yaml(text) == CASES[text]
    assert yaml.load(text, Loader=yaml12._Yaml12Loader) == CASES[text]


def test_the_fast_parser_is_used_when_libyaml_is_there():
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML without libyaml")
    assert issubclass(yaml12._FAST, yaml.CSafeLoader)


def test_a_syntax_error_keeps_pyyamls_message_with_the_line():
    with pytest.raises(yaml.YAMLError) as info:
        yaml12.load_yaml("a: [1, 2\nb: 3\n")
    assert "line" in str(info.value)
