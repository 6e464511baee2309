"""Score alerts (pure: no I/O): a threshold on the rolling mean of a score.

An alert watches one score name (``score_name``), optionally only an online evaluator's
scores (``evaluator_id``) or one source (``human``/``evaluator``), and only traces of a
prompt (``prompt_id``, ``prompt_version``) or a model. Its mean is taken over the scores
recorded in the last ``window_minutes``; with at least ``min_scores`` of them and a mean
below ``threshold`` the alert fires: a ``ScoreAlertFired`` event whose id derives from the
alert and the UTC ``period`` (hour or day) it fired in, so it fires at most once per period
however many checks see the drop. In the next period it fires again if the mean is still
(or again) below; a recovery within the period sends nothing.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from harness.events.base import DomainEvent
from harness.events.score_alert_events import (
    ScoreAlertCreated,
    ScoreAlertDeleted,
    ScoreAlertFired,
)

from .errors import AlreadyExists, Invalid, NotFound

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
PERIODS = ("hour", "day")
SOURCES = ("human", "evaluator")
MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_MIN_SCORES = 100_000
MAX_ATTEMPTS = 8
_NS = uuid.UUID("5d0c61c2-8a7e-4b8e-9f3a-2e6f4b1c7d90")


@dataclass(frozen=True)
class Definition:
    score_name: str
    threshold: float
    name: str | None = None
    evaluator_id: str | None = None
    source: str | None = None
    prompt_id: str | None = None
    prompt_version: int | None = None
    model: str | None = None
    window_minutes: int = 60
    min_scores: int = 5
    period: str = "day"


@dataclass(frozen=True)
class CreateScoreAlert:
    alert_id: str
    definition: Definition


@dataclass(frozen=True)
class DeleteScoreAlert:
    pass


@dataclass(frozen=True)
class ScoreAlertState:
    alert_id: str | None = None

    @property
    def exists(self) -> bool:
        return self.alert_id is not None


def _text(value: str | None) -> str | None:
    value = value.strip() if value else None
    return value or None


def checked(d: Definition) -> Definition:
    """The definition tidied, or :class:`Invalid` naming the field."""
    score = (d.score_name or "").strip()
    if not NAME.match(score):
        raise Invalid("score_name: the score's name (1-64 letters, digits, '_', '.' or '-')",
                      field="score_name")
    t = d.threshold
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise Invalid("threshold: a finite number", field="threshold")
    if d.source is not None and d.source not in SOURCES:
        raise Invalid("source: human or evaluator", field="source")
    evaluator = _text(d.evaluator_id)
    if evaluator is not None and d.source == "human":
        raise Invalid("source: an evaluator's scores have source evaluator", field="source")
    prompt = _text(d.prompt_id)
    if d.prompt_version is not None:
        if prompt is None:
            raise Invalid("prompt_version: give prompt_id too", field="prompt_version")
        if isinstance(d.prompt_version, bool) or d.prompt_version < 1:
            raise Invalid("prompt_version: a version number (1 or more)",
                          field="prompt_version")
    if not 1 <= d.window_minutes <= MAX_WINDOW_MINUTES:
        raise Invalid(f"window_minutes: 1 to {MAX_WINDOW_MINUTES} (a week)",
                      field="window_minutes")
    if not 1 <= d.min_scores <= MAX_MIN_SCORES:
        raise Invalid(f"min_scores: 1 to {MAX_MIN_SCORES}", field="min_scores")
    if d.period not in PERIODS:
        raise Invalid("period: hour or day (UTC)", field="period")
    return replace(d, score_name=score, threshold=float(t), name=_text(d.name),
                   evaluator_id=evaluator, prompt_id=prompt, model=_text(d.model),
                   source="evaluator" if evaluator is not None else d.source)


def decide(command, state: ScoreAlertState) -> list[DomainEvent]:
    if isinstance(command, CreateScoreAlert):
        if state.exists:
            raise AlreadyExists(f"score alert {command.alert_id} already exists")
        d = checked(command.definition)
        return [ScoreAlertCreated(
            alert_id=command.alert_id, name=d.name, score_name=d.score_name,
            evaluator_id=d.evaluator_id, source=d.source, prompt_id=d.prompt_id,
            prompt_version=d.prompt_version, model=d.model, window_minutes=d.window_minutes,
            min_scores=d.min_scores, threshold=d.threshold, period=d.period)]
    if isinstance(command, DeleteScoreAlert):
        if not state.exists:
            raise NotFound("score alert not found")
        assert state.alert_id is not None
        return [ScoreAlertDeleted(alert_id=state.alert_id)]
    raise TypeError(f"unknown command {command!r}")


# ---------------------------------------------------------------- firing


def period_start(period: str, now: datetime) -> datetime:
    """The start (UTC) of the hour or day ``now`` falls in."""
    now = now.astimezone(UTC)
    start = now.replace(minute=0, second=0, microsecond=0)
    return start if period == "hour" else start.replace(hour=0)


def fired_event_id(alert_id: str, start: datetime) -> uuid.UUID:
    """One firing per alert and period: recording it twice is a no-op."""
    return uuid.uuid5(_NS, f"score-alert-fired:{alert_id}:{start.astimezone(UTC).isoformat()}")


def breached(d: Definition, mean: float | None, count: int) -> bool:
    """Enough scores in the window, and their mean below the threshold."""
    return mean is not None and count >= d.min_scores and mean < d.threshold


def firing(alert_id: str, d: Definition, mean: float | None, count: int,
           now: datetime) -> ScoreAlertFired | None:
    """The firing this check decides, or None (the mean is fine or there are too few)."""
    if not breached(d, mean, count):
        return None
    assert mean is not None
    return ScoreAlertFired(
        alert_id=alert_id, name=d.name, score_name=d.score_name, period=d.period,
        period_start=period_start(d.period, now).isoformat(), mean=mean, count=count,
        threshold=d.threshold, window_minutes=d.window_minutes,
        fired_at=now.astimezone(UTC).isoformat())


def describe(d: Definition) -> str:
    parts = [f"score {d.score_name}"]
    if d.evaluator_id:
        parts.append(f"evaluator {d.evaluator_id}")
    elif d.source:
        parts.append(f"{d.source} scores")
    if d.prompt_id:
        parts.append(f"prompt {d.prompt_id}"
                     + (f" v{d.prompt_version}" if d.prompt_version is not None else ""))
    if d.model:
        parts.append(f"model {d.model}")
    what = ", ".join(parts)
    return f"{d.name} ({what})" if d.name else what


def message(d: Definition, fired: ScoreAlertFired) -> str:
    """The Slack-compatible text of a firing."""
    return (f":chart_with_downwards_trend: harness score alert: {describe(d)}: the mean of "
            f"the last {fired.window_minutes} min is {fired.mean:.4g} over {fired.count} "
            f"scores, below the threshold of {fired.threshold:.4g} "
            f"({fired.period} from {fired.period_start}, UTC).")


def retry_delay_s(attempts: int) -> float:
    """Backoff between delivery attempts: 5 s, 10 s, 20 s ... capped at 10 minutes."""
    return min(600.0, 5.0 * 2 ** max(0, attempts - 1))
