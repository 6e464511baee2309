"""promptfoo's ``__expected`` shorthand: ``type:value`` → an assertion dict.

One grammar for both places that read it: promptfoo configs (``harness eval``, which keeps
promptfoo's exact values) and the registry's CSV import (which trims the spaces around a
value, so ``contains: 4`` checks for ``4``; see ``harness.datasets.expected``).
"""

from __future__ import annotations

import re
from typing import Any

# Assertion types promptfoo knows, so that ``type:value`` shorthand is recognised for all
# of them (the ones harness cannot evaluate are then reported by name, not run as
# ``equals``).
PROMPTFOO_ASSERTION_TYPES: tuple[str, ...] = (
    "answer-relevance", "bleu", "classifier", "contains", "contains-all", "contains-any",
    "contains-html", "contains-json", "contains-sql", "contains-xml", "context-faithfulness",
    "context-recall", "context-relevance", "conversation-relevance", "cost", "equals",
    "factuality", "finish-reason", "g-eval", "gleu", "guardrails", "icontains",
    "icontains-all", "icontains-any", "is-html", "is-json", "is-refusal", "is-sql",
    "is-valid-function-call", "is-valid-openai-function-call", "is-valid-openai-tools-call",
    "is-xml", "javascript", "latency", "levenshtein", "llm-rubric", "pi", "meteor",
    "model-graded-closedqa", "model-graded-factuality", "moderation", "perplexity",
    "perplexity-score", "python", "regex", "rouge-n", "ruby", "similar", "similar:cosine",
    "similar:dot", "similar:euclidean", "starts-with", "tool-call-f1", "trace-error-spans",
    "trace-span-count", "trace-span-duration", "search-rubric", "webhook", "word-count",
)

# Types whose shorthand carries a threshold: ``similar(0.9):text``; without one promptfoo
# uses 0.8 for ``similar`` and 0.75 for the others.
_THRESHOLD_TYPES = {
    "answer-relevance", "classifier", "context-faithfulness", "context-recall",
    "context-relevance", "cost", "latency", "levenshtein", "perplexity-score", "perplexity",
    "rouge-n", "similar", "starts-with",
}
_LIST_TYPES = {"contains-all", "contains-any", "icontains-all", "icontains-any"}
_SIMILAR_DEFAULT_THRESHOLD = 0.8
_OTHER_DEFAULT_THRESHOLD = 0.75

# Longest names first, so ``contains-any`` is not read as ``contains`` + ``-any``.
_SHORTHAND = re.compile(
    r"^(not-)?("
    + "|".join(re.escape(t) for t in sorted(PROMPTFOO_ASSERTION_TYPES, key=len, reverse=True))
    + r")(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$"
)

_CODE_PREFIXES = ("javascript:", "fn:", "eval:", "python:")


def assertion_from_string(expected: str, *, trim: bool = False) -> dict[str, Any]:
    """An assertion from promptfoo's ``__expected`` shorthand.

    ``contains:x``, ``icontains:x``, ``regex:x``, ``is-json``, ``not-contains:x``,
    ``contains-any:a,b``, ``similar(0.9):x``, ``grade:x`` / ``llm-rubric:x`` →
    ``llm-rubric``; ``javascript:`` / ``python:`` / ``file://*.js|py`` → the code
    assertion types (which harness reports as unsupported); anything else → ``equals``.
    Values are kept as written, as promptfoo does (``contains: 4`` → ``" 4"``) unless
    ``trim`` (then ``"4"``; list items are trimmed either way).
    """
    if trim:
        out = assertion_from_string(expected.strip())
        if isinstance(out.get("value"), str):
            out["value"] = out["value"].strip()
        return out
    for prefix in _CODE_PREFIXES:
        if expected.startswith(prefix):
            kind = "python" if prefix == "python:" else "javascript"
            return {"type": kind, "value": expected[len(prefix):].strip()}
    if expected.startswith("grade:"):
        return {"type": "llm-rubric", "value": expected[len("grade:"):]}
    if expected.startswith("llm-rubric:"):
        return {"type": "llm-rubric", "value": expected[len("llm-rubric:"):]}
    if expected.startswith("file://"):
        target = expected[len("file://"):].strip()
        path_part = target.split(":", 1)[0]
        if path_part.endswith(".py"):
            return {"type": "python", "value": target}
        if path_part.endswith((".js", ".ts", ".mjs", ".cjs")):
            return {"type": "javascript", "value": target}
    match = _SHORTHAND.match(expected)
    if match is None:
        return {"type": "equals", "value": expected}
    negate, base, threshold_text, value = match.groups()
    full_type = f"not-{base}" if negate else base
    if base in _LIST_TYPES:
        return {"type": full_type, "value": [s.strip() for s in (value or "").split(",")]}
    if base in ("contains-json", "is-json"):
        out: dict[str, Any] = {"type": full_type}
        if value:
            out["value"] = value
        return out
    if base in _THRESHOLD_TYPES:
        threshold = float(threshold_text) if threshold_text else 0.0
        if not threshold:
            threshold = (_SIMILAR_DEFAULT_THRESHOLD if base == "similar"
                         else _OTHER_DEFAULT_THRESHOLD)
        return {"type": full_type, "value": value, "threshold": threshold}
    out = {"type": full_type}
    if value is not None:
        out["value"] = value
    return out
