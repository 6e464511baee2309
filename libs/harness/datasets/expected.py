"""promptfoo's CSV ``__expected`` cell syntax → an assertion dict.

``contains: foo`` → contains; ``not-contains: foo``; ``icontains:``; ``starts-with:``;
``regex:``; ``is-json`` (optionally with a schema after the colon); ``contains-json``;
``equals:``; ``levenshtein(3): foo``; ``similar(0.8): foo``; ``grade: ...`` /
``llm-rubric: ...``; ``contains-any: a,b`` (and -all, i- variants); ``latency(500)``,
``cost(0.01)``; plain text → ``equals``. Types harness cannot run (``javascript:``,
``python:``, ``file://``) are rejected with a reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

_UNSUPPORTED = ("javascript:", "fn:", "eval:", "python:", "file://", "webhook:")
_WITH_NUMBER = re.compile(
    r"^(not-)?(similar|levenshtein|latency|cost|perplexity)\(([^)]*)\)\s*:?\s*(.*)$", re.S)
_SIMPLE = ("contains-any", "contains-all", "icontains-any", "icontains-all", "contains-json",
           "is-json", "starts-with", "contains", "icontains", "regex", "equals", "llm-rubric",
           "similar", "levenshtein")


class ExpectedSyntaxError(ValueError):
    pass


def expected_to_assertion(cell: str) -> dict[str, Any]:
    text = cell.strip()
    if not text:
        raise ExpectedSyntaxError("empty __expected value")
    lowered = text.lower()
    for prefix in _UNSUPPORTED:
        if lowered.startswith(prefix) or lowered.startswith("not-" + prefix):
            raise ExpectedSyntaxError(f"{prefix.rstrip(':')} assertions cannot run in harness")
    m = _WITH_NUMBER.match(text)
    if m:
        negate, kind, number, rest = m.groups()
        try:
            threshold = float(number)
        except ValueError as exc:
            raise ExpectedSyntaxError(f"{kind}({number}): not a number") from exc
        out: dict[str, Any] = {"type": f"{negate or ''}{kind}", "threshold": threshold}
        if rest.strip():
            out["value"] = rest.strip()
        return out
    for prefix in ("grade:", "llm-rubric:"):
        if lowered.startswith(prefix):
            return {"type": "llm-rubric", "value": text[len(prefix):].strip()}
    for kind in _SIMPLE:
        for negate in ("", "not-"):
            name = negate + kind
            if lowered == name:
                return {"type": name}
            if lowered.startswith(name + ":"):
                value = text[len(name) + 1:].strip()
                if kind in ("is-json", "contains-json") and value:
                    try:
                        return {"type": name, "value": json.loads(value)}
                    except json.JSONDecodeError as exc:
                        raise ExpectedSyntaxError(f"{name}: schema is not JSON: {exc}") from exc
                if kind.endswith(("-any", "-all")):
                    return {"type": name, "value": [v.strip() for v in value.split(",")]}
                return {"type": name, "value": value}
    return {"type": "equals", "value": text}
