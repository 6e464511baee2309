"""Requests that miss the resolve cache at once share one load."""

from __future__ import annotations

import asyncio

import pytest

from services.registry.resolve_cache import ResolveCache


async def test_concurrent_misses_share_one_load_and_cache_its_answer():
    cache, calls, gate = ResolveCache(), [], asyncio.Event()

    async def load():
        calls.append(1)
        await gate.wait()
        return b"body", '"e"'

    waiting = [asyncio.create_task(cache.get_or_load("a", load)) for _ in range(64)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [(b"body", '"e"')] * 64
    assert len(calls) == 1
    assert cache.get("a") == (b"body", '"e"')


async def test_a_miss_after_an_invalidation_does_not_take_the_older_load():
    cache, gate = ResolveCache(), asyncio.Event()
    answers = iter([b"old", b"new"])

    async def load():
        body = next(answers)
        if body == b"old":
            await gate.wait()
        return body, '"e"'

    first = asyncio.create_task(cache.get_or_load("a", load))
    await asyncio.sleep(0)
    cache.invalidate()  # a write committed while the first load ran
    assert await cache.get_or_load("a", load) == (b"new", '"e"')
    gate.set()
    assert await first == (b"old", '"e"')
    assert cache.get("a") == (b"new", '"e"')  # the older answer was not cached over it


async def test_a_failed_load_fails_every_waiter_and_caches_nothing():
    cache = ResolveCache()

    async def load():
        await asyncio.sleep(0)
        raise LookupError("gone")

    waiting = [asyncio.create_task(cache.get_or_load("a", load)) for _ in range(3)]
    for task in waiting:
        with pytest.raises(LookupError):
            await task
    assert cache.get("a") is None
