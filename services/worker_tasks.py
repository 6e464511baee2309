"""A worker's work in flight: one asyncio task per key (a run to execute or score, a
generation), the bookkeeping the runner, the scorer and the generator share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class WorkerTasks:
    """One task per key, named ``<kind>-<key>``.

    Starting a key whose task still runs returns that task, so a redelivered message joins
    the work instead of repeating it; a finished task forgets itself, and its exception
    counts as retrieved (the worker logs its own failures; whoever awaits the task gets
    the exception raised). :meth:`cancel` stops one key's task on request (a cancellation
    event), which the worker can tell from a shutdown with :meth:`cancelled_on_request`;
    :meth:`cancel_all` is the shutdown: every task is cancelled and awaited.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._tasks: dict[str, asyncio.Task] = {}
        self._on_request: set[asyncio.Task] = set()

    def start(self, key: str, work: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Task:
        """The running task of ``key``, else a new task running ``work()``."""
        existing = self._tasks.get(key)
        if existing is not None and not existing.done():
            return existing
        task = asyncio.create_task(work(), name=f"{self.kind}-{key}")
        self._tasks[key] = task
        task.add_done_callback(lambda t, k=key: self._forget(k, t))
        return task

    def cancel(self, key: str) -> bool:
        """Cancel the task of ``key`` if it runs here; False when it does not."""
        task = self._tasks.get(key)
        if task is None or task.done():
            return False
        self._on_request.add(task)
        task.cancel()
        return True

    def cancelled_on_request(self, key: str) -> bool:
        """Was the task of ``key`` stopped by :meth:`cancel` (not by a shutdown)?"""
        return self._tasks.get(key) in self._on_request

    def keys(self) -> list[str]:
        """The keys whose tasks have not ended yet."""
        return [k for k, t in self._tasks.items() if not t.done()]

    def values(self) -> list[asyncio.Task]:
        return list(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        """Cancel every task and wait until each has ended (whatever it raised)."""
        tasks = self.values()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, key: str, task: asyncio.Task) -> None:
        if self._tasks.get(key) is task:  # not a newer task started for the same key
            del self._tasks[key]
        self._on_request.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: see the class docstring
