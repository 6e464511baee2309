"""Events of score alerts (stream ``score_alert-<id>``): a threshold on the rolling mean of
a score, and its firings. The webhook an alert posts to is kept beside the events
(``score_alert_webhooks``), never in them: an incoming-webhook URL is a credential."""

from __future__ import annotations

from typing import Literal

from .base import DomainEvent, registry

Period = Literal["hour", "day"]
Source = Literal["human", "evaluator"]


@registry.register
class ScoreAlertCreated(DomainEvent):
    """Fire when the mean of ``score_name`` over the last ``window_minutes`` (at least
    ``min_scores`` scores, of the traces the filters select) is below ``threshold``; at
    most once per UTC ``period``."""

    TYPE = "ScoreAlertCreated"
    alert_id: str
    name: str | None = None
    score_name: str
    evaluator_id: str | None = None
    source: Source | None = None
    prompt_id: str | None = None
    prompt_version: int | None = None
    model: str | None = None
    window_minutes: int
    min_scores: int
    threshold: float
    period: Period


@registry.register
class ScoreAlertDeleted(DomainEvent):
    TYPE = "ScoreAlertDeleted"
    alert_id: str


@registry.register
class ScoreAlertFired(DomainEvent):
    """The rolling mean was below the threshold (once per alert and period: the event's id
    derives from both)."""

    TYPE = "ScoreAlertFired"
    alert_id: str
    name: str | None = None
    score_name: str
    period: Period
    period_start: str           # ISO 8601, UTC: the hour or day this firing belongs to
    mean: float
    count: int
    threshold: float
    window_minutes: int
    fired_at: str               # ISO 8601, UTC
