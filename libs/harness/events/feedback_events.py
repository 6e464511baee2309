"""Events of human (and, later, online) judgement: score configs, and scores given to a
stored trace or to a run's result.

A score config names a score and says what values it takes: a number (within an optional
range), a boolean, or one of named categories, each with the number it counts as. Every
score carries that number as ``value`` (a boolean's is 1 or 0) and, for a boolean or a
category, its ``label``, so scores of any type are averaged beside the scorer's metrics.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel

from .base import DomainEvent, registry

DataType = Literal["numeric", "boolean", "categorical"]
ScoreSource = Literal["human", "evaluator"]

MAX_SCORE_MAGNITUDE = 1e15
"""The largest magnitude of a score (and of a bound or a category's value): Postgres's
``avg`` over doubles keeps the sum of squares, which overflows (an error, not infinity)
past about 1e154; means over any number of scores of at most 1e15 stay finite."""


def storable_score(value: float) -> bool:
    """Whether a score's value may be recorded (finite, at most :data:`MAX_SCORE_MAGNITUDE`)."""
    return math.isfinite(value) and abs(value) <= MAX_SCORE_MAGNITUDE


class Category(BaseModel):
    model_config = {"frozen": True}
    label: str
    value: float


@registry.register
class ScoreConfigCreated(DomainEvent):
    """A score was defined (stream ``score_config-<id>``): its name (unique) and the values
    a score of that name may take."""

    TYPE = "ScoreConfigCreated"
    score_config_id: str
    name: str
    data_type: DataType
    min_value: float | None = None          # numeric: the allowed range (either end open)
    max_value: float | None = None
    categories: list[Category] = []         # categorical: the allowed labels
    description: str = ""


@registry.register
class TraceScored(DomainEvent):
    """A score of one stored trace (stream ``trace-<id>``); who gave it is the event's
    actor. A later score of the same name by the same actor replaces theirs."""

    TYPE = "TraceScored"
    trace_id: str
    name: str
    data_type: DataType
    value: float
    label: str | None = None
    comment: str = ""
    source: ScoreSource = "human"
    score_config_id: str | None = None
    evaluator_id: str | None = None     # source "evaluator": the online evaluator that scored


@registry.register
class TraceSampled(DomainEvent):
    """An online evaluator picked a stored trace to score (stream ``trace-<id>``): the
    registry's sampler records it as the trace is written, when the scorer is its own
    service; the event reaches the scorer on the ``scoring`` topic, and the score comes
    back as ``TraceScored`` (one per evaluator and trace, deterministic ids)."""

    TYPE = "TraceSampled"
    trace_id: str
    evaluator_id: str


@registry.register
class ResultScored(DomainEvent):
    """A score of one result (case × target × repeat) of a run (stream ``run-<id>``),
    beside the scorer's ``ScoresRecorded``; who gave it is the event's actor."""

    TYPE = "ResultScored"
    run_id: str
    case_id: str
    target_id: str
    repeat: int = 0
    result_id: str
    name: str
    data_type: DataType
    value: float
    label: str | None = None
    comment: str = ""
    source: ScoreSource = "human"
    score_config_id: str | None = None
