"""Reads of governed promotion: where each environment points and who put it there,
policies, promotions (a prompt's, folded from its events, or every prompt's pending ones
from the read model) and the versions' lineage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from harness import rollout
from harness.eventstore import EventStore

from ...domain.errors import NotFound
from ...domain.prompts import PRODUCTION, PointerChange, PromptState, pointer
from .prompts import prompt_state


def set_by(change: PointerChange | None) -> dict[str, Any] | None:
    """The event that put an environment where it is (``PointerChangeOut``'s fields)."""
    if change is None:
        return None
    return {"type": change.type, "at": change.at, "actor": change.actor,
            "reason": change.reason, "promotion_id": change.promotion_id}


def split_view(state: PromptState, environment: str) -> dict[str, Any] | None:
    """An environment's split: its variants (each with its share of the traffic), where a
    request's key comes from, and who started it (None when it is not split)."""
    split = state.splits.get(environment)
    if split is None:
        return None
    return {"variants": [{**v, "share": rollout.share(v, split.variants)}
                         for v in split.variants],
            "sticky_by": split.sticky_by, "started_at": split.at, "started_by": split.actor,
            "reason": split.reason, "promotion_id": split.promotion_id}


def environments_view(state: PromptState) -> dict[str, Any]:
    """Each environment (production always) with its version, what set it and its split
    (``null`` when it is not split)."""
    names = {PRODUCTION, *state.environments, *state.pointer_changes, *state.splits}
    return {env: {"version": pointer(state, env),
                  "set_by": set_by(state.pointer_changes.get(env)),
                  "split": split_view(state, env)}
            for env in sorted(names)}


def promotion_view(state: PromptState, promotion_id: str) -> dict[str, Any]:
    """One promotion of the prompt; a pending one past its expiry shows as ``expired``."""
    p = state.promotions.get(promotion_id)
    if p is None:
        raise NotFound(f"promotion {promotion_id} not found")
    expired = p.status == "pending" and datetime.fromisoformat(p.expires_at) <= datetime.now(UTC)
    return {"id": p.promotion_id, "prompt_id": state.prompt_id, "version": p.version,
            "environment": p.environment, "status": "expired" if expired else p.status,
            "reason": p.reason, "proposed_by": p.proposed_by, "proposed_at": p.proposed_at,
            "expires_at": p.expires_at, "gate_run_id": p.gate_run_id,
            "decided_by": p.decided_by, "comment": p.comment, "gate": p.gate,
            "split": p.split, "current_version": pointer(state, p.environment)}


async def _existing(store: EventStore, prompt_id: str) -> PromptState:
    state = await prompt_state(store, prompt_id)
    if not state.exists:
        raise NotFound(f"prompt {prompt_id} not found")
    return state


async def environments(store: EventStore, prompt_id: str, as_of: datetime | None) -> dict:
    """Where each environment points, now or at ``as_of``."""
    state = await prompt_state(store, prompt_id, until=as_of)
    if not state.exists:
        raise NotFound(f"prompt {prompt_id} not found" + (f" at {as_of}" if as_of else ""))
    return {"prompt_id": prompt_id, "as_of": as_of, "environments": environments_view(state)}


async def global_policy(pool: asyncpg.Pool) -> dict | None:
    """The default policy of every prompt without one of its own."""
    return await pool.fetchval("SELECT policy FROM prompt_policies WHERE scope = '*'")


async def policy(store: EventStore, pool: asyncpg.Pool, prompt_id: str) -> dict:
    """The prompt's own policy, the global default and the one in effect."""
    state = await _existing(store, prompt_id)
    default = await global_policy(pool)
    return {"prompt_id": prompt_id, "policy": state.policy, "global_default": default,
            "effective": state.policy or default}


async def promotions(store: EventStore, prompt_id: str) -> dict:
    """The prompt's promotions, newest first."""
    state = await _existing(store, prompt_id)
    items = [promotion_view(state, p) for p in state.promotions]
    items.sort(key=lambda x: x["proposed_at"] or datetime.min.replace(tzinfo=UTC), reverse=True)
    return {"items": items, "total": len(items)}


async def get_promotion(store: EventStore, prompt_id: str, promotion_id: str) -> dict:
    return promotion_view(await prompt_state(store, prompt_id), promotion_id)


async def promotions_with_status(pool: asyncpg.Pool, status: str) -> dict:
    """Promotions of every prompt with ``status`` (a pending one only until it expires),
    newest first, at most 500: what approvers look at."""
    rows = await pool.fetch(
        "SELECT m.*, p.name AS prompt_name FROM promotions m JOIN prompts p ON p.id = "
        "m.prompt_id WHERE m.status = $1 AND (m.status <> 'pending' OR m.expires_at > now()) "
        "ORDER BY m.proposed_at DESC LIMIT 500", status)
    return {"items": [dict(r) for r in rows], "total": len(rows)}


async def lineage(store: EventStore, prompt_id: str) -> dict:
    """Each version with the version it was derived from, and the versions as a tree."""
    state = await _existing(store, prompt_id)
    nodes = [{"version": v.version, "derived_from": v.derived_from, "created_by": v.created_by,
              "created_at": v.created_at, "change_note": v.change_note,
              "environments": [e for e in environments_view(state)
                               if pointer(state, e) == v.version]}
             for v in sorted(state.versions.values(), key=lambda v: v.version)]
    children: dict[int | None, list[int]] = {}
    for n in nodes:
        children.setdefault(n["derived_from"], []).append(n["version"])

    def tree(version: int) -> dict:
        return {"version": version, "children": [tree(c) for c in children.get(version, [])]}

    return {"prompt_id": prompt_id, "versions": nodes,
            "tree": [tree(v) for v in children.get(None, [])]}
