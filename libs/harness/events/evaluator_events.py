"""Events of online evaluators (stream ``evaluator-<id>``): what an evaluator scores, which
stored traces it looks at, how many of them (a sampling rate) and whether it is paused.
Its scores are ``TraceScored`` events with source ``evaluator`` on the trace's stream."""

from __future__ import annotations

from typing import Any

from .base import DomainEvent, registry


@registry.register
class EvaluatorCreated(DomainEvent):
    """An evaluator: ``assertion`` (any assertion, as in a run's, e.g. ``llm-rubric``) or
    ``metric`` (a Ragas metric needing no reference); ``traffic`` selects traces by
    ``application``, ``prompt_id``, ``model``, ``key`` and ``source`` (absent: any)."""

    TYPE = "EvaluatorCreated"
    evaluator_id: str
    name: str
    assertion: dict[str, Any] | None = None
    metric: str | None = None
    traffic: dict[str, str] = {}
    sampling_rate: float
    judge_model: str | None = None
    description: str = ""
    human_score: str | None = None   # the people's score agreement is measured against


@registry.register
class EvaluatorChanged(DomainEvent):
    """The evaluator's whole definition after a change (the fields of ``EvaluatorCreated``)."""

    TYPE = "EvaluatorChanged"
    evaluator_id: str
    name: str
    assertion: dict[str, Any] | None = None
    metric: str | None = None
    traffic: dict[str, str] = {}
    sampling_rate: float
    judge_model: str | None = None
    description: str = ""
    human_score: str | None = None   # the people's score agreement is measured against


@registry.register
class EvaluatorPaused(DomainEvent):
    TYPE = "EvaluatorPaused"
    evaluator_id: str


@registry.register
class EvaluatorResumed(DomainEvent):
    TYPE = "EvaluatorResumed"
    evaluator_id: str
