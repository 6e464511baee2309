"""Helpers for assertion values: templating, comma-separated lists, JavaScript-like
stringification and strict JSON handling (promptfoo runs on Node, so its comparisons
follow JavaScript's rules)."""

from __future__ import annotations

import json
from typing import Any

from harness import nunjucks

from .models import AssertionEvalError

_TEMPLATE_MARKERS = ("{{", "{%", "{#")


def is_template(text: str) -> bool:
    return any(m in text for m in _TEMPLATE_MARKERS)


def render_string(text: str, variables: dict[str, Any], what: str = "value", *,
                  strict: bool = False) -> str:
    """Render the value as promptfoo does (``nunjucks.renderString(value, vars)``: a
    missing variable is empty); plain strings are returned untouched. A template that
    cannot render is an :class:`AssertionEvalError` (promptfoo: the row errors).
    ``strict`` (rubric prompts): Jinja, and a missing variable is an error."""
    if not is_template(text):
        return text
    if strict:
        import jinja2

        from harness.templating import render_text

        try:
            return render_text(text, variables)
        except jinja2.UndefinedError as exc:
            raise AssertionEvalError(f"{what} template: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            raise AssertionEvalError(f"{what} template is invalid: {exc}") from exc
    try:
        return nunjucks.render(text, variables)
    except nunjucks.NunjucksError as exc:
        raise AssertionEvalError(f"{what} template is invalid: {exc}") from exc


def render_value(value: Any, variables: dict[str, Any]) -> Any:
    """Render the assertion value as promptfoo does: a string, or each string of a list.
    Objects are used as written."""
    if isinstance(value, str):
        _reject_file_reference(value)
        return render_string(value, variables)
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str):
                _reject_file_reference(item)
                out.append(render_string(item, variables))
            else:
                out.append(item)
        return out
    return value


def _reject_file_reference(text: str) -> None:
    if text.startswith("file://"):
        raise AssertionEvalError(
            f"file references are not supported here ({text!r}); inline the value instead"
        )


def js_string(value: Any) -> str:
    """``String(value)`` as JavaScript would print common JSON values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return nunjucks.js_number(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness (``[]`` and ``{}`` are true; ``0``, ``""``, null are not)."""
    return nunjucks.js_truthy(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_comma_separated(text: str) -> list[str]:
    """Split ``a, b, "c, d"`` into fields like promptfoo's contains-any parser: fields are
    trimmed, empty fields are skipped, a double-quoted field may contain commas and
    escapes its quotes as ``\\"`` or ``""``."""
    fields: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and (text[i].isspace() or text[i] == ","):
            i += 1
        if i >= n:
            break
        if text[i] == '"':
            i += 1
            buf: list[str] = []
            closed = False
            while i < n:
                ch = text[i]
                if ch == "\\" and i + 1 < n and text[i + 1] in '"\\':
                    buf.append(text[i + 1])
                    i += 2
                elif ch == '"' and i + 1 < n and text[i + 1] == '"':
                    buf.append('"')
                    i += 2
                elif ch == '"':
                    i += 1
                    closed = True
                    break
                else:
                    buf.append(ch)
                    i += 1
            if not closed:
                raise AssertionEvalError("unterminated quoted field in comma-separated value")
            fields.append("".join(buf))
            while i < n and text[i].isspace():
                i += 1
            if i < n and text[i] != ",":
                raise AssertionEvalError("expected a comma after a quoted field")
        else:
            start = i
            while i < n and text[i] != ",":
                i += 1
            fields.append(text[start:i].strip())
    return fields


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> Any:
    """``JSON.parse``: strict JSON (no NaN/Infinity), surrounding whitespace allowed."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError as exc:
        raise ValueError("JSON is nested too deeply") from exc


_decoder = json.JSONDecoder(parse_constant=_no_constants)


def find_json_values(text: str) -> list[Any]:
    """Top-level JSON objects and arrays embedded anywhere in ``text``, in order.
    Values nested inside an earlier match are not listed separately."""
    found: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "{[":
            try:
                value, end = _decoder.raw_decode(text, i)
            except (ValueError, RecursionError):
                i += 1
                continue
            found.append(value)
            i = end
        else:
            i += 1
    return found


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality with JavaScript's types: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    return a == b


def fmt_num(x: float) -> str:
    return f"{x:.2f}"
