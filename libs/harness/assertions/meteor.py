"""meteor: METEOR against one or more references, with promptfoo 0.123.1's algorithm —
whitespace tokens with trailing dots removed, lower-cased; exact matches, then Porter-stem
matches, then WordNet-synonym matches (each stage pairing from the end of both lists);
F-mean with ``alpha``, fragmentation penalty ``gamma·(chunks/matches)^beta``; the best
reference wins."""

from __future__ import annotations

import re
from typing import Any

from . import porter
from .models import Assertion, AssertionContext, AssertionEvalError, Verdict
from .wordnet import WordNet, WordNetMissing, wordnet

Pair = tuple[int, int]
Enum = list[tuple[int, str]]


def _match_exact(cand: Enum, ref: Enum) -> tuple[list[Pair], Enum, Enum]:
    cand, ref = list(cand), list(ref)
    pairs: list[Pair] = []
    for i in range(len(cand) - 1, -1, -1):
        for j in range(len(ref) - 1, -1, -1):
            if cand[i][1] == ref[j][1]:
                pairs.append((cand[i][0], ref[j][0]))
                del cand[i]
                del ref[j]
                break
    return pairs, cand, ref


def _match_synonyms(cand: Enum, ref: Enum, wn: WordNet) -> list[Pair]:
    cand, ref = list(cand), list(ref)
    pairs: list[Pair] = []
    for i in range(len(cand) - 1, -1, -1):
        word = cand[i][1]
        options = {word} | {s for s in wn.synonyms(word) if "_" not in s}
        for j in range(len(ref) - 1, -1, -1):
            if ref[j][1] in options:
                pairs.append((cand[i][0], ref[j][0]))
                del cand[i]
                del ref[j]
                break
    return pairs


def _chunks(matches: list[Pair]) -> int:
    if not matches:
        return 0
    chunks = 1
    for (c0, r0), (c1, r1) in zip(matches, matches[1:], strict=False):
        if c1 != c0 + 1 or r1 != r0 + 1:
            chunks += 1
    return chunks


def single_meteor(reference: list[str], candidate: list[str], wn: WordNet, alpha: float,
                  beta: float, gamma: float) -> float:
    cand = [(i, w.lower()) for i, w in enumerate(candidate)]
    ref = [(i, w.lower()) for i, w in enumerate(reference)]
    exact, rest_c, rest_r = _match_exact(cand, ref)
    stem_pairs, rest_c, rest_r = _match_exact([(i, porter.stem(w)) for i, w in rest_c],
                                              [(i, porter.stem(w)) for i, w in rest_r])
    synonyms = _match_synonyms(rest_c, rest_r, wn)
    matches = sorted([*exact, *stem_pairs, *synonyms], key=lambda p: p[0])
    if not matches or not cand or not ref:
        return 0.0
    precision, recall = len(matches) / len(cand), len(matches) / len(ref)
    denominator = alpha * precision + (1 - alpha) * recall
    if denominator == 0:
        return 0.0
    fmean = precision * recall / denominator
    frag = _chunks(matches) / len(matches)
    return (1 - gamma * frag ** beta) * fmean


def _tokens(text: str) -> list[str]:
    return [re.sub(r"\.+$", "", w) for w in re.split(r"\s+", text)]


def meteor_score(candidate: str, references: list[str], alpha: float = 0.9,
                 beta: float = 3.0, gamma: float = 0.5) -> float:
    if not candidate or not references:
        raise AssertionEvalError("Invalid inputs")
    try:
        wn = wordnet()
    except WordNetMissing as exc:
        raise AssertionEvalError(str(exc)) from exc
    return max(single_meteor(_tokens(r), _tokens(candidate), wn, alpha, beta, gamma)
               for r in references)


def check_meteor(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if isinstance(value, str):
        refs = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        refs = list(value)
    else:
        raise AssertionEvalError('"meteor" assertion must have a string or array of strings '
                                 "value")
    extra = a.model_extra or {}
    alpha = float(extra.get("alpha", 0.9))
    beta = float(extra.get("beta", 3))
    gamma = float(extra.get("gamma", 0.5))
    threshold = a.threshold if a.threshold is not None else 0.5
    score = meteor_score(output, refs, alpha, beta, gamma)
    passed = score < threshold if a.inverse else score >= threshold
    return Verdict(passed, 1 - score if a.inverse else score,
                   "METEOR assertion passed" if passed else
                   f"METEOR score {score:.4f} did not meet threshold {threshold:g}")
