"""The shard plan of a run (pure): deterministic, every item in exactly one shard."""

from __future__ import annotations

import itertools

import pytest

from harness.evaluation import shards


@pytest.mark.parametrize(("cases", "targets", "repeat", "size"), [
    (1, 1, 1, 250), (12, 1, 1, 5), (2000, 1, 3, 250), (7, 3, 2, 4), (260, 1, 1, 250),
    (5, 2, 1, 1)])
def test_every_item_is_in_exactly_one_shard_in_item_order(cases, targets, repeat, size):
    plan = shards.plan(cases, targets, repeat, size)
    assert plan == shards.plan(cases, targets, repeat, size)
    assert [s.index for s in plan] == list(range(len(plan)))
    assert all(1 <= len(s) <= size for s in plan)
    assert max(map(len, plan)) - min(map(len, plan)) <= 1  # evenly sized
    items = [item for s in plan for item in shards.items(s, targets, repeat)]
    # case-major, as the snapshot pins the cases: the order a whole run would take
    assert items == list(itertools.product(range(cases), range(targets), range(repeat)))


def test_shard_ids_are_derived_from_run_and_index():
    assert shards.shard_id("r1", 0) == shards.shard_id("r1", 0)
    assert len({shards.shard_id(r, i) for r in ("r1", "r2") for i in range(3)}) == 6


def test_an_empty_run_is_one_empty_shard_and_sizes_must_be_positive():
    assert shards.plan(0, 1, 1) == [shards.Shard(0, 0, 0)]
    with pytest.raises(ValueError):
        shards.plan(3, 1, 1, 0)
