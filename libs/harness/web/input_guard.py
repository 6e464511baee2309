"""Input no column or serializer can hold, found before any route runs.

PostgreSQL's ``text`` and ``jsonb`` refuse the NUL character, ``jsonb`` and orjson refuse
integers beyond 64 bits and non-finite numbers, and orjson refuses documents nested deeper
than 255 levels. Each of these used to reach the database or the serializer and come back
as a 500. One check here answers them all with a 422 that names the field, so no route
needs its own copy.

The checks are pure functions over a request's parts; the registry's
``services/registry/limits.py`` calls them from its ASGI middleware (which already holds
the body to count its size); the gateway validates against ``INT32_MAX`` too.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import AfterValidator

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects a JSON body may have."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MAX = 2**31 - 1
"""The range of PostgreSQL ``integer`` columns (versions, counts, max_tokens)."""



def _storable_time(value: datetime) -> datetime:
    """A time with its offset that PostgreSQL's ``timestamptz`` takes: one whose UTC moment
    lies in years 1 to 9999 (``0001-01-01T00:00:00+14:00`` is in year 0 in UTC and was
    a 500 from the database driver)."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range: the time in UTC must lie in years 1 to "
                             "9999") from None
    return value


Timestamp = Annotated[datetime, AfterValidator(_storable_time)]
"""An ISO time a query or a body may give (``since``, ``until``, ``as_of``)."""

# Anything that may hide a value the walk below refuses; bodies without one (nearly all)
# skip the walk. Digit runs and exponents may sit inside strings: then the walk finds
# nothing and the body passes.
_SUSPECT = re.compile(rb"\\u0000|[0-9]{19}|[eE]\+?[0-9]{3}|NaN|Infinity")


@dataclass(frozen=True)
class BadInput:
    """Where (``field``, dotted like validation errors) and what is wrong."""

    location: str  # body | query | path
    field: str
    message: str

    def as_error(self) -> dict[str, str]:
        return {"field": self.field, "location": self.location, "message": self.message}


def check_path(path: str) -> BadInput | None:
    if "\x00" in path:
        return BadInput("path", "path", "contains a NUL character (\\u0000)")
    return None


def check_query(raw: bytes) -> BadInput | None:
    if not raw or (b"%00" not in raw and b"\x00" not in raw):
        return None
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return BadInput("query", name.replace("\x00", "\\u0000"),
                            "contains a NUL character (\\u0000)")
    return None


def check_json_body(body: bytes, *, nul: bool = True) -> BadInput | None:
    """The first value of a JSON body that cannot be stored, or None.

    A body that is not JSON at all is left to the route's own parsing (it answers 422 or,
    on /v1, the OpenAI-style 400). ``nul=False`` lets text with NUL characters through
    (the gateway forwards it to providers; its trace store makes text storable)."""
    brackets = body.count(b"[") + body.count(b"{")
    if brackets <= MAX_JSON_DEPTH and not _SUSPECT.search(body):
        return None
    try:
        doc = json.loads(body)
    except RecursionError:
        return BadInput("body", "body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    except (ValueError, UnicodeDecodeError):
        return None
    return find_unstorable(doc, nul=nul)


def find_unstorable(doc: Any, *, nul: bool = True) -> BadInput | None:
    """Walk a parsed JSON document (iteratively: depth is what may be wrong)."""
    stack: list[tuple[Any, tuple[str, ...], int]] = [(doc, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return _bad(path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                key = str(k)
                if nul and "\x00" in key:
                    return _bad((*path, key.replace("\x00", "\\u0000")),
                                "a key contains a NUL character (\\u0000)")
                stack.append((v, (*path, key), depth + 1))
        elif isinstance(value, str):
            if nul and "\x00" in value:
                return _bad(path, "contains a NUL character (\\u0000)")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                return _bad(path, "integer beyond 64 bits")
        elif isinstance(value, float) and not math.isfinite(value):
            return _bad(path, "number is not finite")
    return None


def check_form(fields: dict[str, Any]) -> BadInput | None:
    """Form fields (multipart bodies stream past the middleware: routes call this)."""
    bad = find_unstorable(fields)
    return BadInput("form", bad.field, bad.message) if bad else None


def _bad(path: tuple[str, ...], message: str) -> BadInput:
    return BadInput("body", ".".join(path) or "body", message)
