"""Text checks: equals, contains family, starts-with, regex, levenshtein (promptfoo rules)."""

from __future__ import annotations

import pytest

from harness.assertions import AssertionContext, evaluate_assertion


async def run(assertion: dict, output: str, **ctx):
    return await evaluate_assertion(assertion, output, AssertionContext(**ctx))


# --- equals ---------------------------------------------------------------------------


async def test_equals_exact_and_case_sensitive():
    assert (await run({"type": "equals", "value": "Hello"}, "Hello")).passed
    r = await run({"type": "equals", "value": "Hello"}, "hello")
    assert not r.passed and r.score == 0 and not r.error
    assert "hello" in r.reason and "Hello" in r.reason


async def test_equals_does_not_trim():
    assert not (await run({"type": "equals", "value": "Hello"}, "Hello\n")).passed


async def test_not_equals():
    assert (await run({"type": "not-equals", "value": "a"}, "b")).passed
    r = await run({"type": "not-equals", "value": "a"}, "a")
    assert not r.passed and "not equal" in r.reason


async def test_equals_number_value_compares_as_text():
    assert (await run({"type": "equals", "value": 42}, "42")).passed
    assert (await run({"type": "equals", "value": 4.0}, "4")).passed
    assert (await run({"type": "equals", "value": True}, "true")).passed


async def test_equals_object_compares_parsed_json():
    value = {"name": "Ann", "tags": ["a", "b"], "age": 3}
    assert (
        await run({"type": "equals", "value": value}, '{"age":3.0, "tags":["a","b"],"name":"Ann"}')
    ).passed
    assert not (
        await run({"type": "equals", "value": value}, '{"age":3,"tags":["b","a"],"name":"Ann"}')
    ).passed
    # extra key
    assert not (await run({"type": "equals", "value": {"a": 1}}, '{"a":1,"b":2}')).passed
    # JavaScript types: true is not 1
    assert not (await run({"type": "equals", "value": {"a": 1}}, '{"a": true}')).passed


async def test_equals_array_value():
    assert (await run({"type": "equals", "value": [1, "x"]}, ' [1, "x"] ')).passed


async def test_equals_object_with_non_json_output():
    r = await run({"type": "equals", "value": {"a": 1}}, "not json")
    assert not r.passed and not r.error
    assert (await run({"type": "not-equals", "value": {"a": 1}}, "not json")).passed


async def test_equals_without_value_compares_with_undefined():
    r = await run({"type": "equals"}, "x")
    assert not r.error and not r.passed
    assert (await run({"type": "equals"}, "undefined")).passed
    # an explicit null is compared with the output parsed as JSON
    assert (await run({"type": "equals", "value": None}, "null")).passed
    assert not (await run({"type": "equals", "value": None}, "undefined")).passed


# --- contains / icontains -----------------------------------------------------------------


async def test_contains_is_case_sensitive():
    assert (await run({"type": "contains", "value": "Paris"}, "It is Paris.")).passed
    assert not (await run({"type": "contains", "value": "paris"}, "It is Paris.")).passed


async def test_icontains_ignores_case():
    assert (await run({"type": "icontains", "value": "PARIS"}, "It is Paris.")).passed
    assert not (await run({"type": "not-icontains", "value": "paris"}, "PARIS")).passed


async def test_not_contains():
    r = await run({"type": "not-contains", "value": "error"}, "all good")
    assert r.passed and r.score == 1
    r = await run({"type": "not-contains", "value": "error"}, "an error occurred")
    assert not r.passed and r.score == 0 and "not contain" in r.reason


async def test_contains_number_value():
    assert (await run({"type": "contains", "value": 42}, "answer: 42")).passed


@pytest.mark.parametrize("value", ["", None, ["a"], {"a": 1}])
async def test_contains_bad_value_is_error(value):
    r = await run({"type": "contains", "value": value}, "a")
    assert r.error and not r.passed and "contains" in r.reason


# --- contains-any / -all -------------------------------------------------------------------


async def test_contains_any_list():
    a = {"type": "contains-any", "value": ["cat", "dog"]}
    assert (await run(a, "a dog")).passed
    r = await run(a, "a bird")
    assert not r.passed and "cat, dog" in r.reason


async def test_contains_any_comma_separated_string():
    a = {"type": "contains-any", "value": "cat, dog ,bird"}
    assert (await run(a, "a bird")).passed
    assert not (await run(a, "a fish")).passed


async def test_comma_separated_quoted_fields_keep_commas():
    a = {"type": "contains-all", "value": '"Hello, World", "say ""hi""", x'}
    assert (await run(a, 'Hello, World! say "hi" x')).passed
    assert not (await run(a, "Hello World say hi x")).passed


async def test_comma_separated_unterminated_quote_is_error():
    r = await run({"type": "contains-any", "value": '"abc, d'}, "abc")
    assert r.error


async def test_contains_all_reports_missing():
    r = await run({"type": "contains-all", "value": ["a", "b", "c"]}, "a c")
    assert not r.passed and "Missing: [b]" in r.reason


async def test_contains_all_case_sensitive_vs_icontains_all():
    assert not (await run({"type": "contains-all", "value": "Foo,Bar"}, "foo bar")).passed
    assert (await run({"type": "icontains-all", "value": "Foo,Bar"}, "foo bar")).passed


async def test_icontains_any():
    assert (await run({"type": "icontains-any", "value": ["YES", "ok"]}, "Yes.")).passed
    assert not (await run({"type": "icontains-any", "value": ["YES", "ok"]}, "no")).passed


async def test_not_contains_any_and_all():
    assert (await run({"type": "not-contains-any", "value": ["x", "y"]}, "abc")).passed
    assert not (await run({"type": "not-contains-any", "value": ["x", "y"]}, "xyz")).passed
    # not-contains-all passes when at least one is missing
    assert (await run({"type": "not-contains-all", "value": ["a", "z"]}, "abc")).passed
    assert not (await run({"type": "not-contains-all", "value": ["a", "b"]}, "abc")).passed


async def test_contains_many_numbers_in_list():
    assert (await run({"type": "contains-all", "value": [1, 2]}, "1 and 2")).passed


async def test_contains_any_empty_list_fails_contains_all_empty_passes():
    assert not (await run({"type": "contains-any", "value": []}, "x")).passed
    assert (await run({"type": "contains-all", "value": []}, "x")).passed


async def test_contains_any_missing_value_is_error():
    assert (await run({"type": "contains-any"}, "x")).error
    assert (await run({"type": "contains-any", "value": 5}, "x")).error


# --- starts-with ---------------------------------------------------------------------------


async def test_starts_with():
    assert (await run({"type": "starts-with", "value": "Yes"}, "Yes, sure")).passed
    assert not (await run({"type": "starts-with", "value": "yes"}, "Yes, sure")).passed
    assert not (await run({"type": "starts-with", "value": "Yes"}, " Yes")).passed
    assert (await run({"type": "not-starts-with", "value": "No"}, "Yes")).passed
    assert not (await run({"type": "not-starts-with", "value": "Ye"}, "Yes")).passed


async def test_starts_with_empty_value_is_error():
    assert (await run({"type": "starts-with", "value": ""}, "x")).error


# --- regex ---------------------------------------------------------------------------------


async def test_regex_search_anywhere():
    assert (await run({"type": "regex", "value": r"\d{3}-\d{4}"}, "call 555-1234 now")).passed
    assert not (await run({"type": "regex", "value": r"^\d+$"}, "12a")).passed


async def test_not_regex():
    assert (await run({"type": "not-regex", "value": "secret"}, "public")).passed
    r = await run({"type": "not-regex", "value": "secret"}, "top secret")
    assert not r.passed and "not match" in r.reason


async def test_regex_is_case_sensitive():
    assert not (await run({"type": "regex", "value": "hello"}, "HELLO")).passed


async def test_regex_dollar_is_end_of_input_like_javascript():
    # Python's $ would also match before a trailing newline; JavaScript's does not.
    assert not (await run({"type": "regex", "value": "done$"}, "done\n")).passed
    assert (await run({"type": "regex", "value": "done$"}, "all done")).passed
    assert (await run({"type": "regex", "value": r"[$]"}, "costs $5")).passed


async def test_regex_javascript_named_groups():
    r = await run({"type": "regex", "value": r"(?<y>\d{4})-\k<y>"}, "2024-2024")
    assert r.passed and not r.error
    assert (await run({"type": "regex", "value": r"(?<=a)b"}, "ab")).passed
    assert not (await run({"type": "regex", "value": r"(?<!a)b"}, "ab")).passed


async def test_regex_invalid_is_a_failure_not_an_error():
    r = await run({"type": "regex", "value": "(unclosed"}, "x")
    assert not r.error and not r.passed and "Invalid regex" in r.reason
    r = await run({"type": "not-regex", "value": "(unclosed"}, "x")
    assert not r.error and not r.passed


async def test_regex_missing_value_is_error():
    assert (await run({"type": "regex"}, "x")).error


# --- levenshtein ---------------------------------------------------------------------------


async def test_levenshtein_default_threshold_is_5():
    assert (await run({"type": "levenshtein", "value": "kitten"}, "sitting")).passed  # 3
    r = await run({"type": "levenshtein", "value": "abcdef"}, "uvwxyz")  # 6
    assert not r.passed and "6" in r.reason


async def test_levenshtein_threshold():
    a = {"type": "levenshtein", "value": "kitten", "threshold": 2}
    assert not (await run(a, "sitting")).passed
    assert (await run({**a, "threshold": 3}, "sitting")).passed
    assert (await run({**a, "threshold": 0}, "kitten")).passed


async def test_not_levenshtein():
    a = {"type": "not-levenshtein", "value": "kitten", "threshold": 2}
    assert (await run(a, "sitting")).passed
    assert not (await run(a, "kitten")).passed


async def test_levenshtein_bad_value_is_error():
    assert (await run({"type": "levenshtein", "value": ["a"]}, "a")).error
