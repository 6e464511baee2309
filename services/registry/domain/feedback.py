"""Human judgement (pure: no I/O): score configs, and scores of a stored trace or of a
run's result checked against the config of their name.

A config says what a score of its name may be: ``numeric`` (a number, within
``min_value``/``max_value`` when set), ``boolean`` (true or false: 1 or 0) or
``categorical`` (one of its categories' labels: the category's number). A score without a
config, or one its config does not allow, is refused naming the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from harness.events.base import DomainEvent
from harness.events.feedback_events import (
    MAX_SCORE_MAGNITUDE,
    Category,
    ResultScored,
    ScoreConfigCreated,
    TraceScored,
    storable_score,
)

from .errors import AlreadyExists, Invalid, NotFound

DATA_TYPES = ("numeric", "boolean", "categorical")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_CATEGORIES = 50
MAX_COMMENT = 4000
MAX_MAGNITUDE = MAX_SCORE_MAGNITUDE  # a score's, a bound's, a category value's (means stay finite)


@dataclass(frozen=True)
class ScoreConfig:
    config_id: str
    name: str
    data_type: str
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[Category, ...] = ()


# ---- configs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CreateScoreConfig:
    config_id: str
    name: str
    data_type: str
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[dict[str, Any], ...] = ()
    description: str = ""


def _categories(raw: tuple[dict[str, Any], ...]) -> list[Category]:
    if not raw:
        raise Invalid("categories: a categorical score needs at least one category",
                      field="categories")
    if len(raw) > MAX_CATEGORIES:
        raise Invalid(f"categories: at most {MAX_CATEGORIES}", field="categories")
    out: list[Category] = []
    for i, c in enumerate(raw):
        label, value = c.get("label"), c.get("value")
        if not isinstance(label, str) or not label.strip():
            raise Invalid(f"categories.{i}.label: must be a non-empty text",
                          field=f"categories.{i}.label")
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not _bounded(value):
            raise Invalid(f"categories.{i}.value: must be a number within ±{MAX_MAGNITUDE:g} "
                          f"(what {label!r} counts as when scores are averaged)",
                          field=f"categories.{i}.value")
        if any(o.label == label.strip() for o in out):
            raise Invalid(f"categories.{i}.label: {label!r} is listed twice",
                          field=f"categories.{i}.label")
        out.append(Category(label=label.strip(), value=float(value)))
    return out


def create_config(command: CreateScoreConfig, exists: bool) -> list[DomainEvent]:
    if exists:
        raise AlreadyExists(f"score config {command.config_id} already exists")
    name = command.name.strip()
    if not NAME.match(name):
        raise Invalid("name: 1-64 letters, digits, '_', '.' or '-', starting with a letter "
                      "or digit", field="name")
    if command.data_type not in DATA_TYPES:
        raise Invalid("data_type: must be numeric, boolean or categorical", field="data_type")
    lo, hi = command.min_value, command.max_value
    categories: list[Category] = []
    if command.data_type == "numeric":
        for f, v in (("min_value", lo), ("max_value", hi)):
            if v is not None and not _bounded(v):
                raise Invalid(f"{f}: must be a number within ±{MAX_MAGNITUDE:g}", field=f)
        if lo is not None and hi is not None and lo >= hi:
            raise Invalid("max_value: must be above min_value", field="max_value")
        if command.categories:
            raise Invalid("categories: only a categorical score has categories",
                          field="categories")
    else:
        for f, v in (("min_value", lo), ("max_value", hi)):
            if v is not None:
                raise Invalid(f"{f}: only a numeric score has a range", field=f)
        if command.data_type == "categorical":
            categories = _categories(command.categories)
        elif command.categories:
            raise Invalid("categories: only a categorical score has categories",
                          field="categories")
    return [ScoreConfigCreated(score_config_id=command.config_id, name=name,
                               data_type=command.data_type,  # type: ignore[arg-type]
                               min_value=lo, max_value=hi, categories=categories,
                               description=command.description)]


# ---- scores -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """A score as given: ``value`` is a number, a boolean or a category's label."""

    name: str
    value: Any
    comment: str = ""


def checked_value(config: ScoreConfig | None, score: Score) -> tuple[float, str | None]:
    """The number a score counts as and its label (boolean, category); refused naming the
    field when no config has its name or the config does not allow the value."""
    if config is None:
        raise Invalid(f"name: no score config named {score.name!r}; define it first "
                      "(POST /score-configs)", field="name")
    if len(score.comment) > MAX_COMMENT:
        raise Invalid(f"comment: at most {MAX_COMMENT} characters", field="comment")
    v = score.value
    if config.data_type == "boolean":
        if not isinstance(v, bool):
            raise Invalid(f"value: {config.name} is boolean: true or false", field="value")
        return (1.0 if v else 0.0), ("true" if v else "false")
    if config.data_type == "categorical":
        labels = [c.label for c in config.categories]
        match = next((c for c in config.categories if c.label == v), None)
        if match is None:
            raise Invalid(f"value: {config.name} is one of {', '.join(map(repr, labels))}",
                          field="value", allowed=labels)
        return match.value, match.label
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise Invalid(f"value: {config.name} is a number", field="value")
    if not _bounded(v):
        raise Invalid(f"value: a score is within ±{MAX_MAGNITUDE:g}, got {v:g}",
                      field="value", min_value=-MAX_MAGNITUDE, max_value=MAX_MAGNITUDE)
    lo, hi = config.min_value, config.max_value
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise Invalid(f"value: {config.name} is within [{_end(lo, '-inf')}, "
                      f"{_end(hi, 'inf')}], got {v:g}", field="value",
                      min_value=lo, max_value=hi)
    return float(v), None


def _bounded(v: float) -> bool:
    return storable_score(v)


def _end(v: float | None, open_end: str) -> str:
    return open_end if v is None else f"{v:g}"


@dataclass(frozen=True)
class TraceFacts:
    """What scoring a trace needs to know: is it stored, and the config of the name."""

    trace_exists: bool
    config: ScoreConfig | None = None


def score_trace(trace_id: str, score: Score, facts: TraceFacts) -> list[DomainEvent]:
    if not facts.trace_exists:
        raise NotFound(f"trace {trace_id} not found")
    value, label = checked_value(facts.config, score)
    assert facts.config is not None
    return [TraceScored(trace_id=trace_id, name=facts.config.name,
                        data_type=facts.config.data_type,  # type: ignore[arg-type]
                        value=value, label=label, comment=score.comment, source="human",
                        score_config_id=facts.config.config_id)]


@dataclass(frozen=True)
class ResultKey:
    case_id: str
    target_id: str
    repeat: int


@dataclass(frozen=True)
class ResultFacts:
    """What scoring a result needs: the result the id names (None: no such result) and
    the config of the name."""

    result: ResultKey | None
    config: ScoreConfig | None = None


def score_result(run_id: str, result_id: str, score: Score, facts: ResultFacts
                 ) -> list[DomainEvent]:
    if facts.result is None:
        raise NotFound(f"result {result_id} not found in run {run_id}")
    value, label = checked_value(facts.config, score)
    assert facts.config is not None
    r = facts.result
    return [ResultScored(run_id=run_id, case_id=r.case_id, target_id=r.target_id,
                         repeat=r.repeat, result_id=result_id, name=facts.config.name,
                         data_type=facts.config.data_type,  # type: ignore[arg-type]
                         value=value, label=label, comment=score.comment, source="human",
                         score_config_id=facts.config.config_id)]
