"""One ``__expected`` grammar for promptfoo configs and the registry's CSV import."""

import pytest

from harness.assertions.shorthand import assertion_from_string
from harness.datasets.expected import ExpectedSyntaxError, expected_to_assertion


def test_promptfoo_keeps_values_as_written_and_the_import_trims_them():
    assert assertion_from_string("contains: 4") == {"type": "contains", "value": " 4"}
    assert expected_to_assertion("contains: 4") == {"type": "contains", "value": "4"}
    # list items are trimmed by both, as promptfoo does
    assert assertion_from_string("icontains-all: a , b")["value"] == ["a", "b"]
    assert expected_to_assertion("similar: Paris") == {"type": "similar", "value": "Paris",
                                                       "threshold": 0.8}


def test_the_import_gives_the_same_types_and_thresholds_as_promptfoo():
    for cell in ("not-icontains:five", "similar(0.9):x", "levenshtein(3):abc", "regex:^a",
                 "grade:is polite", "contains-any:a,b", "Paris"):
        assert expected_to_assertion(cell) == assertion_from_string(cell)


def test_the_import_parses_schemas_and_drops_empty_values():
    assert expected_to_assertion('is-json: {"type": "object"}') == {
        "type": "is-json", "value": {"type": "object"}}
    assert expected_to_assertion("is-json") == {"type": "is-json"}
    assert expected_to_assertion("latency(500)") == {"type": "latency", "threshold": 500.0}


@pytest.mark.parametrize("cell, reason", [
    ("javascript: output.length > 3", "javascript assertions (code)"),
    ("fn: x => true", "javascript assertions (code)"),
    ("python: len(output) > 3", "python assertions (code)"),
    ("file://check.js", "file:// references"),
    ("is-json: {bad", "schema is not JSON"),
    ("   ", "empty"),
])
def test_the_import_refuses_what_harness_cannot_run(cell, reason):
    with pytest.raises(ExpectedSyntaxError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        expected_to_assertion(cell)
