"""Score alerts (``/score-alerts``): a threshold on the rolling mean of a score (people's or
an online evaluator's), optionally of one evaluator, source, prompt (version) or model.
When the mean of the last ``window_minutes`` (at least ``min_scores`` scores) is below the
threshold the alert fires once per UTC hour or day: a ``ScoreAlertFired`` event and a
Slack-compatible ``{"text": ...}`` post to its webhook, retried until accepted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AnyHttpUrl, BaseModel, Field

from harness.web.auth import require
from harness.web.bodies import RequestBody
from harness.web.input_guard import INT32_MAX

from ..domain import score_alerts as domain
from ..handlers import score_alerts as handlers
from ..read.queries import score_alerts as queries
from .deps import metadata, runtime

router = APIRouter(tags=["score alerts"])


class ScoreAlertIn(RequestBody):
    name: str | None = Field(None, max_length=200, description="a label for people")
    score_name: str = Field(min_length=1, max_length=64, description="the score watched")
    threshold: float = Field(allow_inf_nan=False,
                             description="fire when the rolling mean is below this")
    evaluator_id: str | None = Field(None, min_length=1, max_length=200,
                                     description="only this online evaluator's scores")
    source: Literal["human", "evaluator"] | None = Field(
        None, description="only people's or only evaluators' scores")
    prompt_id: str | None = Field(None, min_length=1, max_length=200)
    prompt_version: int | None = Field(None, ge=1, le=INT32_MAX)
    model: str | None = Field(None, min_length=1, max_length=200,
                              description="the model that answered (else the one asked)")
    window_minutes: int = Field(60, ge=1, le=domain.MAX_WINDOW_MINUTES)
    min_scores: int = Field(5, ge=1, le=domain.MAX_MIN_SCORES,
                            description="fewer scores in the window never fire")
    period: Literal["hour", "day"] = Field("day", description="at most one firing per UTC "
                                                             "hour or day")
    webhook_url: AnyHttpUrl | None = Field(
        None, description="Slack-compatible incoming webhook; default "
                          "HARNESS_SCORE_ALERT_WEBHOOK")


class CurrentOut(BaseModel):
    mean: float | None
    count: int
    below: bool
    period_start: datetime
    fired: bool


class ScoreAlertOut(BaseModel):
    id: str
    name: str | None
    score_name: str
    evaluator_id: str | None
    source: str | None
    prompt_id: str | None
    prompt_version: int | None
    model: str | None
    window_minutes: int
    min_scores: int
    threshold: float
    period: str
    webhook: str | None = Field(description="where it posts: scheme and host only")
    created_at: datetime
    created_by: str | None
    current: CurrentOut


class FiringOut(BaseModel):
    alert_id: str
    name: str | None
    score_name: str | None
    period: str | None
    period_start: datetime
    fired_at: datetime
    mean: float
    count: int
    threshold: float
    window_minutes: int
    delivered: bool
    delivered_at: datetime | None
    attempts: int
    last_status: int | None
    last_error: str | None


@router.post("/score-alerts", response_model=ScoreAlertOut, status_code=201)
async def create_score_alert(body: ScoreAlertIn, request: Request, rt=Depends(runtime),
                             _=Depends(require("editor"))):
    alert_id = str(uuid.uuid4())
    await handlers.create(rt, domain.CreateScoreAlert(alert_id, domain.Definition(
        score_name=body.score_name, threshold=body.threshold, name=body.name,
        evaluator_id=body.evaluator_id, source=body.source, prompt_id=body.prompt_id,
        prompt_version=body.prompt_version, model=body.model,
        window_minutes=body.window_minutes, min_scores=body.min_scores, period=body.period)),
        str(body.webhook_url) if body.webhook_url else None, metadata(request))
    if rt.score_alerts is not None:
        rt.score_alerts.poke()  # the mean may be below already
    return await queries.get_alert(rt.pool, alert_id)


@router.get("/score-alerts", response_model=list[ScoreAlertOut])
async def list_score_alerts(rt=Depends(runtime), _=Depends(require("viewer"))):
    """Every alert with its rolling mean now and whether it fired this period."""
    return await queries.list_alerts(rt.pool)


@router.get("/score-alerts/firings", response_model=list[FiringOut])
async def list_firings(alert_id: str | None = Query(None, max_length=200),
                       limit: int = Query(100, ge=1, le=1000),
                       rt=Depends(runtime), _=Depends(require("viewer"))):
    """Firings, newest first, with their delivery."""
    return await queries.list_firings(rt.pool, alert_id, limit)


@router.get("/score-alerts/{alert_id}", response_model=ScoreAlertOut)
async def get_score_alert(alert_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.get_alert(rt.pool, alert_id)


@router.delete("/score-alerts/{alert_id}", status_code=204)
async def delete_score_alert(alert_id: str, request: Request, rt=Depends(runtime),
                             _=Depends(require("editor"))):
    await handlers.delete(rt, alert_id, metadata(request))
    return Response(status_code=204)
