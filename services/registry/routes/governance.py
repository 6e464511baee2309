"""Governed promotion: environments, policies, proposals and approvals, lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from harness.web.auth import require
from harness.web.bodies import RequestBody
from harness.web.input_guard import INT32_MAX

from ..domain import governance as gov
from ..domain.governance import MAX_TTL_HOURS
from ..domain.prompts import PRODUCTION
from ..handlers import governance as handlers
from ..read.queries import governance as queries
from .deps import metadata, runtime

router = APIRouter(tags=["governance"])


class MoveBody(RequestBody):
    version: int = Field(ge=1, le=INT32_MAX)
    reason: str = ""


class GatePolicy(RequestBody):
    """The eval gate of a policy (stored as sent: a default left out stays out)."""

    dataset_id: str = Field(min_length=1, description="a verified golden dataset")
    min_pass_rate: float = Field(default=1.0, ge=0, le=1)
    alpha: float = Field(default=0.05, gt=0, lt=1,
                         description="significance level of the regression check")


class PolicyBody(RequestBody):
    require_approval: bool = False
    environments: list[str] = Field(default_factory=lambda: [PRODUCTION])
    gate: GatePolicy | None = None
    proposal_ttl_hours: float = Field(default=72, gt=0, le=MAX_TTL_HOURS)


class GateRun(RequestBody):
    model: str
    params: dict[str, Any] = Field(default_factory=dict)
    concurrency: int = Field(default=4, ge=1, le=256)


class ProposeBody(RequestBody):
    version: int = Field(ge=1, le=INT32_MAX)
    environment: str = PRODUCTION
    reason: str = ""
    run_gate: GateRun | None = Field(
        default=None, description="request the gate run now (candidate and current version "
                                  "on the gate dataset); promote when it passes")


class DecisionBody(RequestBody):
    comment: str = ""


def _policy(body: PolicyBody) -> dict[str, Any]:
    """The policy as the domain validates and stores it (the gate as it was sent)."""
    policy = body.model_dump()
    if body.gate is not None:
        policy["gate"] = body.gate.model_dump(exclude_unset=True)
    return policy


@router.get("/prompts/{prompt_id}/environments")
async def environments(prompt_id: str, as_of: datetime | None = Query(None),
                       rt=Depends(runtime), _=Depends(require("viewer"))):
    """Where each environment points (production = the active version), with the event that
    put it there; ``as_of`` answers for a past moment."""
    return await queries.environments(rt.store, prompt_id, as_of)


@router.put("/prompts/{prompt_id}/environments/{environment}")
async def move_environment(prompt_id: str, environment: str, body: MoveBody, request: Request,
                           rt=Depends(runtime), _=Depends(require("editor"))):
    state, _ev = await handlers.govern(
        rt, prompt_id, gov.MoveEnvironment(environment, body.version, body.reason),
        metadata(request))
    return {"prompt_id": prompt_id, "environments": queries.environments_view(state)}


@router.delete("/prompts/{prompt_id}/environments/{environment}")
async def clear_environment(prompt_id: str, environment: str, request: Request,
                            reason: str = Query(""), rt=Depends(runtime),
                            _=Depends(require("editor"))):
    state, _ev = await handlers.govern(rt, prompt_id, gov.ClearEnvironment(environment, reason),
                                          metadata(request))
    return {"prompt_id": prompt_id, "environments": queries.environments_view(state)}


@router.get("/prompts/{prompt_id}/policy")
async def get_policy(prompt_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.policy(rt.store, rt.pool, prompt_id)


@router.put("/prompts/{prompt_id}/policy")
async def set_policy(prompt_id: str, body: PolicyBody, request: Request, rt=Depends(runtime),
                     _=Depends(require("admin"))):
    state, _ev = await handlers.govern(rt, prompt_id, gov.SetPolicy(_policy(body)),
                                          metadata(request))
    return {"prompt_id": prompt_id, "policy": state.policy}


@router.get("/policy")
async def get_global_policy(rt=Depends(runtime), _=Depends(require("viewer"))):
    return {"policy": await queries.global_policy(rt.pool)}


@router.put("/policy")
async def set_global_policy(body: PolicyBody, request: Request, rt=Depends(runtime),
                            _=Depends(require("admin"))):
    """The default policy of every prompt that has none of its own."""
    return {"policy": await handlers.set_global_policy(rt, _policy(body),
                                                        metadata(request))}


@router.post("/prompts/{prompt_id}/promotions", status_code=201)
async def propose(prompt_id: str, body: ProposeBody, request: Request, rt=Depends(runtime),
                  _=Depends(require("editor"))):
    gate_run = None if body.run_gate is None else handlers.GateRun(**body.run_gate.model_dump())
    state, promotion_id = await handlers.propose(rt, prompt_id, body.version, body.environment,
                                                 body.reason, metadata(request), gate_run)
    return queries.promotion_view(state, promotion_id)


@router.get("/prompts/{prompt_id}/promotions")
async def list_promotions(prompt_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.promotions(rt.store, prompt_id)


@router.get("/promotions")
async def pending_promotions(status: str = Query("pending"), rt=Depends(runtime),
                             _=Depends(require("viewer"))):
    """Across prompts (what approvers look at)."""
    return await queries.promotions_with_status(rt.pool, status)


@router.get("/prompts/{prompt_id}/promotions/{promotion_id}")
async def get_promotion(prompt_id: str, promotion_id: str, rt=Depends(runtime),
                        _=Depends(require("viewer"))):
    return await queries.get_promotion(rt.store, prompt_id, promotion_id)


@router.post("/prompts/{prompt_id}/promotions/{promotion_id}/approve")
async def approve(prompt_id: str, promotion_id: str, request: Request,
                  body: DecisionBody | None = None, rt=Depends(runtime),
                  _=Depends(require("approver"))):
    state, _ev = await handlers.govern(
        rt, prompt_id, gov.Approve(promotion_id, (body or DecisionBody()).comment),
        metadata(request))
    return queries.promotion_view(state, promotion_id)


@router.post("/prompts/{prompt_id}/promotions/{promotion_id}/reject")
async def reject(prompt_id: str, promotion_id: str, request: Request,
                 body: DecisionBody | None = None, rt=Depends(runtime),
                 _=Depends(require("approver"))):
    state, _ev = await handlers.govern(
        rt, prompt_id, gov.Reject(promotion_id, (body or DecisionBody()).comment),
        metadata(request))
    return queries.promotion_view(state, promotion_id)


@router.get("/prompts/{prompt_id}/lineage")
async def lineage(prompt_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    """Each version with the version it was derived from, as a tree."""
    return await queries.lineage(rt.store, prompt_id)
