"""is-json and contains-json, with and without a JSON schema."""

from __future__ import annotations

import pytest

from harness.assertions import AssertionContext, evaluate_assertion, parse_assertions

SCHEMA = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
}


async def run(assertion: dict, output: str, **ctx):
    return await evaluate_assertion(assertion, output, AssertionContext(**ctx))


@pytest.mark.parametrize("output", ['{"a": 1}', "[1, 2]", '"text"', "3", "null", "  true \n"])
async def test_is_json_accepts_any_json_value(output):
    assert (await run({"type": "is-json"}, output)).passed


@pytest.mark.parametrize("output", ["{a: 1}", "{'a': 1}", "NaN", "", "```json\n{}\n```", "{} x"])
async def test_is_json_rejects_non_json(output):
    r = await run({"type": "is-json"}, output)
    assert not r.passed and not r.error and "valid JSON" in r.reason


async def test_not_is_json():
    assert (await run({"type": "not-is-json"}, "plain")).passed
    assert not (await run({"type": "not-is-json"}, "{}")).passed


async def test_is_json_with_schema():
    a = {"type": "is-json", "value": SCHEMA}
    assert (await run(a, '{"name": "Ann", "age": 3}')).passed
    r = await run(a, '{"name": "Ann", "age": "three"}')
    assert not r.passed and not r.error
    assert "/age" in r.reason and "integer" in r.reason


async def test_is_json_schema_missing_required_reason():
    r = await run({"type": "is-json", "value": SCHEMA}, '{"name": "Ann"}')
    assert not r.passed and "'age' is a required property" in r.reason


async def test_is_json_schema_as_yaml_or_json_text():
    yaml_schema = "type: object\nrequired: [id]\nproperties:\n  id: {type: integer}\n"
    assert (await run({"type": "is-json", "value": yaml_schema}, '{"id": 1}')).passed
    assert not (await run({"type": "is-json", "value": yaml_schema}, '{"id": "1"}')).passed
    json_schema = '{"type": "array", "items": {"type": "number"}}'
    assert (await run({"type": "is-json", "value": json_schema}, "[1, 2.5]")).passed


async def test_is_json_schema_not_json_output_fails_without_schema_check():
    r = await run({"type": "is-json", "value": SCHEMA}, "nope")
    assert not r.passed and not r.error


async def test_not_is_json_with_schema():
    a = {"type": "not-is-json", "value": SCHEMA}
    assert not (await run(a, '{"name": "Ann", "age": 3}')).passed
    assert (await run(a, '{"name": "Ann"}')).passed


async def test_invalid_schema_is_error():
    r = await run({"type": "is-json", "value": {"type": "nonsense"}}, "{}")
    assert r.error and not r.passed and "invalid JSON schema" in r.reason
    r = await run({"type": "contains-json", "value": "just words"}, "{}")
    assert r.error


async def test_schema_formats_are_checked():
    schema = {"type": "object", "properties": {"mail": {"type": "string", "format": "email"}}}
    assert (await run({"type": "is-json", "value": schema}, '{"mail": "a@b.co"}')).passed
    assert not (await run({"type": "is-json", "value": schema}, '{"mail": "nope"}')).passed


async def test_schema_draft_2020_by_declaration():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "array",
        "prefixItems": [{"type": "string"}],
    }
    assert not (await run({"type": "is-json", "value": schema}, "[1]")).passed


async def test_empty_schema_value_means_no_schema():
    assert (await run({"type": "is-json", "value": ""}, "[1]")).passed


async def test_contains_json_in_surrounding_text():
    out = 'Sure! Here it is:\n```json\n{"name": "Ann", "age": 3}\n```\nAnything else?'
    assert (await run({"type": "contains-json"}, out)).passed
    assert (await run({"type": "contains-json"}, 'list: [{"a": 1}] end')).passed


async def test_contains_json_none_found():
    r = await run({"type": "contains-json"}, "no json here or [1, 2] there")
    assert not r.passed and not r.error  # arrays alone do not count (promptfoo)
    # promptfoo reads each {...} as YAML: {here} is the object {"here": null}
    assert (await run({"type": "contains-json"}, "yaml {here} counts")).passed
    assert (await run({"type": "not-contains-json"}, "no json")).passed
    assert not (await run({"type": "not-contains-json"}, 'x {"a": 1} y')).passed


async def test_contains_json_with_schema_any_object_may_conform():
    a = {"type": "contains-json", "value": SCHEMA}
    out = 'first {"name": "x"} then {"name": "Ann", "age": 3}'
    assert (await run(a, out)).passed
    r = await run(a, 'only {"name": "x"}')
    assert not r.passed and "age" in r.reason


async def test_contains_json_schema_checks_objects_inside_an_array():
    a = {"type": "contains-json", "value": SCHEMA}
    assert (await run(a, 'result: [{"name": "Ann", "age": 3}]')).passed


async def test_contains_json_nested_object_is_not_a_separate_match():
    a = {"type": "contains-json", "value": SCHEMA}
    assert not (await run(a, '{"user": {"name": "Ann", "age": 3}}')).passed


async def test_not_contains_json_with_schema():
    a = {"type": "not-contains-json", "value": SCHEMA}
    assert (await run(a, '{"name": "x"}')).passed
    assert not (await run(a, '{"name": "Ann", "age": 3}')).passed


def test_parse_assertions_rejects_bad_schema():
    with pytest.raises(ValueError, match=r"assert\[1\].*invalid JSON schema"):
        parse_assertions([{"type": "is-json"}, {"type": "is-json", "value": {"type": 5}}])


async def test_unresolvable_schema_ref_is_error_without_fetching():
    r = await run({"type": "is-json", "value": {"$ref": "http://example.invalid/s.json"}}, "{}")
    assert r.error and not r.passed and "Unresolvable" in r.reason


async def test_deeply_nested_json_does_not_crash():
    r = await run({"type": "is-json"}, "[" * 100_000)
    assert not r.passed and not r.error
    assert (await run({"type": "contains-json"}, "[" * 5000 + ' {"a": 1}')).passed
