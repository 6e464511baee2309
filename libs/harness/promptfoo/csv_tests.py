"""promptfoo's CSV test conventions.

Every column is a variable except the special ones: ``__expected`` (and ``__expected1``,
``__expected2``, ...) hold one assertion each, written as ``type:value`` shorthand;
``__description``, ``__metric`` (a metric name given to every assertion of the row),
``__threshold`` (the test's threshold), ``__prefix`` / ``__suffix`` (added around the
prompt) and ``__providerOutput`` (not supported: it would skip the model call).
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

from .errors import ConfigError

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


def assertion_from_string(expected: str) -> dict[str, Any]:
    """An assertion from promptfoo's ``__expected`` shorthand.

    ``contains:x``, ``icontains:x``, ``regex:x``, ``is-json``, ``not-contains:x``,
    ``contains-any:a,b``, ``similar(0.9):x``, ``grade:x`` / ``llm-rubric:x`` →
    ``llm-rubric``; ``javascript:`` / ``python:`` / ``file://*.js|py`` → the code
    assertion types (which harness reports as unsupported); anything else → ``equals``.
    """
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


def csv_row_to_test(row: dict[str, str], *, file: Path | str, row_number: int) -> dict:
    """A promptfoo test case from one CSV row (``row_number`` counts data rows from 1)."""
    variables: dict[str, str] = {}
    asserts: list[dict] = []
    options: dict[str, Any] = {}
    description = metric = None
    threshold: float | None = None
    for key, value in row.items():
        if key is None:  # more cells than headers
            raise ConfigError(
                f"row has {len(row) - 1 + len(value)} cells but the header names {len(row) - 1}",
                file=file, location=f"row {row_number}",
            )
        value = "" if value is None else value
        where = f"row {row_number}, column {key}"
        if key.startswith("__expected"):
            if value.strip():
                asserts.append(assertion_from_string(value))
        elif key == "__description":
            description = value
        elif key == "__metric":
            metric = value
        elif key == "__threshold":
            if value.strip():
                try:
                    threshold = float(value)
                except ValueError:
                    raise ConfigError(f"threshold {value!r} is not a number",
                                      file=file, location=where) from None
        elif key in ("__prefix", "__suffix"):
            options[key[2:]] = value
        elif key == "__providerOutput":
            if value.strip():
                raise ConfigError("__providerOutput (grading a given output without calling "
                                  "the model) is not supported", file=file, location=where)
        else:
            variables[key] = value
    for a in asserts:
        if metric:
            a["metric"] = metric
    test: dict[str, Any] = {"vars": variables, "assert": asserts, "options": options}
    if description:
        test["description"] = description
    if threshold is not None and threshold and not math.isnan(threshold):
        test["threshold"] = threshold
    return test


def read_csv_rows(text: str, *, file: Path | str) -> list[dict[str, str]]:
    """Rows of a CSV with a header line (a UTF-8 BOM is ignored)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ConfigError(f"invalid CSV: {exc}", file=file,
                          location=f"line {reader.line_num}") from exc
    if reader.fieldnames is None:
        raise ConfigError("the CSV is empty (it needs a header row)", file=file)
    blank = [i for i, name in enumerate(reader.fieldnames) if not (name or "").strip()]
    if blank:
        raise ConfigError(f"header column {blank[0] + 1} has no name", file=file,
                          location="line 1")
    return rows


def csv_to_tests(text: str, *, file: Path | str) -> list[tuple[dict, str]]:
    """(test, location) for each row, described ``Row #n`` unless ``__description`` says."""
    out = []
    for i, row in enumerate(read_csv_rows(text, file=file), start=1):
        test = csv_row_to_test(row, file=file, row_number=i)
        test.setdefault("description", f"Row #{i}")
        out.append((test, f"row {i}"))
    return out
