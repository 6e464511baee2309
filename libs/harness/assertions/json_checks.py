"""is-json and contains-json, with an optional JSON schema, as promptfoo 0.123.1 runs them.

- The schema is compiled the way Ajv 8 in strict mode (promptfoo's ``getAjv()``, with
  ajv-formats) compiles it: draft-07 keywords only, an unknown keyword or an unknown
  ``format`` is an error, so is a schema that is not an object / boolean or that breaks
  the meta-schema. An error of the schema makes the whole row an error (promptfoo throws).
- A text value is read as YAML (so JSON too). A number or ``true`` is an error.
- ``contains-json`` finds objects the way promptfoo's ``extractJsonObjects`` does: each
  ``{`` with its brace-balanced end, read as YAML (``{'a': 1}`` and ``{a: 1}`` count),
  ``//`` comments allowed; arrays on their own do not count.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml

from harness.yaml12 import load_yaml  # YAML 1.2 scalars, like js-yaml

from .json_schema_ajv import ajv_validator
from .models import Assertion, AssertionEvalError, Verdict, binary
from .values import js_truthy, parse_json

_MAX_SCHEMA_ERRORS = 5
_MAX_JSON_LENGTH = 100_000


def schema_validator(a: Assertion, value: Any) -> jsonschema.protocols.Validator:
    """The validator for ``value`` (a schema object, or JSON/YAML text). Anything Ajv
    would refuse to compile is an :class:`AssertionEvalError` (a row error)."""
    if isinstance(value, str):
        try:
            schema = load_yaml(value)
        except yaml.YAMLError as exc:
            raise AssertionEvalError(f"invalid JSON schema: cannot parse it ({exc})") from exc
    elif isinstance(value, dict | list):
        schema = value
    else:
        raise AssertionEvalError(f"{a.base_type} assertion must have a string or object value")
    return ajv_validator(schema)


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
        is_json = True
    except ValueError:
        parsed, is_json = None, False
    passed = is_json != inverse
    if is_json and js_truthy(value):
        errors = schema_errors(schema_validator(a, value), parsed)
        passed = (not errors) != inverse
        if not passed:
            return binary(False, "Output is JSON that conforms to the provided schema" if inverse
                          else "JSON does not conform to the provided schema. Errors: "
                          + "; ".join(errors))
    if passed:
        return binary(True, "Assertion passed")
    return binary(False, f"Expected output to {'not ' if inverse else ''}be valid JSON")


def _slash_comments_to_hash(text: str) -> str:
    """promptfoo's convertSlashCommentsToHash: ``// x`` outside quotes becomes ``# x``."""

    def escaped(line: str, index: int) -> bool:
        count = 0
        j = index - 1
        while j >= 0 and line[j] == "\\":
            count += 1
            j -= 1
        return count % 2 == 1

    out_lines = []
    for line in text.split("\n"):
        state, result, i = "normal", "", 0
        converted = None
        while i < len(line):
            ch = line[i]
            nxt = line[i + 1] if i + 1 < len(line) else ""
            prev = line[i - 1] if i > 0 else ""
            if state == "normal":
                if ch == "'" and not (prev.isascii() and prev.isalpha()):
                    state = "single"
                    result += ch
                elif ch == '"':
                    state = "double"
                    result += ch
                elif ch == "/" and nxt == "/":
                    start = 0
                    for j in range(i - 1, -1, -1):
                        if line[j].isspace():
                            start = j + 1
                            break
                    if "://" in line[start:i + 2]:
                        result += ch
                    else:
                        count = 2
                        while i + count < len(line) and line[i + count] == "/":
                            count += 1
                        converted = result + "#" * (count // 2) + line[i + count:]
                        break
                else:
                    result += ch
            elif state == "single":
                result += ch
                if ch == "'" and not escaped(line, i) and not (nxt.isascii() and nxt.isalpha()):
                    state = "normal"
            else:
                result += ch
                if ch == '"' and not escaped(line, i):
                    state = "normal"
            i += 1
        out_lines.append(converted if converted is not None else result)
    return "\n".join(out_lines)


def extract_json_objects(text: str) -> list[Any]:
    """promptfoo's extractJsonObjects: objects (``{...}``) embedded in the text, in order;
    a nested object is part of its parent, not listed again."""
    found: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "{":
            i += 1
            continue
        opened, closed, j = 1, 0, i + 1
        limit = min(i + _MAX_JSON_LENGTH, n)
        while j < limit and opened > closed:
            if text[j] == "{":
                opened += 1
            if text[j] == "}":
                closed += 1
            j += 1
            if opened == closed or j == n or j == i + _MAX_JSON_LENGTH:
                candidate = text[i:j] + "}" * max(0, opened - closed)
                try:
                    parsed = load_yaml(_slash_comments_to_hash(candidate))
                except (yaml.YAMLError, ValueError, RecursionError):
                    if opened == closed:
                        break
                    continue
                if isinstance(parsed, dict | list):
                    found.append(parsed)
                    i = j - 1
                    break
        i += 1
    return found


def check_contains_json(a: Assertion, value: Any, output: str) -> Verdict:
    inverse = a.inverse
    found = extract_json_objects(output)
    passed = (not found) if inverse else bool(found)
    reason = f"Expected output to {'not ' if inverse else ''}contain valid JSON"
    for candidate in found:
        if not js_truthy(value):
            continue
        errors = schema_errors(schema_validator(a, value), candidate)
        valid = not errors
        passed = (not valid) if inverse else valid
        if valid:
            if inverse:
                reason = "Output contains JSON conforming to the provided schema"
            break
        reason = "JSON does not conform to the provided schema. Errors: " + "; ".join(errors)
    return binary(passed, "Assertion passed" if passed else reason)
