"""Events of the gateway: cost alerts. A firing has a deterministic id (alert and period),
so recording it again is a no-op."""

from __future__ import annotations

import uuid
from typing import Literal

from .base import DomainEvent, registry

_NS = uuid.UUID("5d0f3c52-7b0e-4a8e-9a51-2f4c6e1d8b37")


def alert_fired_event_id(alert_id: str, period_start: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"alert-fired:{alert_id}:{period_start}")


@registry.register
class CostAlertFired(DomainEvent):
    """Spend crossed a cost alert's threshold in a period (each alert fires at most once
    per period). ``target`` is the key id or application name; none for ``total``."""

    TYPE = "CostAlertFired"
    alert_id: str
    name: str | None = None
    scope: Literal["key", "app", "total"]
    target: str | None = None
    period: Literal["day", "month"]
    period_start: str                      # ISO date (UTC) the period began
    threshold_usd: float
    spent_usd: float
    fired_at: str                          # ISO 8601, UTC
