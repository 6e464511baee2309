"""A relay process for the kill test: relays events to an in-process consumer that writes
each event id to a file (flushed), slowly enough to be killed mid-stream."""

import asyncio
import os
import sys

from harness.bus import InProcessBus, OutboxRelay, idempotent
from harness.db import create_pool
from harness.eventstore import EventStore


async def main(url: str, out_path: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=4)
    bus = InProcessBus()
    out = open(out_path, "a", buffering=1)  # noqa: SIM115

    async def consume(event):
        out.write(f"{event.event_id} {event.global_position}\n")
        out.flush()
        os.fsync(out.fileno())
        await asyncio.sleep(0.003)

    bus.subscribe("file-consumer", idempotent(pool, "file-consumer", consume))
    relay = OutboxRelay(EventStore(pool), bus, batch_size=50, listen_url=url)
    await relay.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
