"""is-json and contains-json, with an optional JSON schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import SchemaError

from .models import Assertion, AssertionEvalError, Verdict, binary
from .values import find_json_values, parse_json

_MAX_SCHEMA_ERRORS = 5


def _has_schema(value: Any) -> bool:
    return value is not None and value != ""


def schema_validator(a: Assertion, value: Any) -> jsonschema.protocols.Validator:
    """A validator for the schema in ``value`` (an object, a boolean, or JSON/YAML text).
    An unusable schema is an evaluation error."""
    schema = value
    if isinstance(value, str):
        try:
            schema = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise AssertionEvalError(f"invalid JSON schema: cannot parse it ({exc})") from exc
    if not isinstance(schema, dict | bool):
        raise AssertionEvalError(
            f'"{a.base_type}" schema must be an object or a boolean, got {type(schema).__name__}'
        )
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise AssertionEvalError(f"invalid JSON schema at {where}: {exc.message}") from exc
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(validator: jsonschema.protocols.Validator, instance: Any) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    out = []
    for err in errors[:_MAX_SCHEMA_ERRORS]:
        where = "/" + "/".join(str(p) for p in err.absolute_path) if err.absolute_path else "(root)"
        out.append(f"{where}: {err.message}")
    if len(errors) > _MAX_SCHEMA_ERRORS:
        out.append(f"... and {len(errors) - _MAX_SCHEMA_ERRORS} more")
    return out


def check_is_json(a: Assertion, value: Any, output: str) -> Verdict:
    inverse = a.inverse
    try:
        parsed = parse_json(output)
    except ValueError as exc:
        passed = inverse
        reason = (
            f"Output is not valid JSON ({exc})"
            if passed
            else f"Expected output to be valid JSON: {exc}"
        )
        return binary(passed, reason)
    if not _has_schema(value):
        passed = not inverse
        return binary(
            passed, "Output is valid JSON" if passed else "Expected output to not be valid JSON"
        )
    validator = schema_validator(a, value)
    errors = schema_errors(validator, parsed)
    conforms = not errors
    passed = conforms != inverse
    if conforms:
        reason = (
            "Output is JSON that conforms to the schema"
            if passed
            else "Expected output to not be JSON conforming to the schema, but it conforms"
        )
    else:
        detail = "; ".join(errors)
        reason = (
            f"Output is JSON but does not conform to the schema: {detail}"
            if passed
            else f"JSON does not conform to the schema: {detail}"
        )
    return binary(passed, reason)


def _candidates(found: list[Any]) -> list[Any]:
    # An embedded array counts as JSON itself, and so do the objects it holds
    # (promptfoo reads an array's elements as the objects it contains).
    out: list[Any] = []
    for v in found:
        out.append(v)
        if isinstance(v, list):
            out.extend(x for x in v if isinstance(x, dict))
    return out


def check_contains_json(a: Assertion, value: Any, output: str) -> Verdict:
    inverse = a.inverse
    found = find_json_values(output)
    if not found:
        passed = inverse
        return binary(
            passed,
            "Output contains no JSON" if passed else "Expected output to contain valid JSON",
        )
    if not _has_schema(value):
        passed = not inverse
        return binary(
            passed,
            f"Output contains JSON ({len(found)} value{'s' if len(found) != 1 else ''})"
            if passed
            else "Expected output to not contain JSON",
        )
    validator = schema_validator(a, value)
    first_errors: list[str] = []
    conforming = None
    for candidate in _candidates(found):
        errors = schema_errors(validator, candidate)
        if not errors:
            conforming = candidate
            break
        if not first_errors:
            first_errors = errors
    holds = conforming is not None
    passed = holds != inverse
    if holds:
        reason = (
            "Output contains JSON that conforms to the schema"
            if passed
            else "Expected output to not contain JSON conforming to the schema, but it does"
        )
    else:
        detail = "; ".join(first_errors)
        reason = (
            f"Output contains no JSON conforming to the schema: {detail}"
            if passed
            else f"JSON in output does not conform to the schema: {detail}"
        )
    return binary(passed, reason)
