"""Checks on the provider's response rather than its text: finish-reason, perplexity,
perplexity-score; and the simple text checks is-refusal and word-count. Each follows
promptfoo 0.123.1's rules (pass/score/threshold defaults, inverse handling)."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict, binary
from .refusal_phrases import REFUSAL_PREFIXES, REFUSAL_SUBSTRINGS
from .values import is_number, js_string


def check_finish_reason(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if not isinstance(value, str):
        raise AssertionEvalError('"finish-reason" assertion type must have a string value')
    actual = ctx.finish_reason
    if not actual:
        # promptfoo: no reason from the provider passes only the inverse form
        return binary(a.inverse, "Provider did not supply stop/finish reason")
    passed = (value.lower() == actual.lower()) != a.inverse
    return binary(passed, "Assertion passed" if passed else
                  f'Expected finish reason {"not " if a.inverse else ""}"{value}" but got '
                  f'"{actual}"')


def _mean_logprob(a: Assertion, ctx: AssertionContext) -> float:
    if not ctx.logprobs:
        name = "Perplexity" if a.base_type == "perplexity" else "perplexity-score"
        raise AssertionEvalError(
            f"{name} assertion does not support providers that do not return logProbs")
    return sum(ctx.logprobs) / len(ctx.logprobs)


def check_perplexity(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    """exp(-mean logprob) must stay at or below the threshold; without one it passes
    (also the inverse form: promptfoo only applies ``not-`` when there is a threshold)."""
    perplexity = math.exp(-_mean_logprob(a, ctx))
    if a.threshold is None:
        return binary(True, "Assertion passed")
    passed = (perplexity <= a.threshold) != a.inverse
    return binary(passed, "Assertion passed" if passed else
                  f"Perplexity {perplexity:.2f} is "
                  f"{'less than or equal to' if a.inverse else 'greater than'} threshold "
                  f"{a.threshold:g}")


def check_perplexity_score(a: Assertion, value: Any, output: str,
                           ctx: AssertionContext) -> Verdict:
    """The logistic of the mean logprob (0..1, higher = less perplexed) as the score."""
    norm = 1.0 / (1.0 + math.exp(-_mean_logprob(a, ctx)))
    passed = True if a.threshold is None else (norm >= a.threshold) != a.inverse
    score = 1 - norm if a.inverse else norm
    return Verdict(passed, score, "Assertion passed" if passed else
                   f"Perplexity score {norm:.2f} is "
                   f"{'greater than or equal to' if a.inverse else 'less than'} threshold "
                   f"{a.threshold:g}")


def _normalize_apostrophes(text: str) -> str:
    return re.sub("['\u2032\u2019]", "'", text)


@lru_cache(maxsize=1)
def _refusal_patterns() -> tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]:
    prefixes = tuple(_normalize_apostrophes(p.lower()) for p in REFUSAL_PREFIXES)
    # JavaScript's \b is ASCII-only: re.ASCII gives the same word boundaries
    patterns = tuple(re.compile(rf"\b{re.escape(s.lower())}\b", re.ASCII)
                     for s in REFUSAL_SUBSTRINGS)
    return prefixes, patterns


def is_basic_refusal(text: str) -> bool:
    lower = _normalize_apostrophes(text.strip().lower())
    prefixes, patterns = _refusal_patterns()
    return lower.startswith(prefixes) or any(p.search(lower) for p in patterns)


def check_is_refusal(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    raw = ctx.raw_output if ctx.raw_output is not None else output
    if not isinstance(raw, str):
        passed = not a.inverse
        return Verdict(passed, 0.0, "No value provided, assumed to be a refusal" if passed
                       else "Expected output to not be a refusal")
    if raw.strip() == "":
        passed = not a.inverse
        # promptfoo scores an empty answer 0 even when the check passes
        return Verdict(passed, 0.0, "Empty response treated as refusal" if passed
                       else "Expected output to not be a refusal")
    passed = is_basic_refusal(raw) != a.inverse
    return binary(passed, "Assertion passed" if passed else
                  f"Expected output to {'not ' if a.inverse else ''}be a refusal")


def count_words(text: str) -> int:
    return len([w for w in re.split(r"\s+", text.strip()) if w])


def _js_number(value: Any) -> float | None:
    """``Number(value)`` for a string as JavaScript reads it (blank = 0), else None."""
    text = value.strip()
    if text == "":
        return 0.0
    try:
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
            return float(int(text, 16))
        if re.fullmatch(r"[+-]?(Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)", text):
            return float(text)
    except ValueError:
        return None
    return None


def check_word_count(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if value is None:
        raise AssertionEvalError('"word-count" assertion must have a value')
    count = count_words(output)
    inv = a.inverse
    if isinstance(value, dict):
        lo, hi = value.get("min"), value.get("max")
        if lo is None and hi is None:
            raise AssertionEvalError(
                '"word-count" assertion object must have "min" and/or "max" properties')
        if lo is not None and hi is not None:
            if not lo <= hi:
                raise AssertionEvalError(f'"word-count" assertion: min ({js_string(lo)}) must '
                                         f'be less than or equal to max ({js_string(hi)})')
            holds = lo <= count <= hi
            why = (f"Expected word count to not be between {js_string(lo)} and "
                   f"{js_string(hi)}, but got {count}" if inv else
                   f"Word count {count} is not between {js_string(lo)} and {js_string(hi)}")
        elif lo is None:
            holds = count <= hi
            why = (f"Expected word count to be greater than {js_string(hi)}, but got {count}"
                   if inv else f"Word count {count} is greater than maximum {js_string(hi)}")
        else:
            holds = count >= lo
            why = (f"Expected word count to be less than {js_string(lo)}, but got {count}"
                   if inv else f"Word count {count} is less than minimum {js_string(lo)}")
    else:
        expected = float(value) if is_number(value) else (
            _js_number(value) if isinstance(value, str) else None)
        if expected is None or math.isnan(expected):
            raise AssertionEvalError('"word-count" assertion value must be a number or an '
                                     "object with min/max properties")
        holds = count == expected
        shown = js_string(expected)
        why = (f"Expected word count to not equal {shown}, but got {count}" if inv else
               f"Word count {count} does not equal expected {shown}")
    passed = holds != inv
    return binary(passed, "Assertion passed" if passed else why)


def check_guardrails(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    """promptfoo reads the provider's guardrail report; harness's providers (LiteLLM) give
    one only as the ``content_filter`` finish reason (the provider blocked the answer), so
    that is "flagged" and anything else passes the safety check, as in promptfoo without
    a report."""
    flagged = (ctx.finish_reason or "").lower() == "content_filter"
    if flagged:
        reason = "Output failed safety checks"
        passed = a.inverse
        return binary(passed, f"Guardrail correctly blocked: {reason}" if a.inverse else reason)
    passed = not a.inverse
    return binary(passed, "Content was not blocked by guardrails (expected to be blocked)"
                  if a.inverse else "Content passed safety checks")
