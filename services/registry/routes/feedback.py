"""Human judgement: score configs (``/score-configs``) and scores given to a stored trace
(``POST /traces/{id}/scores``) or to a run's result (``POST /runs/{id}/results/{result_id}/
scores``). A score's name must have a config, which says what values it takes; who scored
is the caller's key. Scores are events (``TraceScored``, ``ResultScored``, source
``human``); they show in ``GET /traces/{id}`` and, as ``human:<name>``, beside the scorer's
metrics in a run's results, summary, pivot and comparison.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from harness.web.auth import require
from harness.web.bodies import RequestBody

from ..domain import feedback as domain
from ..handlers import feedback as handlers
from ..read.queries import feedback as queries
from ..schemas import ScoreOut
from .deps import metadata, runtime

router = APIRouter(tags=["feedback"])


class CategoryIn(RequestBody):
    label: str = Field(min_length=1, max_length=200)
    value: float = Field(allow_inf_nan=False, description="what the label counts as when "
                                                          "scores are averaged")


class ScoreConfigIn(RequestBody):
    name: str = Field(min_length=1, max_length=64, description="letters, digits, _ . -")
    data_type: Literal["numeric", "boolean", "categorical"]
    min_value: float | None = Field(None, allow_inf_nan=False, description="numeric only")
    max_value: float | None = Field(None, allow_inf_nan=False, description="numeric only")
    categories: list[CategoryIn] = Field(default_factory=list, max_length=domain.MAX_CATEGORIES,
                                         description="categorical only")
    description: str = Field("", max_length=4000)


class ScoreConfigOut(BaseModel):
    id: str
    name: str
    data_type: str
    min_value: float | None
    max_value: float | None
    categories: list[dict]
    description: str
    created_at: datetime
    created_by: str | None


class ScoreIn(RequestBody):
    name: str = Field(min_length=1, max_length=64, description="a score config's name")
    value: bool | float | str = Field(description="a number, true/false or a category's "
                                                  "label, as the config says")
    comment: str = Field("", max_length=domain.MAX_COMMENT)

    def score(self) -> domain.Score:
        return domain.Score(name=self.name, value=self.value, comment=self.comment)


@router.post("/score-configs", response_model=ScoreConfigOut, status_code=201)
async def create_score_config(body: ScoreConfigIn, request: Request, rt=Depends(runtime),
                              _=Depends(require("editor"))):
    """Define a score: its name, its type and what values it takes."""
    config_id = str(uuid.uuid4())
    await handlers.create_config(rt, domain.CreateScoreConfig(
        config_id=config_id, name=body.name, data_type=body.data_type,
        min_value=body.min_value, max_value=body.max_value,
        categories=tuple(c.model_dump() for c in body.categories),
        description=body.description), metadata(request))
    return await queries.get_config(rt.pool, config_id)


@router.get("/score-configs", response_model=list[ScoreConfigOut])
async def list_score_configs(rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.list_configs(rt.pool)


@router.get("/score-configs/{config_id}", response_model=ScoreConfigOut)
async def get_score_config(config_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.get_config(rt.pool, config_id)


@router.post("/traces/{trace_id}/scores", response_model=ScoreOut, status_code=201)
async def score_trace(body: ScoreIn, request: Request,
                      trace_id: uuid.UUID = Path(description="trace id"),
                      rt=Depends(runtime), _=Depends(require("editor"))):
    """A person's score of a stored trace (their earlier score of this name is replaced)."""
    meta = metadata(request)
    [event] = await handlers.score_trace(rt, trace_id, body.score(), meta)
    return await queries.trace_score(rt.pool, trace_id, event.data["name"], "human", meta.actor)


@router.post("/runs/{run_id}/results/{result_id}/scores", response_model=ScoreOut,
             status_code=201)
async def score_result(body: ScoreIn, request: Request, run_id: str,
                       result_id: uuid.UUID = Path(description="a result's result_id"),
                       rt=Depends(runtime), _=Depends(require("editor"))):
    """A person's score of one result of a run, beside the scorer's metrics."""
    meta = metadata(request)
    [event] = await handlers.score_result(rt, run_id, result_id, body.score(), meta)
    scores = await queries.result_scores(rt.pool, run_id, result_id)
    return next(s for s in scores if s["name"] == event.data["name"]
                and s["source"] == "human" and s["actor"] == meta.actor)


@router.get("/runs/{run_id}/results/{result_id}/scores", response_model=list[ScoreOut])
async def result_scores(run_id: str, result_id: uuid.UUID = Path(description="result id"),
                        rt=Depends(runtime), _=Depends(require("viewer"))):
    """The human scores of one result."""
    return await queries.result_scores(rt.pool, run_id, result_id)
