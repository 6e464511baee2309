import asyncio
import os
import sys
from pathlib import Path

from harness.events import NewEvent
from harness.eventstore import EventStore
from tests.support import processes

CHILD = Path(__file__).with_name("relay_child.py")


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


async def wait_for(predicate, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_relay_killed_mid_stream_loses_nothing(pool, db_url, tmp_path):
    store = EventStore(pool)
    ids = []
    for i in range(30):
        stored = await store.append(f"s-{i % 7}", None,
                                    [NewEvent(type="Tick", data={"i": i * 10 + k})
                                     for k in range(10)])
        ids += [str(e.event_id) for e in stored]
    out = tmp_path / "consumed.txt"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    child = processes.spawn([sys.executable, str(CHILD), db_url, str(out)], env=env)
    try:
        await wait_for(lambda: len(lines(out)) >= 2 * 120)  # id + position per line
    finally:
        processes.kill(child)
    seen_before = len(lines(out)) // 2
    assert seen_before < len(ids), "the relay finished before it was killed"

    # more events arrive while the relay is down
    more = await store.append("late", 0, [NewEvent(type="Tick", data={"i": -k})
                                          for k in range(20)])
    ids += [str(e.event_id) for e in more]

    child = processes.spawn([sys.executable, str(CHILD), db_url, str(out)], env=env)
    try:
        await wait_for(lambda: set(lines(out)[0::2]) >= set(ids), timeout=60)
    finally:
        processes.stop(child)
    consumed = lines(out)[0::2]
    positions = [int(p) for p in lines(out)[1::2]]
    assert set(consumed) == set(ids)  # none lost
    assert len(consumed) - len(set(consumed)) <= 1  # at most the in-flight one repeated
    # each run delivered in global order
    restart = seen_before
    assert positions[:restart] == sorted(positions[:restart])
    assert positions[restart:] == sorted(positions[restart:])
