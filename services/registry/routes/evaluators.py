"""Online evaluators (``/evaluators``): score live traffic automatically. An evaluator
names one assertion (as in a run: ``contains``, ``is-json``, ``llm-rubric``, ...) or one
Ragas metric needing no reference, the traffic it looks at (application, prompt id, model,
key, source) and a sampling rate (0-1, deterministic by trace id). The scorer scores the
sampled traces as they are stored; the scores are ``TraceScored`` events with source
``evaluator``, shown in ``GET /traces/{id}`` beside people's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from harness.web.auth import require
from harness.web.bodies import RequestBody
from harness.web.input_guard import Timestamp

from ..domain import evaluators as domain
from ..handlers import evaluators as handlers
from ..read.queries import evaluators as queries
from .deps import metadata, runtime

router = APIRouter(tags=["evaluators"])

HUMAN_SCORE = ("the people's score (a score config's name) the evaluator's agreement is "
               "measured against")


class TrafficIn(RequestBody):
    application: str | None = Field(None, min_length=1, max_length=200)
    prompt_id: str | None = Field(None, min_length=1, max_length=200)
    model: str | None = Field(None, min_length=1, max_length=200,
                              description="the model asked for or the one that answered")
    key: str | None = Field(None, min_length=1, max_length=200, description="key name or id")
    source: Literal["gateway", "runner", "generator"] | None = Field(
        None, description="the scorer's own judge calls are never scored")

    def selected(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class EvaluatorIn(RequestBody):
    name: str = Field(min_length=1, max_length=64, description="the score's name")
    assertion: dict[str, Any] | None = Field(None, description="one assertion, as in a run")
    metric: str | None = Field(None, description="a Ragas metric needing no reference")
    traffic: TrafficIn = Field(default_factory=TrafficIn)
    sampling_rate: float = Field(1.0, ge=0, le=1, allow_inf_nan=False)
    judge_model: str | None = Field(None, max_length=200)
    description: str = Field("", max_length=4000)
    human_score: str | None = Field(None, max_length=64, description=HUMAN_SCORE)


class EvaluatorPatch(RequestBody):
    name: str | None = Field(None, min_length=1, max_length=64)
    assertion: dict[str, Any] | None = None
    metric: str | None = None
    traffic: TrafficIn | None = None
    sampling_rate: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    judge_model: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=4000)
    human_score: str | None = Field(None, max_length=64, description=HUMAN_SCORE)
    status: Literal["active", "paused"] | None = None


class ActivityOut(BaseModel):
    scores: int = Field(description="scores it recorded in the last 24 hours")
    mean: float | None = Field(description="their mean")


class EvaluatorOut(BaseModel):
    id: str
    name: str
    description: str
    assertion: dict[str, Any] | None
    metric: str | None
    traffic: dict[str, str]
    sampling_rate: float
    judge_model: str | None
    human_score: str | None
    status: str
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    last_24h: ActivityOut


@router.post("/evaluators", response_model=EvaluatorOut, status_code=201)
async def create_evaluator(body: EvaluatorIn, request: Request, rt=Depends(runtime),
                           _=Depends(require("editor"))):
    """Start scoring the traffic it selects (active at once)."""
    evaluator_id = str(uuid.uuid4())
    await handlers.handle(rt, evaluator_id, domain.CreateEvaluator(evaluator_id, domain.Definition(
        name=body.name, assertion=body.assertion, metric=body.metric,
        traffic=body.traffic.selected(), sampling_rate=body.sampling_rate,
        judge_model=body.judge_model, description=body.description,
        human_score=body.human_score)), metadata(request))
    return await queries.get_evaluator(rt.pool, evaluator_id)


@router.patch("/evaluators/{evaluator_id}", response_model=EvaluatorOut)
async def change_evaluator(evaluator_id: str, body: EvaluatorPatch, request: Request,
                           rt=Depends(runtime), _=Depends(require("editor"))):
    """Change what it scores, which traffic, the rate; ``status`` pauses or resumes it."""
    changes = body.model_dump(exclude_unset=True, exclude={"status"})
    if body.traffic is not None:
        changes["traffic"] = body.traffic.selected()
    await handlers.handle(rt, evaluator_id, domain.ChangeEvaluator(changes, status=body.status),
                          metadata(request))
    return await queries.get_evaluator(rt.pool, evaluator_id)


@router.get("/evaluators", response_model=list[EvaluatorOut])
async def list_evaluators(status: Literal["active", "paused"] | None = Query(None),
                          rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.list_evaluators(rt.pool, status)


@router.get("/evaluators/{evaluator_id}", response_model=EvaluatorOut)
async def get_evaluator(evaluator_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.get_evaluator(rt.pool, evaluator_id)


class ConfusionOut(BaseModel):
    both_pass: int
    both_fail: int
    judge_pass_human_fail: int
    judge_fail_human_pass: int


class AgreementOut(BaseModel):
    evaluator_id: str
    evaluator: str
    human_score: str
    data_type: str = Field(description="the people's score's type: what agreement means")
    n: int = Field(description="pairs: traces scored by both, one per person")
    traces: int
    accuracy: float | None = Field(description="boolean, categorical: share of pairs agreeing")
    kappa: float | None = Field(description="boolean, categorical: Cohen's kappa")
    pearson: float | None = Field(description="numeric: Pearson correlation")
    spearman: float | None = Field(description="numeric: Spearman rank correlation")
    mean_abs_diff: float | None = Field(description="numeric: mean |judge - person|")
    confusion: ConfusionOut | None = Field(description="boolean: pass/fail counts")
    note: str | None = Field(description="why a figure is missing")


@router.get("/evaluators/{evaluator_id}/agreement", response_model=AgreementOut)
async def evaluator_agreement(
        evaluator_id: str,
        human_score: str | None = Query(None, min_length=1, max_length=64,
                                        description=HUMAN_SCORE + " (default: the "
                                        "evaluator's human_score)"),
        since: Timestamp | None = Query(None, description="only people's scores given from "
                                                          "then on"),
        rt=Depends(runtime), _=Depends(require("viewer"))):
    """Judge-vs-human agreement on the traces both the evaluator and people scored:
    accuracy and Cohen's kappa for a boolean or categorical people's score, Pearson and
    Spearman correlation for a numeric one, with the number of pairs."""
    return await queries.agreement(rt.pool, evaluator_id, human_score, since)
