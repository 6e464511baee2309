"""Nunjucks (the template engine promptfoo uses) on top of Jinja2.

promptfoo renders prompts, vars and assertion values with Nunjucks 3.2, whose syntax is
Jinja's but whose values are JavaScript's. There is no maintained Nunjucks for Python,
so this module gives a Jinja2 sandboxed environment Nunjucks' behaviour where a
promptfoo config can tell the difference:

- printing converts values the JavaScript way (``String(value)``): ``[1, 2]`` prints
  ``1,2``, a mapping ``[object Object]``, booleans ``true`` / ``false``, ``null`` and
  undefined nothing, ``2.0`` prints ``2`` and ``1e-7`` prints ``1e-7``;
- a missing variable, and any member of it, is undefined and prints nothing;
  ``obj.items`` is the key ``items`` (never a Python method), ``list.length`` and
  ``str.length`` work, a negative index is undefined;
- truthiness is JavaScript's (``[]`` and ``{}`` are true) in ``if``, ``not``,
  ``and`` / ``or`` and ``x if c else y``; ``+ - * / // % **`` follow JavaScript
  (``"a" + 1`` is ``a1``, ``-7 % 3`` is ``-1``); ``~`` concatenates ``String()`` forms;
- ``{% for k, v in mapping %}`` walks its entries, ``{% for x in mapping %}`` nothing;
- the filters are Nunjucks' built-ins with their JavaScript semantics (``dump``,
  ``join``, ``default``, ``safe``, ``trim``, ``upper``, ``replace``, ``length``,
  ``first``, ``last``, ``sort``, ``truncate``, ...) plus promptfoo's ``load``; Jinja-only
  filters (``tojson``, ``map``, ``unique``, ...) are unknown, as in Nunjucks; no HTML
  autoescaping; a trailing newline is kept.

Registry prompts keep plain Jinja (:mod:`harness.templating`); see README.md.
"""

from __future__ import annotations

import decimal
import json
import math
import os
import random as _random
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import LoopContext, Undefined
from jinja2.utils import Cycler, Joiner
from jinja2.visitor import NodeTransformer

from harness.template_sandbox import (
    _AMPLIFYING_FILTERS,
    BudgetedSandbox,
    _budgeted_filter,
    _meter,
    _size,
    metered,
)

__all__ = [
    "JsUndefined",
    "is_undefined",
    "NunjucksError",
    "js_json",
    "js_number",
    "js_string",
    "render",
    "template_references",
]

NunjucksError = jinja2.TemplateError
"""Anything that keeps a template from rendering (syntax, unknown filter, a filter
applied to a value JavaScript would throw on)."""


class JsUndefined(jinja2.ChainableUndefined):
    """JavaScript's ``undefined``: prints nothing, every member of it is undefined too."""

    __slots__ = ()

    def __str__(self) -> str:
        return ""


def is_undefined(value: Any) -> bool:
    """Whether ``value`` is JavaScript's ``undefined`` (a missing variable or member)."""
    return isinstance(value, Undefined)


_is_undef = is_undefined


# ----------------------------------------------------------------- JavaScript values
def js_number(value: float | int) -> str:
    """``String(n)`` for a JavaScript number (ECMAScript Number::toString)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < 10**21:
            return str(value)
        value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    dec = decimal.Decimal(repr(abs(value))).normalize()
    _, digit_tuple, exp = dec.as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = int(exp) + k  # position of the decimal point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        out = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + out


def js_string(value: Any) -> str:
    """``String(value)`` in JavaScript."""
    if value is None:
        return "null"
    if _is_undef(value):
        return "undefined"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | int | float):
        return js_number(value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list | tuple | range):
        return ",".join("" if v is None or _is_undef(v) else js_string(v) for v in value)
    if callable(value):
        return "function () { [native code] }"
    return str(value)


def _output(value: Any) -> str:
    """What ``{{ value }}`` prints: nothing for null / undefined, else ``String()``."""
    if value is None or _is_undef(value):
        return ""
    return js_string(value)


def _stringify(value: Any, indent: str, current: str) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return "null"
        return js_number(value)
    if isinstance(value, str):
        return json.dumps(str(value), ensure_ascii=False)
    if _is_undef(value) or callable(value):
        return None
    inner = current + indent
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            text = _stringify(item, indent, inner)
            if text is not None:
                sep = ": " if indent else ":"
                parts.append(f"{json.dumps(js_string(key), ensure_ascii=False)}{sep}{text}")
        open_, close = "{", "}"
    elif isinstance(value, list | tuple | range):
        parts = [_stringify(item, indent, inner) or "null" for item in value]
        open_, close = "[", "]"
    else:
        return json.dumps(js_string(value), ensure_ascii=False)
    if not parts:
        return open_ + close
    if not indent:
        return open_ + ",".join(parts) + close
    return f"{open_}\n{inner}" + f",\n{inner}".join(parts) + f"\n{current}{close}"


def js_json(value: Any, indent: Any = None) -> str | None:
    """``JSON.stringify(value, null, indent)``; None where JavaScript gives undefined."""
    if isinstance(indent, int | float) and not isinstance(indent, bool):
        pad = " " * max(0, min(10, int(indent)))
    elif isinstance(indent, str):
        pad = indent[:10]
    else:
        pad = ""
    return _stringify(value, pad, "")


def js_truthy(value: Any) -> bool:
    if value is None or _is_undef(value) or value is False:
        return False
    if isinstance(value, int | float):
        return not (value == 0 or (isinstance(value, float) and math.isnan(value)))
    if isinstance(value, str):
        return value != ""
    return True


_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$")


def js_to_number(value: Any) -> float | int:
    """``Number(value)``."""
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if isinstance(value, int | float):
        return value
    if _is_undef(value):
        return math.nan
    if isinstance(value, list | tuple):
        return js_to_number(js_string(value))
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        if _NUMBER.match(text):
            number = float(text)
            return int(number) if number.is_integer() and "e" not in text.lower() \
                and "." not in text else number
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        if text in ("Infinity", "+Infinity"):
            return math.inf
        if text == "-Infinity":
            return -math.inf
        return math.nan
    return math.nan


def _num_result(x: float) -> float | int:
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


def js_add(left: Any, right: Any) -> Any:
    def stringish(v: Any) -> bool:
        return isinstance(v, str | Mapping | list | tuple)

    if stringish(left) or stringish(right):
        return js_string(left) + js_string(right)
    a, b = js_to_number(left), js_to_number(right)
    return _num_result(a + b) if not (isinstance(a, int) and isinstance(b, int)) else a + b


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "+":
        return js_add(left, right)
    a, b = js_to_number(left), js_to_number(right)
    if any(isinstance(x, float) and math.isnan(x) for x in (a, b)):
        return math.nan
    if op == "-":
        return a - b
    if op == "*":
        return _num_result(a * b) if isinstance(a * b, float) else a * b
    if op == "**":
        try:
            return _num_result(float(a) ** float(b))
        except (OverflowError, ZeroDivisionError):
            return math.inf
    if op in ("/", "//"):
        if b == 0:
            if a == 0:
                return math.nan
            return math.inf if a > 0 else -math.inf
        quotient = a / b
        return _num_result(math.floor(quotient) if op == "//" else quotient)
    if op == "%":
        if b == 0 or math.isinf(a):
            return math.nan
        if math.isinf(b):
            return a
        return _num_result(math.fmod(a, b))
    raise NunjucksError(f"unknown operator {op}")


# ----------------------------------------------------------------- member lookup
_TEMPLATE_OBJECTS = (LoopContext, Cycler, Joiner)

def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def js_member(obj: Any, key: Any) -> Any:
    """``obj[key]`` / ``obj.key`` as Nunjucks' memberLookup does it."""
    if obj is None or _is_undef(obj):
        return JsUndefined()
    if isinstance(obj, _TEMPLATE_OBJECTS):  # loop, cycler(), joiner(): their attributes
        value = getattr(obj, str(key), None)
        return JsUndefined() if value is None or str(key).startswith("_") else value
    if isinstance(key, float) and key.is_integer():
        key = int(key)
    if isinstance(obj, Mapping):
        if key in obj:
            return obj[key]
        if not isinstance(key, str) and js_string(key) in obj:
            return obj[js_string(key)]
        if isinstance(key, str) and re.fullmatch(r"-?\d+", key):
            for k in obj:
                if isinstance(k, int) and str(k) == key:
                    return obj[k]
        return JsUndefined(obj=obj, name=str(key))
    if isinstance(obj, list | tuple | str):
        if key == "length":
            return _utf16_len(obj) if isinstance(obj, str) else len(obj)
        if isinstance(key, slice):
            return obj[key]
        if isinstance(key, str) and re.fullmatch(r"\d+", key):
            key = int(key)
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(obj):
            return obj[key]
        return JsUndefined(obj=obj, name=str(key))
    return JsUndefined(obj=obj, name=str(key))


# ----------------------------------------------------------------- filters
def _fail(message: str) -> NunjucksError:
    return jinja2.TemplateRuntimeError(message)


def _normalize(value: Any, default: Any) -> Any:
    if value is None or _is_undef(value) or value is False:
        return default
    return value


def _need_str(value: Any, name: str) -> str:
    if isinstance(value, str):
        return str(value)
    raise _fail(f"{name}: {js_string(value)} is not a string")


def _as_sequence(value: Any, name: str) -> list[Any]:
    """Array-likes as Nunjucks' lib.map / toArray see them."""
    if value is None or _is_undef(value):
        return []
    if isinstance(value, str):
        return list(value)
    if isinstance(value, list | tuple | range):
        return list(value)
    if isinstance(value, Mapping):
        return []
    raise _fail(f"{name}: {js_string(value)} is not a list")


def f_abs(value: Any) -> Any:
    number = js_to_number(value)
    return abs(number)


def f_batch(value: Any, linecount: Any, fill_with: Any = None) -> list[list[Any]]:
    items = _as_sequence(value, "batch")
    size = int(js_to_number(linecount))
    out: list[list[Any]] = []
    tmp: list[Any] = []
    for i, item in enumerate(items):
        if size and i % size == 0 and tmp:
            out.append(tmp)
            tmp = []
        tmp.append(item)
    if tmp:
        if js_truthy(fill_with):
            tmp.extend([fill_with] * (size - len(tmp)))
        out.append(tmp)
    return out


def f_capitalize(value: Any) -> str:
    text = _need_str(_normalize(value, ""), "capitalize").lower()
    return text[:1].upper() + text[1:]


def f_center(value: Any, width: Any = 80) -> str:
    text = _need_str(_normalize(value, ""), "center")
    width = int(js_to_number(width)) if js_truthy(width) else 80
    if len(text) >= width:
        return text
    spaces = width - len(text)
    pre = " " * int(spaces / 2 - spaces % 2)
    post = " " * int(spaces / 2)
    return pre + text + post


def f_default(value: Any, default: Any = None, boolean: Any = False) -> Any:
    if js_truthy(boolean):
        return value if js_truthy(value) else default
    return value if not _is_undef(value) else default


def f_dictsort(value: Any, case_sensitive: Any = False, by: Any = "key") -> list[list[Any]]:
    if not isinstance(value, Mapping):
        raise _fail("dictsort filter: val must be an object")
    index = 0 if by in (None, "key") or _is_undef(by) else 1 if by == "value" else None
    if index is None:
        raise _fail("dictsort filter: You can only sort by either key or value")
    pairs = [[js_string(k), v] for k, v in value.items()]

    def key(pair: list[Any]) -> Any:
        item = pair[index]
        if not js_truthy(case_sensitive) and isinstance(item, str):
            item = item.upper()
        return _SortKey(item)

    return sorted(pairs, key=key)


class _SortKey:
    """JavaScript's relational comparison, enough for sorting mixed values."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _SortKey) -> bool:
        return _js_less(self.value, other.value)


def _js_less(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.encode("utf-16-be") < b.encode("utf-16-be")
    if isinstance(a, str | Mapping | list | tuple) and isinstance(b, str | Mapping | list | tuple):
        return _js_less(js_string(a), js_string(b))
    x, y = js_to_number(a), js_to_number(b)
    if isinstance(x, float) and math.isnan(x) or isinstance(y, float) and math.isnan(y):
        return False
    return x < y


def f_dump(value: Any, spaces: Any = None) -> Any:
    out = js_json(value, None if _is_undef(spaces) else spaces)
    return JsUndefined() if out is None else out


_ESCAPES = {"&": "&amp;", '"': "&quot;", "'": "&#39;", "<": "&lt;", ">": "&gt;",
            "\\": "&#92;"}


def f_escape(value: Any) -> str:
    text = "" if value is None or _is_undef(value) else js_string(value)
    return re.sub(r"[&\"'<>\\]", lambda m: _ESCAPES[m.group(0)], text)


def f_safe(value: Any) -> str:
    return "" if value is None or _is_undef(value) else js_string(value)


def f_first(value: Any) -> Any:
    return js_member(value, 0)


def f_last(value: Any) -> Any:
    if isinstance(value, str | list | tuple):
        return js_member(value, len(value) - 1)
    if value is None or _is_undef(value):
        raise _fail("last: cannot read properties of undefined")
    return JsUndefined()


def f_indent(value: Any, width: Any = 4, indentfirst: Any = False) -> str:
    text = _need_str(_normalize(value, ""), "indent")
    if text == "":
        return ""
    width = int(js_to_number(width)) if js_truthy(width) else 4
    pad = " " * width
    lines = text.split("\n")
    return "\n".join(line if i == 0 and not js_truthy(indentfirst) else pad + line
                     for i, line in enumerate(lines))


def f_join(value: Any, delimiter: Any = "", attribute: Any = None) -> str:
    delimiter = js_string(delimiter) if js_truthy(delimiter) else ""
    if not isinstance(value, list | tuple | range):
        raise _fail(f"join: {js_string(value)} is not a list")
    items = list(value)
    if js_truthy(attribute):
        items = [js_member(v, attribute) for v in items]
    return delimiter.join("" if v is None or _is_undef(v) else js_string(v) for v in items)


def f_length(value: Any) -> int:
    value = _normalize(value, "")
    if isinstance(value, Mapping):
        return len(value)
    if isinstance(value, str):
        return _utf16_len(value)
    if isinstance(value, list | tuple | range):
        return len(value)
    return JsUndefined()  # e.g. a number has no length


def f_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return list(value)
    if isinstance(value, Mapping):
        return [{"key": js_string(k), "value": v} for k, v in value.items()]
    if isinstance(value, list | tuple | range):
        return list(value)
    raise _fail("list filter: type not iterable")


def f_lower(value: Any) -> str:
    return _need_str(_normalize(value, ""), "lower").lower()


def f_upper(value: Any) -> str:
    return _need_str(_normalize(value, ""), "upper").upper()


def f_nl2br(value: Any) -> str:
    if value is None or _is_undef(value):
        return ""
    return re.sub(r"\r\n|\n", "<br />\n", _need_str(value, "nl2br"))


def f_random(value: Any) -> Any:
    items = _as_sequence(value, "random")
    return _random.choice(items) if items else JsUndefined()


def f_replace(value: Any, old: Any, new: Any, max_count: Any = None) -> Any:
    if max_count is None or _is_undef(max_count):
        max_count = -1
    if isinstance(old, int | float) and not isinstance(old, bool):
        old = js_string(old)
    elif not isinstance(old, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = js_string(value)
    if not isinstance(value, str):
        return value
    new = js_string(new)
    if old == "":
        return new + new.join(value) + new
    count = int(js_to_number(max_count))
    if count == 0 or old not in value:
        return value
    return value.replace(old, new, count if count > 0 else -1)


def f_reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(_as_sequence(value, "reverse")))


def f_round(value: Any, precision: Any = 0, method: Any = "common") -> Any:
    precision = int(js_to_number(precision)) if js_truthy(precision) else 0
    factor = 10 ** precision
    number = js_to_number(value) * factor
    if isinstance(number, float) and (math.isnan(number) or math.isinf(number)):
        return number
    if method == "ceil":
        rounded = math.ceil(number)
    elif method == "floor":
        rounded = math.floor(number)
    else:
        rounded = math.floor(number + 0.5)  # Math.round: halves go up
    return _num_result(rounded / factor)


def f_slice(value: Any, slices: Any, fill_with: Any = None) -> list[list[Any]]:
    items = _as_sequence(value, "slice")
    slices = int(js_to_number(slices))
    size = len(items) // slices if slices else 0
    extra = len(items) % slices if slices else 0
    out: list[list[Any]] = []
    offset = 0
    for i in range(slices):
        start = offset + i * size
        if i < extra:
            offset += 1
        end = offset + (i + 1) * size
        chunk = items[start:end]
        if js_truthy(fill_with) and i >= extra:
            chunk.append(fill_with)
        out.append(chunk)
    return out


def f_sum(value: Any, attribute: Any = None, start: Any = 0) -> Any:
    items = _as_sequence(value, "sum")
    if js_truthy(attribute):
        items = [js_member(v, attribute) for v in items]
    total: Any = 0
    for item in items:
        total = js_add(total, item)
    return js_add(start, total)


def f_sort(value: Any, reverse: Any = False, case_sensitive: Any = False,
           attribute: Any = None) -> list[Any]:
    items = _as_sequence(value, "sort")

    def key(item: Any) -> _SortKey:
        x = js_member(item, attribute) if js_truthy(attribute) else item
        if not js_truthy(case_sensitive) and isinstance(x, str):
            x = x.lower()
        return _SortKey(x)

    return sorted(items, key=key, reverse=js_truthy(reverse))


def f_string(value: Any) -> Any:
    return value  # Nunjucks' string filter only copies "safeness"


def f_striptags(value: Any, preserve_linebreaks: Any = False) -> str:
    text = _need_str(_normalize(value, ""), "striptags")
    text = re.sub(r"</?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->", "", text, flags=re.I)
    text = re.sub(r"^\s*|\s*$", "", text)
    if js_truthy(preserve_linebreaks):
        text = re.sub(r"^ +| +$", "", text, flags=re.M)
        text = re.sub(r" +", " ", text)
        text = text.replace("\r\n", "\n")
        return re.sub(r"\n\n\n+", "\n\n", text)
    return re.sub(r"\s+", " ", text)


def f_title(value: Any) -> str:
    text = _need_str(_normalize(value, ""), "title")
    return " ".join(f_capitalize(word) for word in text.split(" "))


def f_trim(value: Any) -> str:
    return re.sub(r"^\s*|\s*$", "", _need_str(value, "trim"))


def f_truncate(value: Any, length: Any = 255, killwords: Any = False,
               end: Any = None) -> str:
    text = _need_str(_normalize(value, ""), "truncate")
    length = int(js_to_number(length)) if js_truthy(length) else 255
    if len(text) <= length:
        return text
    if js_truthy(killwords):
        text = text[:length]
    else:
        idx = text.rfind(" ", 0, length + 1)
        text = text[: length if idx == -1 else idx]
    return text + ("..." if end is None or _is_undef(end) else js_string(end))


def _encode_uri_component(value: Any) -> str:
    return urllib.parse.quote(js_string(value), safe="-_.!~*'()")


def f_urlencode(value: Any) -> str:
    if isinstance(value, str):
        return _encode_uri_component(value)
    pairs = value if isinstance(value, list | tuple) else (
        list(value.items()) if isinstance(value, Mapping) else [])
    return "&".join(f"{_encode_uri_component(js_member(p, 0))}="
                    f"{_encode_uri_component(js_member(p, 1))}" for p in pairs)


def f_wordcount(value: Any) -> Any:
    text = _normalize(value, "")
    if not js_truthy(text):
        return None
    words = re.findall(r"[A-Za-z0-9_]+", _need_str(text, "wordcount"))
    return len(words) if words else None


def _parse_float(value: Any) -> float | int:
    match = re.match(r"\s*([+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|"
                     r"Infinity))", js_string(value))
    if not match:
        return math.nan
    number = float(match.group(1).replace("Infinity", "inf"))
    return _num_result(number)


def f_float(value: Any, default: Any = None) -> Any:
    number = _parse_float(value)
    return default if isinstance(number, float) and math.isnan(number) else number


def f_int(value: Any, default: Any = None, base: Any = 10) -> Any:
    text = js_string(value).strip()
    base = int(js_to_number(base)) if js_truthy(base) else 10
    match = re.match(r"[+-]?[0-9a-zA-Z]+", text)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"[:base]
    if match:
        token = match.group(0)
        sign = -1 if token.startswith("-") else 1
        token = token.lstrip("+-")
        if base == 16 and token.lower().startswith("0x"):
            token = token[2:]
        valid = ""
        for ch in token.lower():
            if ch not in digits:
                break
            valid += ch
        if valid:
            return sign * int(valid, base)
    return default


def f_load(value: Any) -> Any:
    """promptfoo's ``load`` filter: ``JSON.parse``."""
    try:
        return json.loads(js_string(value))
    except ValueError as exc:
        raise _fail(f"load: {exc}") from exc


def _select(expected: bool) -> Callable[..., Any]:
    @jinja2.pass_environment
    def select(env: jinja2.Environment, value: Any, test_name: Any = "truthy",
               *args: Any) -> list[Any]:
        test = env.tests.get(js_string(test_name))
        if test is None:
            raise _fail(f"test not found: {test_name}")
        return [v for v in _as_sequence(value, "select")
                if bool(test(v, *args[:1])) is expected]

    return select


def f_selectattr(value: Any, attribute: Any) -> list[Any]:
    return [v for v in _as_sequence(value, "selectattr") if js_truthy(js_member(v, attribute))]


def f_rejectattr(value: Any, attribute: Any) -> list[Any]:
    return [v for v in _as_sequence(value, "rejectattr")
            if not js_truthy(js_member(v, attribute))]


def f_groupby(value: Any, attribute: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in _as_sequence(value, "groupby"):
        out.setdefault(js_string(js_member(item, attribute)), []).append(item)
    return out


FILTERS: dict[str, Callable[..., Any]] = {
    "abs": f_abs, "batch": f_batch, "capitalize": f_capitalize, "center": f_center,
    "default": f_default, "d": f_default, "dictsort": f_dictsort, "dump": f_dump,
    "escape": f_escape, "e": f_escape, "forceescape": f_escape, "safe": f_safe,
    "first": f_first, "last": f_last, "groupby": f_groupby, "indent": f_indent,
    "join": f_join, "length": f_length, "list": f_list, "lower": f_lower,
    "upper": f_upper, "nl2br": f_nl2br, "random": f_random, "replace": f_replace,
    "reverse": f_reverse, "round": f_round, "slice": f_slice, "sum": f_sum,
    "sort": f_sort, "string": f_string, "striptags": f_striptags, "title": f_title,
    "trim": f_trim, "truncate": f_truncate, "urlencode": f_urlencode,
    "wordcount": f_wordcount, "float": f_float, "int": f_int, "load": f_load,
    "select": _select(True), "reject": _select(False), "selectattr": f_selectattr,
    "rejectattr": f_rejectattr,
}


def _t_truthy(value: Any) -> bool:
    return js_truthy(value)


TESTS: dict[str, Callable[..., bool]] = {
    "defined": lambda v: not _is_undef(v),
    "undefined": _is_undef,
    "null": lambda v: v is None,
    "none": lambda v: v is None,
    "truthy": _t_truthy,
    "falsy": lambda v: not js_truthy(v),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "mapping": lambda v: isinstance(v, Mapping),
    "iterable": lambda v: isinstance(v, list | tuple | str),
    "callable": callable,
    "odd": lambda v: js_to_number(v) % 2 == 1,
    "even": lambda v: js_to_number(v) % 2 == 0,
    "divisibleby": lambda v, n: js_to_number(v) % js_to_number(n) == 0,
    "equalto": lambda v, other=None: _strict_equal(v, other),
    "eq": lambda v, other=None: _strict_equal(v, other),
    "sameas": lambda v, other=None: v is other or _strict_equal(v, other),
    "ne": lambda v, other=None: not _strict_equal(v, other),
    "lower": lambda v: isinstance(v, str) and v.lower() == v,
    "upper": lambda v: isinstance(v, str) and v.upper() == v,
    "escaped": lambda v: False,
    "gt": lambda v, o: _js_less(o, v), "greaterthan": lambda v, o: _js_less(o, v),
    "lt": lambda v, o: _js_less(v, o), "lessthan": lambda v, o: _js_less(v, o),
    "ge": lambda v, o: not _js_less(v, o), "le": lambda v, o: not _js_less(o, v),
}


def _strict_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is b
    if _is_undef(a) or _is_undef(b):
        return _is_undef(a) and _is_undef(b)
    return a is b


def _loose_equal(a: Any, b: Any) -> bool:
    """JavaScript's ``==`` (what Nunjucks compiles ``==`` to)."""
    nullish_a = a is None or _is_undef(a)
    nullish_b = b is None or _is_undef(b)
    if nullish_a or nullish_b:
        return nullish_a and nullish_b
    objects = (Mapping, list, tuple)
    if isinstance(a, objects) and isinstance(b, objects):
        return a is b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, objects):
        a = js_string(a)
    if isinstance(b, objects):
        b = js_string(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    x, y = js_to_number(a), js_to_number(b)
    return x == y


# ----------------------------------------------------------------- the environment
class _JsSemantics(NodeTransformer):
    """Rewrites a parsed template so conditions, loops, ``~`` and ``==`` behave as in
    Nunjucks (JavaScript truthiness, mapping loops, ``String()`` concatenation)."""

    @staticmethod
    def _call(name: str, node: nodes.Expr, *args: nodes.Expr) -> nodes.Filter:
        return nodes.Filter(node, name, list(args), [], None, None, lineno=node.lineno)

    def _truthy(self, node: nodes.Expr) -> nodes.Expr:
        return self._call("__js_truthy", node)

    def visit_If(self, node: nodes.If) -> nodes.Node:
        node = self.generic_visit(node)
        node.test = self._truthy(node.test)
        return node

    def visit_CondExpr(self, node: nodes.CondExpr) -> nodes.Node:
        node = self.generic_visit(node)
        node.test = self._truthy(node.test)
        return node

    def visit_Not(self, node: nodes.Not) -> nodes.Node:
        node = self.generic_visit(node)
        return nodes.Not(self._truthy(node.node), lineno=node.lineno)

    def visit_And(self, node: nodes.And) -> nodes.Node:
        node = self.generic_visit(node)
        return self._call("__js_and", node.left, node.right)

    def visit_Or(self, node: nodes.Or) -> nodes.Node:
        node = self.generic_visit(node)
        return self._call("__js_or", node.left, node.right)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        pairs = isinstance(node.target, nodes.Tuple) and len(node.target.items) == 2
        node.iter = self._call("__js_iter", node.iter, nodes.Const(pairs))
        if node.test is not None:
            node.test = self._truthy(node.test)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return self._call("__js_concat", nodes.List(node.nodes, lineno=node.lineno))

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        node = self.generic_visit(node)
        if len(node.ops) == 1 and node.ops[0].op in ("eq", "ne"):
            equal = self._call("__js_eq", node.expr, node.ops[0].expr)
            return equal if node.ops[0].op == "eq" else nodes.Not(equal, lineno=node.lineno)
        return node


def _js_iter(value: Any, pairs: bool) -> Iterable[Any]:
    if isinstance(value, list | tuple | range):
        return list(value)
    if isinstance(value, Mapping):
        return [(js_string(k), v) for k, v in value.items()] if pairs else []
    if value is None or _is_undef(value):
        return []
    if isinstance(value, str):
        return list(value)
    raise _fail(f"{js_string(value)} is not iterable")


class NunjucksEnvironment(BudgetedSandbox):
    """A Jinja2 sandbox that behaves like promptfoo's Nunjucks environment, under the
    same render budget (steps, time, size) as registry prompts."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"-", "+"})

    def __init__(self) -> None:
        super().__init__(undefined=JsUndefined, autoescape=False, keep_trailing_newline=True,
                         finalize=_output, optimized=False)
        self.filters = dict(FILTERS)
        self.filters.update({
            "__js_truthy": js_truthy,
            "__js_and": lambda a, b: b if js_truthy(a) else a,
            "__js_or": lambda a, b: a if js_truthy(a) else b,
            "__js_iter": _js_iter,
            "__js_concat": lambda parts: "".join(_output(p) if p is not None else "null"
                                                 for p in parts),
            "__js_eq": _loose_equal,
        })
        for name in _AMPLIFYING_FILTERS & set(self.filters):
            self.filters[name] = _budgeted_filter(name, self.filters[name])
        self.tests = dict(TESTS)
        self.globals = {
            "range": _js_range,
            "cycler": self.globals["cycler"],
            "joiner": self.globals["joiner"],
        }
        if not (_env_flag("PROMPTFOO_DISABLE_TEMPLATE_ENV_VARS")
                or _env_flag("PROMPTFOO_SELF_HOSTED")):
            self.globals["env"] = dict(os.environ)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _JsSemantics().visit(super()._parse(source, name, filename))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        meter = _meter()
        if meter is not None:
            meter.tick()  # JavaScript operators never repeat text: only "+" grows a value
        result = _arith(operator, left, right)
        if meter is not None:
            meter.check_size(_size(result), "a value")
        return result

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        number = js_to_number(arg)
        return -number if operator == "-" else number

    def getattr(self, obj: Any, attribute: str) -> Any:
        return js_member(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return js_member(obj, argument)


def _js_range(start: Any, stop: Any = None, step: Any = 1) -> list[int]:
    if stop is None or _is_undef(stop):
        start, stop = 0, start
    start, stop, step = (int(js_to_number(x)) for x in (start, stop, step))
    if step == 0 or abs((stop - start) // step) > 100_000:
        raise _fail("range: too many items")
    return list(range(start, stop, step))


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


_ENV = NunjucksEnvironment()


@lru_cache(maxsize=4096)
def _compile(text: str) -> jinja2.Template:
    return _ENV.from_string(text)


_CR = "\U000f0d0d"  # stands for "\r" while Jinja reads the source (it rewrites newlines)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """``nunjucks.renderString(text, variables)`` as promptfoo configures it (no
    autoescape, missing variables empty). Raises :data:`NunjucksError` (a
    ``jinja2.TemplateError``) when the template cannot render."""
    if "{" not in text:  # no tag, variable or comment: the text is its own output
        return text
    if "\r" in text:  # Nunjucks keeps \r and \r\n in the text; Jinja would make them \n
        return render(text.replace("\r", _CR), variables).replace(_CR, "\r")
    from harness.templating import render_budget

    try:
        with metered(render_budget()):
            return _compile(text).render(dict(variables))
    except jinja2.TemplateError:
        raise
    except (TypeError, ValueError, AttributeError, ZeroDivisionError, RecursionError,
            OverflowError) as exc:
        raise jinja2.TemplateRuntimeError(f"{type(exc).__name__}: {exc}") from exc


_VAR_REFERENCE = re.compile(r"\{\{[\s]*([^{}\s|]+)[\s]*(?:\|[^}]+)?\}\}"
                            r"|\{%[\s]*(?:if|for)[\s]+([^{}\s]+)[\s]*.*?%\}")
_FOR_LOOP = re.compile(r"\{%[\s]*for[\s]+(\w+)[\s]+in[\s]+(\w+)[\s]*%\}")


def template_references(template: str) -> list[str]:
    """The variables promptfoo thinks a template uses (its regex-based
    ``extractVariablesFromTemplate``, quirks included)."""
    template = re.sub(r"\{#[\s\S]*?#\}", "", template)
    found: dict[str, None] = {}
    for match in _VAR_REFERENCE.finditer(template):
        variable = match.group(1) or match.group(2)
        if variable:
            found[variable] = None
    for match in _FOR_LOOP.finditer(template):
        found.pop(match.group(1), None)
        found[match.group(2)] = None
    return list(found)
