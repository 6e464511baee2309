"""JSON schemas compiled as Ajv 8 (strict mode, draft-07, ajv-formats) compiles them.

promptfoo validates ``is-json`` / ``contains-json`` schemas with ``new Ajv({strictSchema:
true})`` plus ajv-formats. What that means, and what this module reproduces on top of
``jsonschema``'s Draft7Validator:

- the schema must be an object or a boolean and valid against the draft-07 meta-schema;
- strict mode: a keyword Ajv's draft-07 vocabulary does not know (a typo such as
  ``requird``, or a 2019-09 keyword such as ``dependentRequired``) is an error, and so is
  a ``format`` ajv-formats does not define;
- ``$schema``, when given, must be draft-07 (Ajv's default meta-schema);
- formats are checked (``email``, ``uri``, ``date``, ``date-time``, ``uuid``, ...).

``PROMPTFOO_DISABLE_AJV_STRICT_MODE=true`` turns the keyword/format strictness off, as it
does in promptfoo.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from .models import AssertionEvalError

# Ajv 8's draft-07 vocabulary (core, validation, applicator, format, metadata) plus the
# keywords every Ajv instance knows.
KNOWN_KEYWORDS = frozenset({
    "$id", "$schema", "$ref", "$comment", "$defs", "definitions", "$async", "nullable",
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "maxProperties", "minProperties", "required", "format",
    "not", "anyOf", "oneOf", "allOf", "if", "then", "else", "items", "additionalItems",
    "contains", "propertyNames", "dependencies", "properties", "patternProperties",
    "additionalProperties", "title", "description", "default", "deprecated", "readOnly",
    "writeOnly", "examples", "contentMediaType", "contentEncoding",
})
_DRAFT7_IDS = ("http://json-schema.org/draft-07/schema", "http://json-schema.org/draft-07/schema#")
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_VALUES = ("additionalItems", "additionalProperties", "contains", "propertyNames",
                  "not", "if", "then", "else")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def _strict() -> bool:
    flag = os.environ.get("PROMPTFOO_DISABLE_AJV_STRICT_MODE", "").strip().lower()
    return flag not in ("1", "true", "yes", "on")


def _walk(schema: Any, where: str, strict: bool) -> None:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise AssertionEvalError(f"invalid JSON schema: {where or '(root)'} must be an object "
                                 "or boolean")
    for key, value in schema.items():
        at = f"{where}/{key}"
        if strict and key not in KNOWN_KEYWORDS:
            raise AssertionEvalError(f'invalid JSON schema: strict mode: unknown keyword: '
                                     f'"{key}" (at {at})')
        if key == "format" and strict and isinstance(value, str) and value not in FORMATS:
            raise AssertionEvalError(f'invalid JSON schema: unknown format "{value}" ignored '
                                     f'in schema at path "#{where}"')
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                _walk(sub, f"{at}/{name}", strict)
        elif key in _SCHEMA_VALUES:
            _walk(value, at, strict)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            for i, sub in enumerate(value):
                _walk(sub, f"{at}/{i}", strict)
        elif key == "items":
            for i, sub in enumerate(value if isinstance(value, list) else [value]):
                _walk(sub, f"{at}/{i}" if isinstance(value, list) else at, strict)
        elif key == "dependencies" and isinstance(value, dict):
            for name, sub in value.items():
                if not isinstance(sub, list):
                    _walk(sub, f"{at}/{name}", strict)


def _nullable(schema: Any) -> Any:
    """Ajv's ``nullable: true`` (OpenAPI): ``null`` is allowed besides ``type``."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _nullable(sub) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES or (key == "items" and isinstance(value, dict)):
            out[key] = _nullable(value)
        elif key in _SCHEMA_LISTS + ("items",) and isinstance(value, list):
            out[key] = [_nullable(sub) for sub in value]
        elif key == "dependencies" and isinstance(value, dict):
            out[key] = {n: v if isinstance(v, list) else _nullable(v) for n, v in value.items()}
        else:
            out[key] = value
    if out.get("nullable") is True:
        kind = out.get("type")
        if kind is None:
            raise AssertionEvalError('invalid JSON schema: "nullable" cannot be used without '
                                     '"type"')
        kinds = list(kind) if isinstance(kind, list) else [kind]
        out["type"] = kinds if "null" in kinds else [*kinds, "null"]
    out.pop("nullable", None)
    return out


@lru_cache(maxsize=512)
def _compiled(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    if not isinstance(schema, dict | bool):
        raise AssertionEvalError("invalid JSON schema: schema must be object or boolean")
    if isinstance(schema, dict) and "$schema" in schema and schema["$schema"] not in _DRAFT7_IDS:
        raise AssertionEvalError(f'invalid JSON schema: no schema with key or ref '
                                 f'"{schema["$schema"]}" (Ajv knows draft-07)')
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise AssertionEvalError(f"invalid JSON schema at {where}: {exc.message}") from exc
    _walk(schema, "", _strict())
    return jsonschema.Draft7Validator(_nullable(schema), format_checker=_FORMAT_CHECKER)


def ajv_validator(schema: Any) -> jsonschema.protocols.Validator:
    """A validator for ``schema``; :class:`AssertionEvalError` when Ajv would not compile
    it."""
    try:
        key = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AssertionEvalError(f"schema cannot be used: {exc}") from exc
    return _compiled(key)


# ----------------------------------------------------------------- ajv-formats ("full")
_DATE = re.compile(r"^(\d\d\d\d)-(\d\d)-(\d\d)$")
_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d(?:\.\d+)?)(z|([+-])(\d\d)(?::?(\d\d))?)?$", re.I)
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_date(text: str) -> bool:
    m = _DATE.match(text)
    if not m:
        return False
    year, month, day = (int(g) for g in m.groups())
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= (29 if month == 2 and leap else _DAYS[month])


def _is_time(text: str, *, zone_required: bool) -> bool:
    m = _TIME.match(text)
    if not m:
        return False
    hour, minute = int(m.group(1)), int(m.group(2))
    second = float(m.group(3))
    if m.group(4) is None and zone_required:
        return False
    if m.group(5):
        tz_hour, tz_min = int(m.group(6)), int(m.group(7) or 0)
        if tz_hour > 23 or tz_min > 59:
            return False
    if hour <= 23 and minute <= 59 and second < 60:
        return True
    return hour == 23 and minute == 59 and int(second) == 60  # leap second (UTC only)


def _is_date_time(text: str, *, zone_required: bool = True) -> bool:
    parts = re.split(r"t|\s", text, maxsplit=1, flags=re.I)
    return len(parts) == 2 and _is_date(parts[0]) and _is_time(parts[1],
                                                               zone_required=zone_required)


_URI = re.compile(r"^[a-z][a-z0-9+\-.]*:[^\s]*$", re.I)
_URI_REFERENCE = re.compile(r"^[^\s]*$")
_EMAIL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
                    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.I)
_HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                       r"(?:\.[a-z0-9](?:[-0-9a-z]{0,61}[0-9a-z])?)*\.?$", re.I)
_UUID = re.compile(r"^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$", re.I)
_DURATION = re.compile(r"^P(?!$)((\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?"
                       r"|(\d+W)?)$")
_JSON_POINTER = re.compile(r"^(?:/(?:[^~/]|~0|~1)*)*$")
_REL_JSON_POINTER = re.compile(r"^(?:0|[1-9][0-9]*)(?:#|(?:/(?:[^~/]|~0|~1)*)*)$")
_BYTE = re.compile(r"^(?:[a-z0-9+/]{4})*(?:[a-z0-9+/]{2}==|[a-z0-9+/]{3}=)?$", re.I)


def _is_ipv4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address) and \
            not re.search(r"(^|\.)0\d", text)
    except ValueError:
        return False


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def _is_regex(text: str) -> bool:
    from .js_regex import JsRegexError, compile_js_regex

    try:
        compile_js_regex(text, "u")
    except JsRegexError:
        return False
    return True


def _int_bits(bits: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and \
            -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)

    return check


_STRING_FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _is_date,
    "time": lambda s: _is_time(s, zone_required=True),
    "date-time": _is_date_time,
    "iso-time": lambda s: _is_time(s, zone_required=False),
    "iso-date-time": lambda s: _is_date_time(s, zone_required=False),
    "duration": lambda s: bool(_DURATION.match(s)),
    "uri": lambda s: bool(_URI.match(s)),
    "uri-reference": lambda s: bool(_URI_REFERENCE.match(s)),
    "uri-template": lambda s: bool(_URI_REFERENCE.match(s)),
    "url": lambda s: bool(re.match(r"^(?:https?|ftp)://[^\s/$.?#].[^\s]*$", s, re.I)),
    "email": lambda s: bool(_EMAIL.match(s)),
    "hostname": lambda s: bool(_HOSTNAME.match(s)),
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "regex": _is_regex,
    "uuid": lambda s: bool(_UUID.match(s)),
    "json-pointer": lambda s: bool(_JSON_POINTER.match(s)),
    "json-pointer-uri-fragment": lambda s: s.startswith("#") and bool(
        _JSON_POINTER.match(s[1:])),
    "relative-json-pointer": lambda s: bool(_REL_JSON_POINTER.match(s)),
    "byte": lambda s: bool(_BYTE.match(s)),
    "password": lambda s: True,
    "binary": lambda s: True,
}
_NUMBER_FORMATS: dict[str, Callable[[Any], bool]] = {
    "int32": _int_bits(32),
    "int64": _int_bits(64),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}
FORMATS = frozenset(_STRING_FORMATS) | frozenset(_NUMBER_FORMATS)

_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
for _name, _check in _STRING_FORMATS.items():
    _FORMAT_CHECKER.checks(_name)(
        lambda value, _check=_check: not isinstance(value, str) or _check(value))
for _name, _check in _NUMBER_FORMATS.items():
    _FORMAT_CHECKER.checks(_name)(
        lambda value, _check=_check: not (isinstance(value, int | float)
                                          and not isinstance(value, bool)) or _check(value))
