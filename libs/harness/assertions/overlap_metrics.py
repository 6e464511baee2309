"""Reference-overlap scores: bleu, gleu and rouge-n, computed the way promptfoo 0.123.1
computes them (its own BLEU/GLEU code; ROUGE-N with clipped counts over a Penn Treebank
tokenization), so the same output gets the same number and verdict."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict
from .treebank import treebank_tokenize


def ngrams(words: list[str], n: int) -> list[str]:
    if n <= 0 or n > len(words):
        return []
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def _js_split_words(text: str) -> list[str]:
    # JavaScript's text.toLowerCase().trim().split(/\s+/): an empty text gives [""]
    return re.split(r"\s+", text.lower().strip())


def bleu_score(candidate: str, references: list[str],
               weights: tuple[float, ...] = (0.25, 0.25, 0.25, 0.25)) -> float:
    """Sentence BLEU up to 4-grams with the closest reference length for the brevity
    penalty; orders the candidate is too short for are left out and the remaining
    weights renormalised; a zero precision counts as 1e-7."""
    if not references:
        raise AssertionEvalError("Invalid inputs")
    if candidate.strip() == "":
        return 0.0
    cand = _js_split_words(candidate)
    refs = [_js_split_words(r) for r in references]
    closest = refs[0].__len__()
    for words in refs[1:]:
        cur, dist_cur, dist_prev = len(words), abs(len(words) - len(cand)), abs(closest - len(cand))
        if dist_cur < dist_prev or (dist_cur == dist_prev and cur < closest):
            closest = cur
    usable: list[tuple[float, float]] = []
    for n in range(1, 5):
        grams = ngrams(cand, n)
        if not grams:
            continue
        counts = Counter(grams)
        best = 0
        for ref in refs:
            ref_counts = Counter(ngrams(ref, n))
            clipped = sum(min(c, ref_counts.get(g, 0)) for g, c in counts.items())
            best = max(best, clipped)
        usable.append((best / len(grams), weights[n - 1]))
    bp = 1.0 if len(cand) > closest else math.exp(1 - closest / len(cand))
    weight_sum = sum(w for _, w in usable)
    if weight_sum == 0:
        return 0.0
    total = sum(w / weight_sum * math.log(p if p != 0 else 1e-7) for p, w in usable)
    return bp * math.exp(total)


def _gleu_words(text: str) -> list[str]:
    words = [w.rstrip(".") for w in _js_split_words(text)]
    return words if any(words) else []


def gleu_score(candidate: str, references: list[str], min_n: int = 1, max_n: int = 4) -> float:
    """min(precision, recall) over all 1..4-grams, best over the references; identical
    token lists score 1."""
    if not references:
        raise AssertionEvalError("Invalid inputs")
    cand = _gleu_words(candidate)
    if not cand:
        return 0.0
    scores = []
    for reference in references:
        ref = _gleu_words(reference)
        if cand == ref:
            scores.append(1.0)
            continue
        match = cand_total = ref_total = 0
        for n in range(min_n, max_n + 1):
            c_grams, r_grams = ngrams(cand, n), ngrams(ref, n)
            r_counts = Counter(r_grams)
            match += sum(min(c, r_counts.get(g, 0)) for g, c in Counter(c_grams).items())
            cand_total += len(c_grams)
            ref_total += len(r_grams)
        if cand_total == 0 or ref_total == 0:
            scores.append(0.0)
        else:
            scores.append(min(match / cand_total, match / ref_total))
    return max(scores)


def f_measure(p: float, r: float, beta: float = 1.0) -> float:
    if p == r:
        return p
    if p == 0 or r == 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r)


def rouge_n_score(candidate: str, reference: str, n: int = 1) -> float:
    cand, ref = treebank_tokenize(candidate), treebank_tokenize(reference)
    if len(cand) < n or len(ref) < n:
        return 0.0
    c_grams, r_grams = ngrams(cand, n), ngrams(ref, n)
    r_counts = Counter(r_grams)
    overlap = sum(min(c, r_counts.get(g, 0)) for g, c in Counter(c_grams).items())
    if overlap == 0:
        return 0.0
    return f_measure(overlap / len(c_grams), overlap / len(r_grams))


def _references(a: Assertion, value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise AssertionEvalError(f'"{what}" assertion type must have a string or array of '
                             "strings value")


def _graded(a: Assertion, score: float, default: float, passed_reason: str | None,
            fail_reason: str) -> Verdict:
    threshold = a.threshold if a.threshold is not None else default
    passed = (score >= threshold) != a.inverse
    return Verdict(passed, 1 - score if a.inverse else score,
                   passed_reason if (passed and passed_reason) else fail_reason)


def check_bleu(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    refs = _references(a, value, "bleu")
    if not refs:
        raise AssertionEvalError("Invalid inputs")
    score = bleu_score(output, refs)
    threshold = a.threshold if a.threshold is not None else 0.5
    return _graded(a, score, 0.5, "Assertion passed",
                   f"BLEU score {score:.4f} is {'greater' if a.inverse else 'less'} than "
                   f"threshold {threshold:g}")


def check_gleu(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    refs = _references(a, value, "gleu")
    if not refs:
        raise AssertionEvalError("Invalid inputs")
    score = gleu_score(output, refs)
    threshold = a.threshold if a.threshold is not None else 0.5
    rel = "greater than or equal to" if a.inverse else "less than"
    return _graded(a, score, 0.5, "Assertion passed",
                   f"GLEU score {score:.4f} is {rel} threshold {threshold:g}")


def check_rouge_n(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if not isinstance(value, str):
        raise AssertionEvalError('"rouge" assertion type must be a string value')
    score = rouge_n_score(output.lower(), value.lower())
    threshold = a.threshold if a.threshold is not None else 0.75
    rel = "greater than or equal to" if score >= threshold else "less than"
    reason = f"ROUGE-N score {score:.2f} is {rel} threshold {threshold:g}"
    return _graded(a, score, 0.75, reason, reason)
