"""WorkerTasks: one task per key, joined while it runs, forgotten when it ends; cancelled
on request (told apart from a shutdown) or all at once."""

from __future__ import annotations

import asyncio

import pytest

from services.worker_tasks import WorkerTasks


async def test_a_key_in_progress_is_joined_and_a_finished_one_forgotten():
    tasks = WorkerTasks("run")
    gate = asyncio.Event()
    starts = []

    async def work(n: int) -> int:
        starts.append(n)
        await gate.wait()
        return n

    first = tasks.start("r1", lambda: work(1))
    assert tasks.start("r1", lambda: work(2)) is first  # a redelivery joins the work
    assert first.get_name() == "run-r1" and len(tasks) == 1 and tasks.values() == [first]
    gate.set()
    assert await first == 1
    await asyncio.sleep(0)  # done callbacks run
    assert len(tasks) == 0 and starts == [1]
    again = tasks.start("r1", lambda: work(3))  # after the end, the key starts anew
    assert await again == 3 and starts == [1, 3]


async def test_cancel_on_request_is_told_from_a_shutdown():
    tasks = WorkerTasks("generation")
    seen: dict[str, bool] = {}

    async def work(key: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen[key] = tasks.cancelled_on_request(key)
            raise

    a = tasks.start("a", lambda: work("a"))
    b = tasks.start("b", lambda: work("b"))
    await asyncio.sleep(0)
    assert tasks.cancel("a") is True
    assert tasks.cancel("missing") is False
    await tasks.cancel_all()  # the shutdown cancels what is left, and waits for it
    assert a.cancelled() and b.cancelled() and len(tasks) == 0
    assert seen == {"a": True, "b": False}
    assert tasks.cancel("a") is False  # ended: nothing to cancel


async def test_a_failed_task_is_forgotten_and_raises_to_whoever_awaits_it():
    tasks = WorkerTasks("score")

    async def fail() -> None:
        raise ValueError("boom")

    task = tasks.start("r1", fail)
    with pytest.raises(ValueError, match="boom"):
        await task
    await asyncio.sleep(0)
    assert len(tasks) == 0


async def test_an_ended_task_never_forgets_a_newer_one_of_its_key():
    tasks = WorkerTasks("run")
    loop = asyncio.get_running_loop()
    seen = {}

    async def quick() -> None:
        return None

    def restart() -> None:  # runs after the old task ended, before its callback did
        seen["old still listed"] = tasks.values() == [old] and old.done()
        seen["new"] = tasks.start("r1", lambda: asyncio.Event().wait())

    old = tasks.start("r1", quick)
    loop.call_soon(restart)
    for _ in range(3):
        await asyncio.sleep(0)
    assert seen["old still listed"]
    assert tasks.values() == [seen["new"]]
    await tasks.cancel_all()
