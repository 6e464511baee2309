"""A run's work split into shards: the pure plan every runner and the registry agree on.

A run's items are its cases × targets × repeats, numbered case-major (item ``i`` is case
``i // (targets × repeat)``, target ``(i // repeat) % targets``, repeat ``i % repeat``),
the order the snapshot pins. A shard is a contiguous range of items; its id is derived
from the run and its index, so the same run always has the same shards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_SHARD_ITEMS = 250
"""Items per shard: a few hundred keeps a shard short enough to redeliver cheaply and long
enough that its bookkeeping (one message, one snapshot read) is noise."""

_NS = uuid.UUID("5d3c1f2a-8e47-4b69-a0d1-6c2b9e7f4a58")


@dataclass(frozen=True)
class Shard:
    index: int
    start: int  # first item
    stop: int   # one past the last item

    def __len__(self) -> int:
        return self.stop - self.start


def shard_id(run_id: str, index: int) -> str:
    return str(uuid.uuid5(_NS, f"shard:{run_id}:{index}"))


def plan(case_count: int, target_count: int, repeat: int,
         shard_items: int = DEFAULT_SHARD_ITEMS) -> list[Shard]:
    """Contiguous shards covering every item once, of at most ``shard_items`` items and
    evenly sized (a 260-item run with 250 per shard is two shards of 130, not 250 + 10)."""
    if shard_items < 1:
        raise ValueError("shard_items must be at least 1")
    total = case_count * target_count * repeat
    if total <= 0:
        return [Shard(0, 0, 0)]
    count = -(-total // shard_items)
    base, extra = divmod(total, count)
    shards, start = [], 0
    for index in range(count):
        stop = start + base + (1 if index < extra else 0)
        shards.append(Shard(index, start, stop))
        start = stop
    return shards


def items(shard: Shard, target_count: int, repeat: int) -> Iterator[tuple[int, int, int]]:
    """(case index, target index, repeat) of each item of ``shard``, in order."""
    per_case = target_count * repeat
    for i in range(shard.start, shard.stop):
        yield i // per_case, (i // repeat) % target_count, i % repeat
