"""The storable-text rule (harness.storable): NUL and lone surrogates become U+FFFD."""

from __future__ import annotations

import json

import asyncpg
import orjson
import pytest

from harness.storable import REPLACEMENT, is_unstorable, storable, storable_text


def test_nul_and_lone_surrogates_become_the_replacement_character():
    assert storable_text("a\x00b") == f"a{REPLACEMENT}b"
    lone = json.loads('"x\\ud800y\\udfffz"')  # what a JSON escape without its pair gives
    assert storable_text(lone) == f"x{REPLACEMENT}y{REPLACEMENT}z"
    orjson.dumps(storable_text(lone))  # encodable now
    assert storable_text("한국어 😀 \u00e9") == "한국어 😀 \u00e9"  # real text is untouched


def test_plain_text_and_untouched_containers_are_returned_as_they_are():
    text = "nothing to do " * 100
    assert storable_text(text) is text
    value = {"a": [1, "b", {"c": None}], "d": (2.5, True)}
    assert storable(value) is value


def test_every_string_at_any_depth_including_keys_is_made_storable():
    value = {"k\x00": ["ok", {"deep": "x\x00"}], "t": ("\x00",), "n": 3}
    assert storable(value) == {f"k{REPLACEMENT}": ["ok", {"deep": f"x{REPLACEMENT}"}],
                               "t": (REPLACEMENT,), "n": 3}
    assert value["k\x00"][1]["deep"] == "x\x00"  # the input is not changed in place


@pytest.mark.parametrize("exc,expected", [
    (ValueError("bad"), True), (TypeError("no"), True),
    (asyncpg.UntranslatableCharacterError("\\u0000"), True),
    (asyncpg.NumericValueOutOfRangeError("int"), True),
    (asyncpg.ProgramLimitExceededError("index row too big"), True),
    (asyncpg.PostgresConnectionError("gone"), False),
    (asyncpg.DeadlockDetectedError("deadlock"), False),
    (ConnectionResetError(), False), (TimeoutError(), False),
])
def test_errors_about_the_values_are_told_from_errors_about_the_database(exc, expected):
    assert is_unstorable(exc) is expected


def test_a_workers_result_envelope_encodes_whatever_the_model_said():
    import uuid

    from harness.bus.wire import encode, result_envelope

    lone = json.loads('"\\udc00"')
    env = result_envelope("run-1", "CaseResultRecorded", 1,
                          {"result": {"output": f"nul \x00 half {lone}"}}, uuid.uuid4())
    decoded = orjson.loads(encode(env))
    assert decoded["data"]["result"]["output"] == f"nul {REPLACEMENT} half {REPLACEMENT}"
