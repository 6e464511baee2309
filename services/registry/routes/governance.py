"""Governed promotion: environments, policies, proposals and approvals, lineage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from harness import rollout
from harness.web.auth import require
from harness.web.bodies import RequestBody
from harness.web.input_guard import INT32_MAX, Timestamp
from harness.web.problems import ProblemError

from ..domain import governance as gov
from ..domain.governance import ENV_NAME_PATTERN, MAX_TTL_HOURS
from ..domain.prompts import PRODUCTION
from ..handlers import governance as handlers
from ..read.queries import governance as queries
from .deps import metadata, runtime

router = APIRouter(tags=["governance"])

Environment = Annotated[str, Path(pattern=ENV_NAME_PATTERN,
                                  description="a lower-case letter, then lower-case letters, "
                                              "digits, - and _ (at most 40): production, "
                                              "staging, ...")]


class MoveBody(RequestBody):
    version: int = Field(ge=1, le=INT32_MAX)
    reason: str = ""


class VariantBody(RequestBody):
    version: int = Field(ge=1, le=INT32_MAX)
    weight: float = Field(gt=0, description="a share of the traffic: the weights sum to "
                                             "100 (percent) or 1")


class SplitBody(RequestBody):
    variants: list[VariantBody] = Field(
        min_length=2, max_length=rollout.MAX_VARIANTS,
        description="two or more distinct versions with their weights, e.g. "
                    '[{"version": 3, "weight": 90}, {"version": 4, "weight": 10}]')
    sticky_by: str = Field(
        default=rollout.DEFAULT_STICKY_BY,
        description="where a gateway request's stickiness key comes from: 'user' (the "
                    "OpenAI user field), 'metadata.<field>' or 'header:<name>'")


class SplitMoveBody(SplitBody):
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
    model: str | None = Field(default=None, min_length=1,
                              description="default: each version's config model (each "
                                          "version then runs as it would serve)")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="over each version's config")
    concurrency: int = Field(default=4, ge=1, le=256)


class ProposeBody(RequestBody):
    version: int | None = Field(default=None, ge=1, le=INT32_MAX,
                                description="the version to move the environment to "
                                            "(or give split)")
    split: SplitBody | None = Field(default=None,
                                    description="split the environment between versions "
                                                "instead (weighted rollout)")
    environment: str = Field(default=PRODUCTION, pattern=ENV_NAME_PATTERN)
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
async def environments(prompt_id: str, as_of: Timestamp | None = Query(None),
                       rt=Depends(runtime), _=Depends(require("viewer"))):
    """Where each environment points (production = the active version), with the event that
    put it there; ``as_of`` answers for a past moment."""
    return await queries.environments(rt.store, prompt_id, as_of)


@router.put("/prompts/{prompt_id}/environments/{environment}")
async def move_environment(prompt_id: str, environment: Environment, body: MoveBody,
                           request: Request,
                           rt=Depends(runtime), _=Depends(require("editor"))):
    state, _ev = await handlers.govern(
        rt, prompt_id, gov.MoveEnvironment(environment, body.version, body.reason),
        metadata(request))
    return {"prompt_id": prompt_id, "environments": queries.environments_view(state)}


@router.delete("/prompts/{prompt_id}/environments/{environment}")
async def clear_environment(prompt_id: str, environment: Environment, request: Request,
                            reason: str = Query(""), rt=Depends(runtime),
                            _=Depends(require("editor"))):
    state, _ev = await handlers.govern(rt, prompt_id, gov.ClearEnvironment(environment, reason),
                                          metadata(request))
    return {"prompt_id": prompt_id, "environments": queries.environments_view(state)}


@router.put("/prompts/{prompt_id}/environments/{environment}/split")
async def split_environment(prompt_id: str, environment: Environment, body: SplitMoveBody,
                            request: Request, rt=Depends(runtime),
                            _=Depends(require("editor"))):
    """Split the environment's traffic between versions by weight (weighted rollout): each
    request's variant is picked by its stickiness key (``resolved?key=``, or the gateway
    request's ``sticky_by`` field); requests without a key get the environment's version.
    A move like any other: the policy's approval and gate apply (or propose the split)."""
    state, _ev = await handlers.govern(
        rt, prompt_id, gov.SplitEnvironment(environment,
                                            [v.model_dump() for v in body.variants],
                                            body.sticky_by, body.reason),
        metadata(request))
    return {"prompt_id": prompt_id, "environments": queries.environments_view(state)}


@router.delete("/prompts/{prompt_id}/environments/{environment}/split")
async def end_split(prompt_id: str, environment: Environment, request: Request,
                    reason: str = Query(""), rt=Depends(runtime),
                    _=Depends(require("editor"))):
    """End the split: every request gets the environment's version again. (To promote the
    winner, move the environment to it: ``PUT .../environments/{environment}``.)"""
    state, _ev = await handlers.govern(rt, prompt_id, gov.EndSplit(environment, reason),
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
    if (body.version is None) == (body.split is None):
        raise ProblemError(422, "validation-error", "give either version or split",
                           field="version" if body.version is None else "split")
    gate_run = None if body.run_gate is None else handlers.GateRun(**body.run_gate.model_dump())
    split = None if body.split is None else {
        "variants": [v.model_dump() for v in body.split.variants],
        "sticky_by": body.split.sticky_by}
    state, promotion_id = await handlers.propose(rt, prompt_id, body.version, body.environment,
                                                 body.reason, metadata(request), gate_run,
                                                 split)
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
