"""What a projection is: the event types it handles, how it applies one, and the
read-model tables it alone writes (which a rebuild truncates)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from harness.events import StoredEvent

Projector = Callable[[asyncpg.Connection, StoredEvent], Awaitable[None]]


@dataclass(frozen=True)
class Projection:
    name: str
    types: frozenset[str]
    apply: Projector
    tables: tuple[str, ...]
