"""Text that PostgreSQL can store: the one rule for events, traces and run results.

Postgres ``text`` cannot hold the NUL character and ``jsonb`` refuses ``\\u0000``; UTF-8
(and so asyncpg, orjson and Postgres) cannot encode a lone surrogate, which is what a JSON
escape such as ``"\\ud800"`` without its pair decodes to in Python. Model outputs, provider
errors and client requests may contain either, and one such string used to fail a whole
batch of writes. The rule, applied to every string (and every mapping key) we store:

- U+0000 (NUL) becomes U+FFFD (the replacement character);
- a lone surrogate (U+D800..U+DFFF) becomes U+FFFD;
- everything else is kept as it is.

Input from an API caller is refused instead (a 4xx naming the field) where the API
validates it; this rule is for what we record about the outside world, which must never
be lost for one bad character.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (the same object when it
    has neither, so the common case costs one scan)."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def storable(value: Any) -> Any:
    """``value`` with :func:`storable_text` applied to every string inside it (dict keys,
    values, list and tuple items, at any depth); other values are returned unchanged.
    Containers are copied only when something inside them changed."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        out = {}
        changed = False
        for k, v in value.items():
            nk = storable_text(k) if isinstance(k, str) else k
            nv = storable(v)
            changed = changed or nk is not k or nv is not v
            out[nk] = nv
        return out if changed else value
    if isinstance(value, list | tuple):
        items = [storable(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items) if isinstance(value, tuple) else items
    return value


def is_unstorable(exc: BaseException) -> bool:
    """Whether a failed write failed because of the values written (so the other rows of
    a batch, or a smaller stand-in for the value, can still be stored), not because of
    the database (connection, resources, a deadlock: those fail every row alike).

    Values: Python-side encoding errors (``ValueError``/``TypeError``, which asyncpg's
    argument errors and orjson's errors are), Postgres data exceptions (class 22, e.g. a
    number out of a column's range), program limits (class 54, e.g. an index row too
    large) and integrity violations (class 23)."""
    if isinstance(exc, ValueError | TypeError):
        return True
    import asyncpg

    return isinstance(exc, asyncpg.DataError | asyncpg.ProgramLimitExceededError
                      | asyncpg.IntegrityConstraintViolationError)
