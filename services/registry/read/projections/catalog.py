"""The one list of the registry's projections, in the order they apply an event.

Order matters where two projections handle the same event type: ``CasesAdded`` is handled
by ``evaluation`` (it inserts the cases) and then by ``generation`` (it marks the
generated ones for review), so ``evaluation`` comes before ``generation``. ``prompts``,
``feedback``, ``queues``, ``webhooks``, ``evaluators`` and ``score_alerts`` share no event
type with the others.

Adding a read model: write its module (handlers, ``apply``, a ``PROJECTION``) and list it
here; nothing registers itself at import time.
"""

from __future__ import annotations

import asyncpg

from harness.events import StoredEvent

from . import (
    evaluation,
    evaluators,
    feedback,
    generation,
    prompts,
    queues,
    score_alerts,
    webhooks,
)
from .projection import Projection

PROJECTIONS: tuple[Projection, ...] = (
    prompts.PROJECTION,
    evaluation.PROJECTION,
    generation.PROJECTION,
    feedback.PROJECTION,
    queues.PROJECTION,
    webhooks.PROJECTION,
    evaluators.PROJECTION,
    score_alerts.PROJECTION,
)


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    """Update every read model ``ev`` concerns (called in the append's transaction)."""
    for projection in PROJECTIONS:
        if ev.type in projection.types:
            await projection.apply(conn, ev)


def read_model_tables() -> list[str]:
    """Every table the projections write, each once."""
    tables: list[str] = []
    for projection in PROJECTIONS:
        tables.extend(t for t in projection.tables if t not in tables)
    return tables
