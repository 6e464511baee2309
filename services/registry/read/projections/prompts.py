"""Read models of prompts, their versions, environments and policies, promotions, and
applications: the ``prompts``, ``prompt_versions``, ``prompt_environments``,
``prompt_splits``, ``prompt_policies``, ``promotions`` and ``applications`` tables.

Events are decoded through the event registry (so upcasters run) before a handler sees
them. Listed with the other projections in :mod:`.catalog`.
"""

from __future__ import annotations

import uuid

import asyncpg

from harness.events import StoredEvent, registry
from harness.events.registry_events import (
    ApplicationCreated,
    ApplicationUpdated,
    PromotionApplied,
    PromotionApproved,
    PromotionGateEvaluated,
    PromotionProposed,
    PromotionRejected,
    PromotionSuperseded,
    PromptCreated,
    PromptEnvironmentCleared,
    PromptEnvironmentMoved,
    PromptEnvironmentSplit,
    PromptEnvironmentSplitEnded,
    PromptPolicySet,
    PromptUpdated,
    PromptVersionActivated,
    PromptVersionCreated,
)

from .projection import Projection

_VERSION_NS = uuid.UUID("6f1c2f9e-4d1b-4f0e-9a57-8f3f3a0c1d20")


def version_id(prompt_id: str, version: int) -> uuid.UUID:
    return uuid.uuid5(_VERSION_NS, f"{prompt_id}:{version}")


async def _prompt_created(conn, e: PromptCreated, ev: StoredEvent) -> None:
    await conn.execute(
        "INSERT INTO prompts (id, name, description, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $4)",
        e.prompt_id, e.name, e.description, ev.recorded_at,
    )


async def _prompt_updated(conn, e: PromptUpdated, ev: StoredEvent) -> None:
    await conn.execute(
        "UPDATE prompts SET name = coalesce($2, name), description = coalesce($3, description), "
        "updated_at = $4 WHERE id = $1",
        e.prompt_id, e.name, e.description, ev.recorded_at,
    )


async def _version_created(conn, e: PromptVersionCreated, ev: StoredEvent) -> None:
    await conn.execute(
        "INSERT INTO prompt_versions (id, prompt_id, version, content, variables, created_at, "
        "created_by, change_note, derived_from, config, refs) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        version_id(e.prompt_id, e.version), e.prompt_id, e.version, e.content, e.variables,
        ev.recorded_at, ev.metadata.actor, e.change_note, e.derived_from, e.config,
        e.references,
    )
    await conn.execute(
        "UPDATE prompts SET latest_version = greatest(latest_version, $2), updated_at = $3 "
        "WHERE id = $1",
        e.prompt_id, e.version, ev.recorded_at,
    )


async def _version_activated(conn, e: PromptVersionActivated, ev: StoredEvent) -> None:
    await conn.execute(
        "UPDATE prompt_versions SET is_active = false WHERE prompt_id = $1 AND is_active",
        e.prompt_id,
    )
    await conn.execute(
        "UPDATE prompt_versions SET is_active = true WHERE prompt_id = $1 AND version = $2",
        e.prompt_id, e.version,
    )
    await conn.execute(
        "UPDATE prompts SET active_version = $2, updated_at = $3 WHERE id = $1",
        e.prompt_id, e.version, ev.recorded_at,
    )


async def _application_created(conn, e: ApplicationCreated, ev: StoredEvent) -> None:
    await conn.execute(
        "INSERT INTO applications (id, name, description, model_id, prompt_id, temperature, "
        "max_tokens, top_p, fallback_models, created_at, updated_at, environment) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
        e.application_id, e.name, e.description, e.model_id, e.prompt_id, e.temperature,
        e.max_tokens, e.top_p, list(e.fallback_models), ev.recorded_at, e.environment,
    )


_APP_COLUMNS = {"name", "description", "model_id", "prompt_id", "temperature", "max_tokens",
                "top_p", "fallback_models", "environment"}


async def _application_updated(conn, e: ApplicationUpdated, ev: StoredEvent) -> None:
    changes = {k: v for k, v in e.changes.items() if k in _APP_COLUMNS}
    sets = [f"{k} = ${i + 2}" for i, k in enumerate(changes)]
    sets.append(f"updated_at = ${len(changes) + 2}")
    await conn.execute(
        f"UPDATE applications SET {', '.join(sets)} WHERE id = $1",
        e.application_id, *changes.values(), ev.recorded_at,
    )


async def _env_moved(conn, e: PromptEnvironmentMoved, ev: StoredEvent) -> None:
    await conn.execute(
        "INSERT INTO prompt_environments (prompt_id, environment, version, moved_at, moved_by, "
        "reason) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (prompt_id, environment) DO "
        "UPDATE SET version = EXCLUDED.version, moved_at = EXCLUDED.moved_at, "
        "moved_by = EXCLUDED.moved_by, reason = EXCLUDED.reason",
        e.prompt_id, e.environment, e.version, ev.recorded_at, ev.metadata.actor, e.reason)


async def _env_cleared(conn, e: PromptEnvironmentCleared, ev: StoredEvent) -> None:
    await conn.execute("DELETE FROM prompt_environments WHERE prompt_id = $1 AND environment = $2",
                       e.prompt_id, e.environment)
    await conn.execute("DELETE FROM prompt_splits WHERE prompt_id = $1 AND environment = $2",
                       e.prompt_id, e.environment)


async def _env_split(conn, e: PromptEnvironmentSplit, ev: StoredEvent) -> None:
    await conn.execute(
        "INSERT INTO prompt_splits (prompt_id, environment, variants, sticky_by, started_at, "
        "started_by, reason, promotion_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (prompt_id, environment) DO UPDATE SET variants = EXCLUDED.variants, "
        "sticky_by = EXCLUDED.sticky_by, started_at = EXCLUDED.started_at, "
        "started_by = EXCLUDED.started_by, reason = EXCLUDED.reason, "
        "promotion_id = EXCLUDED.promotion_id",
        e.prompt_id, e.environment, e.variants, e.sticky_by, ev.recorded_at,
        ev.metadata.actor, e.reason, e.promotion_id)


async def _env_split_ended(conn, e: PromptEnvironmentSplitEnded, ev: StoredEvent) -> None:
    await conn.execute("DELETE FROM prompt_splits WHERE prompt_id = $1 AND environment = $2",
                       e.prompt_id, e.environment)


async def _policy_set(conn, e: PromptPolicySet, ev: StoredEvent) -> None:
    await conn.execute(
        "INSERT INTO prompt_policies (scope, policy, updated_at, updated_by) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (scope) DO UPDATE SET policy = EXCLUDED.policy, "
        "updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
        e.prompt_id or "*", e.policy, ev.recorded_at, ev.metadata.actor)


async def _promotion_proposed(conn, e: PromotionProposed, ev: StoredEvent) -> None:
    from datetime import datetime

    await conn.execute(
        "INSERT INTO promotions (id, prompt_id, version, environment, status, reason, "
        "proposed_by, proposed_at, expires_at, gate_run_id, split) "
        "VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10)",
        e.promotion_id, e.prompt_id, e.version, e.environment, e.reason, ev.metadata.actor,
        ev.recorded_at, datetime.fromisoformat(e.expires_at), e.gate_run_id, e.split)


async def _promotion_decided(conn, e, ev: StoredEvent) -> None:
    status = {PromotionApproved.TYPE: "approved", PromotionRejected.TYPE: "rejected",
              PromotionApplied.TYPE: "applied", PromotionSuperseded.TYPE: "superseded"}[ev.type]
    if ev.type in (PromotionApproved.TYPE, PromotionRejected.TYPE):
        await conn.execute(
            "UPDATE promotions SET status = $2, decided_by = $3, decided_at = $4, comment = $5, "
            "gate = coalesce($6, gate) WHERE id = $1", e.promotion_id, status,
            ev.metadata.actor, ev.recorded_at, e.comment, e.gate)
    else:
        await conn.execute(
            "UPDATE promotions SET status = $2, gate = coalesce($3, gate), "
            "decided_at = coalesce(decided_at, $4) WHERE id = $1", e.promotion_id, status,
            getattr(e, "gate", None), ev.recorded_at)


async def _promotion_gate(conn, e: PromotionGateEvaluated, ev: StoredEvent) -> None:
    await conn.execute("UPDATE promotions SET gate = $2 WHERE id = $1", e.promotion_id, e.gate)


_HANDLERS = {
    PromptEnvironmentMoved.TYPE: _env_moved,
    PromptEnvironmentCleared.TYPE: _env_cleared,
    PromptEnvironmentSplit.TYPE: _env_split,
    PromptEnvironmentSplitEnded.TYPE: _env_split_ended,
    PromptPolicySet.TYPE: _policy_set,
    PromotionProposed.TYPE: _promotion_proposed,
    PromotionApproved.TYPE: _promotion_decided,
    PromotionRejected.TYPE: _promotion_decided,
    PromotionGateEvaluated.TYPE: _promotion_gate,
    PromotionApplied.TYPE: _promotion_decided,
    PromotionSuperseded.TYPE: _promotion_decided,
    PromptCreated.TYPE: _prompt_created,
    PromptUpdated.TYPE: _prompt_updated,
    PromptVersionCreated.TYPE: _version_created,
    PromptVersionActivated.TYPE: _version_activated,
    ApplicationCreated.TYPE: _application_created,
    ApplicationUpdated.TYPE: _application_updated,
}


async def apply(conn: asyncpg.Connection, ev: StoredEvent) -> None:
    if registry.knows(ev.type):
        await _HANDLERS[ev.type](conn, registry.decode(ev), ev)


PROJECTION = Projection(
    name="prompts",
    types=frozenset(_HANDLERS),
    apply=apply,
    tables=("promotions", "prompt_policies", "prompt_splits", "prompt_environments",
            "applications", "prompt_versions", "prompts"),
)
