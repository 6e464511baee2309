"""Governed promotion: environments, policies, proposals and approvals, lineage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from harness.web.auth import require
from harness.web.bodies import RequestBody
from harness.web.input_guard import INT32_MAX

from ..domain import governance as gov
from ..domain.errors import NotFound
from ..domain.governance import MAX_TTL_HOURS
from ..domain.prompts import PRODUCTION, pointer
from ..handlers import governance as handlers
from ..read.queries import prompts as queries
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


def _env_view(state) -> dict[str, Any]:
    names = {PRODUCTION, *state.environments, *state.pointer_changes}
    out = {}
    for env in sorted(names):
        change = state.pointer_changes.get(env)
        out[env] = {"version": pointer(state, env),
                    "set_by": None if change is None else {
                        "type": change.type, "at": change.at, "actor": change.actor,
                        "reason": change.reason, "promotion_id": change.promotion_id}}
    return out


@router.get("/prompts/{prompt_id}/environments")
async def environments(prompt_id: str, as_of: datetime | None = Query(None),
                       rt=Depends(runtime), _=Depends(require("viewer"))):
    """Where each environment points (production = the active version), with the event that
    put it there; ``as_of`` answers for a past moment."""
    state = await queries.prompt_state(rt.store, prompt_id, until=as_of)
    if not state.exists:
        raise NotFound(f"prompt {prompt_id} not found" + (f" at {as_of}" if as_of else ""))
    return {"prompt_id": prompt_id, "as_of": as_of, "environments": _env_view(state)}


@router.put("/prompts/{prompt_id}/environments/{environment}")
async def move_environment(prompt_id: str, environment: str, body: MoveBody, request: Request,
                           rt=Depends(runtime), _=Depends(require("editor"))):
    state, _ev = await handlers.govern(
        rt, prompt_id, gov.MoveEnvironment(environment, body.version, body.reason),
        metadata(request))
    return {"prompt_id": prompt_id, "environments": _env_view(state)}


@router.delete("/prompts/{prompt_id}/environments/{environment}")
async def clear_environment(prompt_id: str, environment: str, request: Request,
                            reason: str = Query(""), rt=Depends(runtime),
                            _=Depends(require("editor"))):
    state, _ev = await handlers.govern(rt, prompt_id, gov.ClearEnvironment(environment, reason),
                                          metadata(request))
    return {"prompt_id": prompt_id, "environments": _env_view(state)}


@router.get("/prompts/{prompt_id}/policy")
async def get_policy(prompt_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    state = await queries.prompt_state(rt.store, prompt_id)
    if not state.exists:
        raise NotFound(f"prompt {prompt_id} not found")
    global_policy = await rt.pool.fetchval("SELECT policy FROM prompt_policies WHERE scope='*'")
    return {"prompt_id": prompt_id, "policy": state.policy, "global_default": global_policy,
            "effective": state.policy or global_policy}


@router.put("/prompts/{prompt_id}/policy")
async def set_policy(prompt_id: str, body: PolicyBody, request: Request, rt=Depends(runtime),
                     _=Depends(require("admin"))):
    state, _ev = await handlers.govern(rt, prompt_id, gov.SetPolicy(_policy(body)),
                                          metadata(request))
    return {"prompt_id": prompt_id, "policy": state.policy}


@router.get("/policy")
async def get_global_policy(rt=Depends(runtime), _=Depends(require("viewer"))):
    return {"policy": await rt.pool.fetchval(
        "SELECT policy FROM prompt_policies WHERE scope = '*'")}


@router.put("/policy")
async def set_global_policy(body: PolicyBody, request: Request, rt=Depends(runtime),
                            _=Depends(require("admin"))):
    """The default policy of every prompt that has none of its own."""
    return {"policy": await handlers.set_global_policy(rt, _policy(body),
                                                        metadata(request))}


def _promotion(state, promotion_id: str) -> dict[str, Any]:
    p = state.promotions.get(promotion_id)
    if p is None:
        raise NotFound(f"promotion {promotion_id} not found")
    expired = p.status == "pending" and datetime.fromisoformat(p.expires_at) <= datetime.now(UTC)
    return {"id": p.promotion_id, "prompt_id": state.prompt_id, "version": p.version,
            "environment": p.environment, "status": "expired" if expired else p.status,
            "reason": p.reason, "proposed_by": p.proposed_by, "proposed_at": p.proposed_at,
            "expires_at": p.expires_at, "gate_run_id": p.gate_run_id,
            "decided_by": p.decided_by, "comment": p.comment, "gate": p.gate,
            "current_version": pointer(state, p.environment)}


@router.post("/prompts/{prompt_id}/promotions", status_code=201)
async def propose(prompt_id: str, body: ProposeBody, request: Request, rt=Depends(runtime),
                  _=Depends(require("editor"))):
    gate_run = None if body.run_gate is None else handlers.GateRun(**body.run_gate.model_dump())
    state, promotion_id = await handlers.propose(rt, prompt_id, body.version, body.environment,
                                                 body.reason, metadata(request), gate_run)
    return _promotion(state, promotion_id)


@router.get("/prompts/{prompt_id}/promotions")
async def list_promotions(prompt_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    state = await queries.prompt_state(rt.store, prompt_id)
    if not state.exists:
        raise NotFound(f"prompt {prompt_id} not found")
    items = [_promotion(state, p) for p in state.promotions]
    items.sort(key=lambda x: x["proposed_at"] or datetime.min.replace(tzinfo=UTC), reverse=True)
    return {"items": items, "total": len(items)}


@router.get("/promotions")
async def pending_promotions(status: str = Query("pending"), rt=Depends(runtime),
                             _=Depends(require("viewer"))):
    """Across prompts (what approvers look at)."""
    rows = await rt.pool.fetch(
        "SELECT m.*, p.name AS prompt_name FROM promotions m JOIN prompts p ON p.id = "
        "m.prompt_id WHERE m.status = $1 AND (m.status <> 'pending' OR m.expires_at > now()) "
        "ORDER BY m.proposed_at DESC LIMIT 500", status)
    return {"items": [dict(r) for r in rows], "total": len(rows)}


@router.get("/prompts/{prompt_id}/promotions/{promotion_id}")
async def get_promotion(prompt_id: str, promotion_id: str, rt=Depends(runtime),
                        _=Depends(require("viewer"))):
    return _promotion(await queries.prompt_state(rt.store, prompt_id), promotion_id)


@router.post("/prompts/{prompt_id}/promotions/{promotion_id}/approve")
async def approve(prompt_id: str, promotion_id: str, request: Request,
                  body: DecisionBody | None = None, rt=Depends(runtime),
                  _=Depends(require("approver"))):
    state, _ev = await handlers.govern(
        rt, prompt_id, gov.Approve(promotion_id, (body or DecisionBody()).comment),
        metadata(request))
    return _promotion(state, promotion_id)


@router.post("/prompts/{prompt_id}/promotions/{promotion_id}/reject")
async def reject(prompt_id: str, promotion_id: str, request: Request,
                 body: DecisionBody | None = None, rt=Depends(runtime),
                 _=Depends(require("approver"))):
    state, _ev = await handlers.govern(
        rt, prompt_id, gov.Reject(promotion_id, (body or DecisionBody()).comment),
        metadata(request))
    return _promotion(state, promotion_id)


@router.get("/prompts/{prompt_id}/lineage")
async def lineage(prompt_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    """Each version with the version it was derived from, as a tree."""
    state = await queries.prompt_state(rt.store, prompt_id)
    if not state.exists:
        raise NotFound(f"prompt {prompt_id} not found")
    nodes = [{"version": v.version, "derived_from": v.derived_from, "created_by": v.created_by,
              "created_at": v.created_at, "change_note": v.change_note,
              "environments": [e for e in _env_view(state)
                               if pointer(state, e) == v.version]}
             for v in sorted(state.versions.values(), key=lambda v: v.version)]
    children: dict[int | None, list[int]] = {}
    for n in nodes:
        children.setdefault(n["derived_from"], []).append(n["version"])

    def tree(version: int) -> dict:
        return {"version": version, "children": [tree(c) for c in children.get(version, [])]}

    return {"prompt_id": prompt_id, "versions": nodes,
            "tree": [tree(v) for v in children.get(None, [])]}
