"""Checks on the output as text: equals, contains family, starts-with, regex, levenshtein."""

from __future__ import annotations

from typing import Any

from rapidfuzz.distance import Levenshtein

from harness import nunjucks

from . import safe_regex
from .js_regex import from_utf16_units, utf16_units
from .models import Assertion, AssertionEvalError, Verdict, binary
from .values import (
    is_number,
    js_string,
    js_truthy,
    json_equal,
    parse_comma_separated,
    parse_json,
)

_NOT = {True: "not ", False: ""}


def _quote(text: str, limit: int = 200) -> str:
    if len(text) > limit:
        text = text[:limit] + "…"
    return f'"{text}"'


def check_equals(a: Assertion, value: Any, output: str) -> Verdict:
    """promptfoo's equals: without a value it compares with ``String(undefined)``; an
    object, an array or an explicit null is compared with the output parsed as JSON."""
    inverse = a.inverse
    if value is None and "value" not in a.model_fields_set:
        value = "undefined"
    if value is None or isinstance(value, dict | list):
        try:
            equal = json_equal(value, parse_json(output))
        except ValueError:
            equal = False
        shown = js_string(value)
    else:
        shown = js_string(value)
        equal = output == shown
    passed = equal != inverse
    if passed:
        reason = (
            f"Output equals {_quote(shown)}"
            if not inverse
            else f"Output differs from {_quote(shown)}"
        )
    else:
        reason = f"Expected output {_quote(output)} to {_NOT[inverse]}equal {_quote(shown)}"
    return binary(passed, reason)


def _single(a: Assertion, value: Any) -> str:
    if (isinstance(value, str) and value != "") or (
        is_number(value) and value == value  # not NaN
    ):
        return js_string(value)
    raise AssertionEvalError(f'"{a.base_type}" assertion type must have a string or number value')


def check_contains(a: Assertion, value: Any, output: str) -> Verdict:
    needle = _single(a, value)
    ignore_case = a.base_type == "icontains"
    hay = output.lower() if ignore_case else output
    found = (needle.lower() if ignore_case else needle) in hay
    passed = found != a.inverse
    case = " (ignoring case)" if ignore_case else ""
    if found:
        reason = f"Output contains {_quote(needle)}{case}"
    else:
        reason = f"Output does not contain {_quote(needle)}{case}"
    if not passed:
        reason = f"Expected output to {_NOT[a.inverse]}contain {_quote(needle)}{case}"
    return binary(passed, reason)


def _as_list(a: Assertion, value: Any) -> list[str]:
    if not js_truthy(value):
        raise AssertionEvalError(f'"{a.base_type}" assertion type must have a value')
    if isinstance(value, str):
        value = parse_comma_separated(value)
    if not isinstance(value, list):
        raise AssertionEvalError(
            f'"{a.base_type}" needs a list or comma-separated text, got {type(value).__name__}'
        )
    return [nunjucks.js_string(v) for v in value]


def check_contains_many(a: Assertion, value: Any, output: str) -> Verdict:
    items = _as_list(a, value)
    base = a.base_type
    ignore_case = base.startswith("i")
    hay = output.lower() if ignore_case else output
    present = [s for s in items if (s.lower() if ignore_case else s) in hay]
    missing = [s for s in items if s not in present]
    case = " (ignoring case)" if ignore_case else ""
    listed = ", ".join(items)
    if base.endswith("-any"):
        holds = bool(present)
        if holds:
            detail = f"Output contains {_quote(present[0])} from [{listed}]{case}"
        else:
            detail = f"Output contains none of [{listed}]{case}"
        passed = holds != a.inverse
        if not passed:
            detail = f"Expected output to {_NOT[a.inverse]}contain one of [{listed}]{case}" + (
                f"; found {_quote(present[0])}" if a.inverse else ""
            )
    else:
        holds = not missing
        if holds:
            detail = f"Output contains all of [{listed}]{case}"
        else:
            detail = f"Output is missing [{', '.join(missing)}]{case}"
        passed = holds != a.inverse
        if not passed:
            detail = f"Expected output to {_NOT[a.inverse]}contain all of [{listed}]{case}" + (
                f". Missing: [{', '.join(missing)}]" if not a.inverse else ""
            )
    return binary(passed, detail)


def check_starts_with(a: Assertion, value: Any, output: str) -> Verdict:
    if not isinstance(value, str) or value == "":
        raise AssertionEvalError('"starts-with" assertion type must have a string value')
    prefix = value
    holds = output.startswith(prefix)
    passed = holds != a.inverse
    if passed:
        reason = (
            f"Output starts with {_quote(prefix)}"
            if holds
            else f"Output does not start with {_quote(prefix)}"
        )
    else:
        reason = f"Expected output to {_NOT[a.inverse]}start with {_quote(prefix)}"
    return binary(passed, reason)


def check_regex(a: Assertion, value: Any, output: str) -> Verdict:
    """``new RegExp(value).test(output)`` (JavaScript, no flags). A pattern JavaScript
    refuses fails the assertion, ``not-regex`` included, as in promptfoo; a match that
    runs out of harness's time budget is an error (promptfoo has no budget)."""
    if not isinstance(value, str) or value == "":
        raise AssertionEvalError('"regex" assertion type must have a string value')
    try:
        m = safe_regex.search_js(value, output)
    except safe_regex.InvalidRegex as exc:
        return binary(False, f"Invalid regex pattern: {exc}")
    except safe_regex.RegexTimeout as exc:  # harness's own budget: not a verdict
        raise AssertionEvalError(str(exc)) from exc
    passed = (m is not None) != a.inverse
    if passed:
        reason = (
            f"Output matches regex {_quote(value)} at {_quote(from_utf16_units(m.group(0)), 80)}"
            if m is not None
            else f"Output does not match regex {_quote(value)}"
        )
    else:
        reason = f"Expected output to {_NOT[a.inverse]}match regex {_quote(value)}"
    return binary(passed, reason)


DEFAULT_LEVENSHTEIN_THRESHOLD = 5


def check_levenshtein(a: Assertion, value: Any, output: str) -> Verdict:
    if not isinstance(value, str):
        raise AssertionEvalError('"levenshtein" assertion type must have a string value')
    expected = value
    limit = a.threshold if a.threshold is not None else DEFAULT_LEVENSHTEIN_THRESHOLD
    # promptfoo measures JavaScript strings: UTF-16 code units (an emoji counts 2)
    distance = Levenshtein.distance(utf16_units(output), utf16_units(expected))
    within = distance <= limit
    passed = within != a.inverse
    relation = "≤" if within else ">"
    reason = f"Levenshtein distance {distance} {relation} threshold {limit:g}"
    if not passed:
        reason = (
            f"Expected Levenshtein distance {'>' if a.inverse else '≤'} {limit:g}, got {distance}"
        )
    return binary(passed, reason)
