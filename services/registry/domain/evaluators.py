"""Online evaluators (pure: no I/O): what an evaluator scores, which traces, how many.

An evaluator scores with one assertion (any type a run takes, ``llm-rubric`` included) or
one Ragas metric that needs no reference (the trace has none); it looks at the traces its
``traffic`` selects and samples them at ``sampling_rate`` (0-1, deterministic by trace id:
``harness.evaluation.online``). It is created active, changed, paused and resumed; every
change is an event on ``evaluator-<id>``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from harness.evaluation.online import TRAFFIC_FIELDS
from harness.events.base import DomainEvent
from harness.events.evaluator_events import (
    EvaluatorChanged,
    EvaluatorCreated,
    EvaluatorPaused,
    EvaluatorResumed,
)
from harness.scoring.registry import UnknownMetricError, resolve_metric

from .checks import check_assertions
from .errors import AlreadyExists, Invalid, NotFound

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
STATUSES = ("active", "paused")


@dataclass(frozen=True)
class Definition:
    name: str
    assertion: dict[str, Any] | None = None
    metric: str | None = None
    traffic: dict[str, str] = field(default_factory=dict)
    sampling_rate: float = 1.0
    judge_model: str | None = None
    description: str = ""
    human_score: str | None = None  # the people's score its agreement is measured against


@dataclass(frozen=True)
class CreateEvaluator:
    evaluator_id: str
    definition: Definition


@dataclass(frozen=True)
class ChangeEvaluator:
    """Only the fields given change; ``status`` pauses or resumes."""

    changes: dict[str, Any]
    status: str | None = None


@dataclass(frozen=True)
class EvaluatorState:
    evaluator_id: str | None = None
    definition: Definition | None = None
    status: str = "active"

    @property
    def exists(self) -> bool:
        return self.evaluator_id is not None


def checked(d: Definition) -> Definition:
    """The definition tidied, or :class:`Invalid` naming the field."""
    name = d.name.strip()
    if not NAME.match(name):
        raise Invalid("name: 1-64 letters, digits, '_', '.' or '-', starting with a letter "
                      "or digit (scores are recorded under it)", field="name")
    if (d.assertion is None) == (d.metric is None):
        raise Invalid("assertion: give one of assertion or metric", field="assertion")
    metric = d.metric
    if d.assertion is not None:
        check_assertions([d.assertion], "assertion")
    else:
        try:
            spec = resolve_metric(d.metric or "")
        except UnknownMetricError as exc:
            raise Invalid(f"metric: {exc}", field="metric") from exc
        if any("reference" in r for r in spec.requires):
            raise Invalid(f"metric: {spec.name} needs a reference answer, which a live trace "
                          "does not have", field="metric")
        metric = spec.name
    for k, v in d.traffic.items():
        if k not in TRAFFIC_FIELDS:
            raise Invalid(f"traffic.{k}: select by {', '.join(TRAFFIC_FIELDS)}",
                          field=f"traffic.{k}")
        if not isinstance(v, str) or not v.strip():
            raise Invalid(f"traffic.{k}: must be a non-empty text", field=f"traffic.{k}")
    rate = d.sampling_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) \
            or not 0.0 <= rate <= 1.0:
        raise Invalid("sampling_rate: a number from 0 to 1", field="sampling_rate")
    judge = d.judge_model.strip() if d.judge_model else None
    human = d.human_score.strip() if d.human_score else None
    if human is not None and not NAME.match(human):
        raise Invalid("human_score: a score config's name (letters, digits, '_', '.' or '-')",
                      field="human_score")
    return replace(d, name=name, metric=metric, sampling_rate=float(rate),
                   traffic={k: v.strip() for k, v in d.traffic.items()}, judge_model=judge,
                   human_score=human)


def _fields(evaluator_id: str, d: Definition) -> dict[str, Any]:
    return {"evaluator_id": evaluator_id, "name": d.name, "assertion": d.assertion,
            "metric": d.metric, "traffic": d.traffic, "sampling_rate": d.sampling_rate,
            "judge_model": d.judge_model, "description": d.description,
            "human_score": d.human_score}


def decide(command, state: EvaluatorState) -> list[DomainEvent]:
    if isinstance(command, CreateEvaluator):
        if state.exists:
            raise AlreadyExists(f"evaluator {command.evaluator_id} already exists")
        return [EvaluatorCreated(**_fields(command.evaluator_id, checked(command.definition)))]
    if not state.exists:
        raise NotFound("evaluator not found")
    assert state.evaluator_id is not None and state.definition is not None
    if not isinstance(command, ChangeEvaluator):
        raise TypeError(f"unknown command {command!r}")
    events: list[DomainEvent] = []
    if command.changes:
        changes = dict(command.changes)
        if "assertion" in changes and changes["assertion"] is not None:
            changes.setdefault("metric", None)
        if "metric" in changes and changes["metric"] is not None:
            changes.setdefault("assertion", None)
        new = checked(replace(state.definition, **changes))
        if new != state.definition:
            events.append(EvaluatorChanged(**_fields(state.evaluator_id, new)))
    if command.status is not None:
        if command.status not in STATUSES:
            raise Invalid("status: active or paused", field="status")
        if command.status != state.status:
            cls = EvaluatorPaused if command.status == "paused" else EvaluatorResumed
            events.append(cls(evaluator_id=state.evaluator_id))
    return events
