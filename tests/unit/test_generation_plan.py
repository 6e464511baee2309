"""The question plan: kinds, proportions, spread over passages, determinism."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.generation.chunking import Chunk
from harness.generation.plan import (
    DEFAULT_KINDS,
    allocate,
    batches,
    effective_kinds,
    parse_kinds,
    plan_questions,
)


def chunks(spec: dict[str, int]) -> list[Chunk]:
    return [Chunk(doc, i, f"{doc} passage {i}") for doc, n in spec.items() for i in range(n)]


@pytest.mark.parametrize("spec, expected", [
    (None, None), ("  ", None),
    ("simple", {"simple": 1.0}),
    ("simple, reasoning", {"simple": 1.0, "reasoning": 1.0}),
    ("simple=2,multi_context=1", {"simple": 2.0, "multi_context": 1.0}),
    ('{"reasoning": 0.5, "simple": 0}', {"reasoning": 0.5}),
    ({"simple": 3}, {"simple": 3.0}),
    ("simple=1,simple=2", {"simple": 3.0}),
])
def test_parse_kinds(spec, expected):
    assert parse_kinds(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("tricky", "unknown question kind 'tricky'"),
    ("simple=lots", "weight of simple must be a number"),
    ("simple=-1", "zero or more"),
    ("simple=0", "above zero"),
    ("simple=nan", "zero or more"),
    ("{not json", "not a JSON object"),
])
def test_parse_kinds_says_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_kinds(spec)


def test_effective_kinds_default_and_single_passage():
    assert effective_kinds(None, 5) == DEFAULT_KINDS
    assert effective_kinds(None, 1) == {"simple": 0.5, "reasoning": 0.25}
    assert effective_kinds({"simple": 1.0}, 1) == {"simple": 1.0}
    with pytest.raises(ValueError, match="at least two passages"):
        effective_kinds({"multi_context": 1.0}, 1)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 101])
def test_allocate_is_proportional_and_exact(n):
    kinds = allocate(n, DEFAULT_KINDS)
    counts = Counter(kinds)
    assert len(kinds) == n
    for kind, weight in DEFAULT_KINDS.items():
        assert abs(counts[kind] - n * weight) < 1


def test_allocate_ties_go_in_kind_order():
    assert allocate(1, {"reasoning": 1, "simple": 1}) == ["simple"]
    assert allocate(4, {"simple": 1, "reasoning": 1, "multi_context": 1}) == [
        "simple", "simple", "reasoning", "multi_context"]


def test_plan_spreads_over_documents_and_passages_before_repeating():
    cs = chunks({"a.md": 3, "b.pdf": 2})
    plan = plan_questions(cs, 7, {"simple": 1.0}, seed="g1")
    first_round = [cs[p.chunks[0]] for p in plan[:5]]
    assert len({(c.document, c.index) for c in first_round}) == 5  # every passage once
    assert [c.document for c in first_round[:4]] in (["a.md", "b.pdf"] * 2,
                                                     ["b.pdf", "a.md"] * 2)
    assert [p.visit for p in plan] == [0, 0, 0, 0, 0, 1, 1]
    assert [p.index for p in plan] == list(range(7))


def test_plan_is_deterministic_per_seed():
    cs = chunks({"a.md": 4, "b.pdf": 4})
    one = plan_questions(cs, 20, DEFAULT_KINDS, seed="g1")
    assert one == plan_questions(cs, 20, DEFAULT_KINDS, seed="g1")
    assert one != plan_questions(cs, 20, DEFAULT_KINDS, seed="g2")


def test_multi_context_pairs_passages_of_two_documents_when_there_are_two():
    cs = chunks({"a.md": 3, "b.pdf": 1})
    plan = plan_questions(cs, 8, {"multi_context": 1.0}, seed="x")
    for p in plan:
        first, second = (cs[i] for i in p.chunks)
        assert first.document != second.document
    one_doc = chunks({"a.md": 2})
    for p in plan_questions(one_doc, 3, {"multi_context": 1.0}, seed="x"):
        assert len(set(p.chunks)) == 2


def test_plan_limits():
    with pytest.raises(ValueError, match="no passages"):
        plan_questions([], 1, {"simple": 1.0}, seed="x")
    with pytest.raises(ValueError, match="between 1 and"):
        plan_questions(chunks({"a": 1}), 0, {"simple": 1.0}, seed="x")


def test_batches_are_fixed_slices_of_the_plan():
    plan = plan_questions(chunks({"a": 2}), 25, {"simple": 1.0}, seed="x")
    cut = batches(plan, 10)
    assert [len(b) for b in cut] == [10, 10, 5]
    assert [p.index for p in cut[2]] == list(range(20, 25))
