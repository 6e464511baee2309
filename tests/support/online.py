"""Online evaluation's feed readers (the registry's sampler, the scorer) in tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

HANG_S = 60.0


async def read_traces(step: Callable[[], Awaitable[int]], traces: int) -> None:
    """Call ``step`` (a reader's one page: how many traces it read) until it has read
    ``traces`` traces. A row is fed once every transaction older than its own has ended, so
    an empty page is retried; the 60 s bound only guards against a hang."""
    async with asyncio.timeout(HANG_S):
        while traces > 0:
            got = await step()
            traces -= got
            if not got:
                await asyncio.sleep(0.02)
