"""A CSV ``__expected`` cell of a dataset import → an assertion dict.

The grammar is promptfoo's shorthand (``harness.assertions.shorthand``: ``contains: foo``,
``not-icontains:``, ``regex:``, ``is-json`` with an optional JSON schema,
``similar(0.8): foo``, ``grade:`` / ``llm-rubric:``, ``contains-any: a,b``,
``latency(500)``, plain text → ``equals``), with the spaces around a value trimmed. What
harness cannot run is refused here with a reason: code assertions (``javascript:``,
``fn:``, ``eval:``, ``python:``, ``ruby``, ``webhook``) and ``file://`` references. Every
other check of the assertion is the engine's (``parse_assertions``), as for any case.
"""

from __future__ import annotations

import json
from typing import Any

from harness.assertions.shorthand import assertion_from_string

_CODE_TYPES = {"javascript", "python", "ruby", "webhook"}
_SCHEMA_TYPES = {"is-json", "contains-json"}


class ExpectedSyntaxError(ValueError):
    pass


def expected_to_assertion(cell: str) -> dict[str, Any]:
    text = cell.strip()
    if not text:
        raise ExpectedSyntaxError("empty __expected value")
    if text.lower().startswith("file://"):
        raise ExpectedSyntaxError("file:// references cannot be imported; put the value in "
                                  "the cell")
    out = assertion_from_string(text, trim=True)
    base = out["type"].removeprefix("not-")
    if base in _CODE_TYPES:
        raise ExpectedSyntaxError(f"{base} assertions (code) cannot run in harness")
    if out.get("value") is None or (base in _SCHEMA_TYPES and out["value"] == ""):
        out.pop("value", None)  # e.g. latency(500), or is-json without a schema
    elif base in _SCHEMA_TYPES:
        try:
            out["value"] = json.loads(out["value"])
        except json.JSONDecodeError as exc:
            raise ExpectedSyntaxError(f"{out['type']}: schema is not JSON: {exc}") from exc
    return out
