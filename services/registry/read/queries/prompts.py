"""Reads of prompts and their versions: from the read models, or as a prompt's state folded
from its events (``as_of``, and the answers of commands, which return the new state)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from harness.events import streams
from harness.eventstore import EventStore

from ...domain import prompts as domain
from ...domain.composition import Node
from ...domain.errors import NotFound
from ...schemas import (
    HistoryEntry,
    Page,
    PromptOut,
    PromptResolvedOut,
    PromptSummary,
    PromptVersionOut,
    PromptVersionSummary,
)
from ..projections import version_id
from . import composition
from .search import contains_pattern

_SUMMARY_COLS = ("id, prompt_id, version, variables, is_active, created_at, created_by, "
                 "change_note, derived_from")
_VERSION_COLS = _SUMMARY_COLS + ', content, config, refs AS "references"'


def _version_out(row) -> PromptVersionOut:
    return PromptVersionOut(**{**dict(row), "id": str(row["id"])})


def version_from_state(state: domain.PromptState, v: domain.VersionState) -> PromptVersionOut:
    assert state.prompt_id is not None
    return PromptVersionOut(
        id=str(version_id(state.prompt_id, v.version)), prompt_id=state.prompt_id,
        version=v.version, content=v.content, variables=v.variables,
        is_active=v.version == state.active_version, created_at=v.created_at,
        created_by=v.created_by, change_note=v.change_note, derived_from=v.derived_from,
        config=v.config, references=v.references)


def prompt_from_state(state: domain.PromptState) -> PromptOut:
    assert state.prompt_id is not None
    active = state.versions.get(state.active_version) if state.active_version else None
    return PromptOut(
        id=state.prompt_id, name=state.name, description=state.description,
        created_at=state.created_at, updated_at=state.updated_at,
        active_version=state.active_version, latest_version=state.latest_version,
        active=version_from_state(state, active) if active else None)


async def _prompt_row(pool: asyncpg.Pool, prompt_id: str):
    row = await pool.fetchrow("SELECT * FROM prompts WHERE id = $1", prompt_id)
    if row is None:
        raise NotFound(f"prompt {prompt_id} not found")
    return row


async def active_version_number(pool: asyncpg.Pool, prompt_id: str) -> int | None:
    """The prompt's active version (None when it has none); a 404 for an unknown prompt."""
    return (await _prompt_row(pool, prompt_id))["active_version"]


async def get_prompt(pool: asyncpg.Pool, prompt_id: str) -> PromptOut:
    row = await _prompt_row(pool, prompt_id)
    active = await pool.fetchrow(
        f"SELECT {_VERSION_COLS} FROM prompt_versions WHERE prompt_id = $1 AND is_active",
        prompt_id)
    return PromptOut(**dict(row), active=_version_out(active) if active else None)


async def prompt_state(store: EventStore, prompt_id: str,
                       until: datetime | None = None) -> domain.PromptState:
    """The prompt's state folded from its events (those up to ``until``, when given)."""
    return domain.replay(await store.read_stream(streams.prompt(prompt_id), until=until))


async def prompt_as_of(store: EventStore, prompt_id: str, as_of: datetime) -> PromptOut:
    """The prompt as it was at ``as_of``, folded from its events."""
    state = await prompt_state(store, prompt_id, as_of)
    if not state.exists:
        raise NotFound(f"prompt {prompt_id} did not exist at {as_of.isoformat()}")
    return prompt_from_state(state)


async def list_prompts(pool: asyncpg.Pool, q: str | None, limit: int, offset: int
                       ) -> Page[PromptSummary]:
    """Summaries by name: the active version comes without its content."""
    pattern = contains_pattern(q)
    total = await pool.fetchval(
        "SELECT count(*) FROM prompts WHERE name ILIKE $1 ESCAPE '\\'", pattern)
    rows = await pool.fetch(
        "SELECT p.*, to_jsonb(v) - 'content' - 'config' AS _v FROM prompts p "
        "LEFT JOIN prompt_versions v ON v.prompt_id = p.id AND v.is_active "
        "WHERE p.name ILIKE $1 ESCAPE '\\' ORDER BY p.name LIMIT $2 OFFSET $3",
        pattern, limit, offset)
    items = []
    for r in rows:
        d = dict(r)
        v = d.pop("_v")
        items.append(PromptSummary(**d, active=PromptVersionSummary(**v) if v else None))
    return Page(items=items, total=total, limit=limit, offset=offset)


async def list_versions(pool: asyncpg.Pool, prompt_id: str, limit: int, offset: int
                        ) -> Page[PromptVersionSummary]:
    """Summaries without content, by version number."""
    row = await _prompt_row(pool, prompt_id)
    rows = await pool.fetch(
        f"SELECT {_SUMMARY_COLS} FROM prompt_versions WHERE prompt_id = $1 "
        "ORDER BY version LIMIT $2 OFFSET $3", prompt_id, limit, offset)
    return Page(items=[PromptVersionSummary(**{**dict(r), "id": str(r["id"])}) for r in rows],
                total=row["latest_version"], limit=limit, offset=offset)


async def get_version(pool: asyncpg.Pool, prompt_id: str, version: int | None
                      ) -> PromptVersionOut:
    """One version with its content; a 404 names the missing prompt or version."""
    await _prompt_row(pool, prompt_id)
    row = await pool.fetchrow(
        f"SELECT {_VERSION_COLS} FROM prompt_versions WHERE prompt_id = $1 AND version = $2",
        prompt_id, version)
    if row is None:
        raise NotFound(f"prompt {prompt_id} has no version {version}")
    return _version_out(row)


async def get_active_version(pool: asyncpg.Pool, prompt_id: str) -> PromptVersionOut:
    row = await pool.fetchrow(
        f"SELECT {_VERSION_COLS} FROM prompt_versions WHERE prompt_id = $1 AND is_active",
        prompt_id)
    if row is None:
        raise NotFound(f"prompt {prompt_id} not found")
    return _version_out(row)


async def history(store: EventStore, prompt_id: str, limit: int, offset: int
                  ) -> Page[HistoryEntry]:
    """Each event of the prompt's stream with its data, except a version's content."""
    events = await store.read_stream(streams.prompt(prompt_id))
    if not events:
        raise NotFound(f"prompt {prompt_id} not found")
    entries = []
    for ev in events:
        d = ev.data
        version, previous, note = (d.get("version"), d.get("previous_version"),
                                   d.get("change_note") or d.get("reason") or None)
        if ev.type == "PromptReferenceMoved":  # the versions are the referenced prompt's
            version = previous = None
            note = _reference_moved_note(d)
        entries.append(HistoryEntry(
            position=ev.global_position, stream_version=ev.stream_version, type=ev.type,
            at=ev.recorded_at, actor=ev.metadata.actor, version=version,
            previous_version=previous, note=note,
            data={k: v for k, v in d.items() if k != "content"}))
    return Page(items=entries[offset: offset + limit], total=len(entries), limit=limit,
                offset=offset)


def _reference_moved_note(d: dict[str, Any]) -> str:
    """``support-tone@production: v1 → v2`` (``nothing`` for an environment cleared)."""
    def v(n: Any) -> str:
        return f"v{n}" if n is not None else "nothing"
    name = d.get("referenced_name") or d.get("referenced_prompt_id")
    return f"{name}@{d.get('environment')}: {v(d.get('previous_version'))} → " \
           f"{v(d.get('version'))}"


async def resolve_version(pool: asyncpg.Pool, prompt_id: str, version: int | None = None,
                          environment: str | None = None) -> PromptResolvedOut:
    """A version (by number, else the one ``environment`` points at, else the active one)
    with its references expanded as they resolve now."""
    prompt = await _prompt_row(pool, prompt_id)
    if version is None:
        environment = environment or domain.PRODUCTION  # the default says so in the answer
        if environment == domain.PRODUCTION:
            version = prompt["active_version"]
        else:
            version = await pool.fetchval(
                "SELECT version FROM prompt_environments WHERE prompt_id = $1 "
                "AND environment = $2", prompt_id, environment)
            if version is None:
                raise NotFound(f"environment {environment!r} of prompt {prompt['name']!r} "
                               "points at no version", environment=environment)
    v = await get_version(pool, prompt_id, version)
    composed = await composition.compose(
        Node.of(prompt_id, prompt["name"], v.version, v.content,
                [r.model_dump() for r in v.references]),
        composition.read_model_lookup(pool))
    return PromptResolvedOut(
        prompt_id=prompt_id, prompt_name=prompt["name"], id=v.id, version=v.version,
        environment=environment, is_active=v.is_active, content=composed.content,
        template=v.content, variables=composed.variables, config=v.config,
        references=composition.references_out(composed), created_at=v.created_at,
        created_by=v.created_by, change_note=v.change_note)
