"""Which questions to ask about which passages: a deterministic plan.

The plan depends only on the chunks, the count, the kinds and a seed (the generation
id), so every attempt at a generation plans the same questions and a retried batch
makes cases with the same ids.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from .chunking import Chunk

QUESTION_KINDS: tuple[str, ...] = ("simple", "reasoning", "multi_context")
KIND_DESCRIPTIONS = {
    "simple": "answered by one fact of one passage",
    "reasoning": "needs a step of reasoning over one passage (compare, infer, apply a rule)",
    "multi_context": "needs two passages together (from two documents when there are two)",
}
DEFAULT_KINDS = {"simple": 0.5, "reasoning": 0.25, "multi_context": 0.25}
MAX_QUESTIONS = 2000


@dataclass(frozen=True)
class PlannedQuestion:
    index: int                  # position in the plan, from 0 (the case id derives from it)
    kind: str
    chunks: tuple[int, ...]     # indices into the generation's chunk list
    visit: int = 0              # earlier questions of the plan on the same first passage


def parse_kinds(spec: str | dict | None) -> dict[str, float] | None:
    """``"simple,reasoning"`` (equal weights), ``"simple=2,multi_context=1"``, or a JSON
    object of weights; None or blank = the default mix. Raises ValueError saying why."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    if isinstance(spec, str) and spec.strip().startswith("{"):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object of weights: {exc}") from exc
    weights: dict[str, float] = {}
    if isinstance(spec, dict):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        items = []
        for part in str(spec).split(","):
            name, _, weight = part.partition("=")
            items.append((name, weight.strip() or 1))
    for name, raw in items:
        name = name.strip()
        if name not in QUESTION_KINDS:
            raise ValueError(f"unknown question kind {name!r}; kinds are "
                             f"{', '.join(QUESTION_KINDS)}")
        try:
            weight = float(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"weight of {name} must be a number, got {raw!r}") from exc
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {name} must be zero or more")
        weights[name] = weights.get(name, 0.0) + weight
    weights = {k: w for k, w in weights.items() if w > 0}
    if not weights:
        raise ValueError("at least one question kind needs a weight above zero")
    return weights


def effective_kinds(requested: dict[str, float] | None, chunk_count: int) -> dict[str, float]:
    """The requested mix, or the default one (without multi_context when there is only
    one passage). Raises ValueError when a requested kind cannot be made."""
    if requested is None:
        if chunk_count < 2:
            return {k: w for k, w in DEFAULT_KINDS.items() if k != "multi_context"}
        return dict(DEFAULT_KINDS)
    if requested.get("multi_context") and chunk_count < 2:
        raise ValueError("multi_context questions need at least two passages; the documents "
                         "give one (add a document or choose other kinds)")
    return dict(requested)


def allocate(n: int, weights: dict[str, float]) -> list[str]:
    """``n`` kinds in proportion to ``weights`` (largest remainder; ties in kind order)."""
    total = sum(weights.values())
    kinds = [k for k in QUESTION_KINDS if weights.get(k)]
    exact = {k: n * weights[k] / total for k in kinds}
    counts = {k: math.floor(exact[k]) for k in kinds}
    by_remainder = sorted(kinds, key=lambda k: (-(exact[k] - counts[k]), kinds.index(k)))
    for k in by_remainder[: n - sum(counts.values())]:
        counts[k] += 1
    return [k for k in kinds for _ in range(counts[k])]


def _chunk_order(chunks: Sequence[Chunk], rng: random.Random) -> list[int]:
    """Chunk indices shuffled within each document, then interleaved across documents,
    so questions spread over every document before any passage gets a second one."""
    by_doc: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        by_doc.setdefault(c.document, []).append(i)
    lists = list(by_doc.values())
    for lst in lists:
        rng.shuffle(lst)
    order: list[int] = []
    for round_ in range(max(len(lst) for lst in lists)):
        order += [lst[round_] for lst in lists if round_ < len(lst)]
    return order


def _partner(order: list[int], position: int, chunks: Sequence[Chunk]) -> int:
    """The next chunk in ``order`` from another document, else simply the next chunk."""
    first = chunks[order[position]]
    for step in range(1, len(order)):
        candidate = order[(position + step) % len(order)]
        if chunks[candidate].document != first.document:
            return candidate
    return order[(position + 1) % len(order)]


def plan_questions(chunks: Sequence[Chunk], n: int, kinds: dict[str, float], seed: str
                   ) -> list[PlannedQuestion]:
    if not chunks:
        raise ValueError("no passages to ask about")
    if not 1 <= n <= MAX_QUESTIONS:
        raise ValueError(f"num_questions must be between 1 and {MAX_QUESTIONS}")
    rng = random.Random(seed)
    order = _chunk_order(chunks, rng)
    wanted = allocate(n, kinds)
    rng.shuffle(wanted)
    plan = []
    for i, kind in enumerate(wanted):
        position = i % len(order)
        picked: tuple[int, ...] = (order[position],)
        if kind == "multi_context":
            if len(order) < 2:
                raise ValueError("multi_context questions need at least two passages")
            picked = (order[position], _partner(order, position, chunks))
        plan.append(PlannedQuestion(index=i, kind=kind, chunks=picked,
                                    visit=i // len(order)))
    return plan


def batches(plan: list[PlannedQuestion], size: int) -> list[list[PlannedQuestion]]:
    """The plan cut into fixed batches (batch ``b`` = items ``b*size`` ... ``b*size+size-1``)."""
    return [plan[i:i + size] for i in range(0, len(plan), size)]
