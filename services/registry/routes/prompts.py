"""/prompts: create, version, activate (rollback), diff, history, render, as_of."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from fastapi import Request as _Request

from harness import templating
from harness.config import get_settings
from harness.textdiff import unified_diff
from harness.web.auth import require
from harness.web.input_guard import INT32_MAX
from harness.web.problems import ProblemError

from ..domain import prompts as domain
from ..domain.errors import NotFound
from ..read.projections import version_id
from ..read.queries.search import contains_pattern
from ..schemas import (
    ActivateBody,
    DiffOut,
    HistoryEntry,
    Page,
    PromptCreate,
    PromptOut,
    PromptPatch,
    PromptSummary,
    PromptVersionCreate,
    PromptVersionOut,
    PromptVersionSummary,
    RenderBody,
    RenderOut,
    content_to_plain,
)
from .deps import Paging, VersionPath, metadata, runtime

router = APIRouter(prefix="/prompts", tags=["prompts"])

_SUMMARY_COLS = ("id, prompt_id, version, variables, is_active, created_at, created_by, "
                 "change_note, derived_from")
_VERSION_COLS = _SUMMARY_COLS + ", content"


def _version_out(row) -> PromptVersionOut:
    return PromptVersionOut(**{**dict(row), "id": str(row["id"])})


def _state_version_out(state: domain.PromptState, v: domain.VersionState) -> PromptVersionOut:
    assert state.prompt_id is not None
    return PromptVersionOut(
        id=str(version_id(state.prompt_id, v.version)), prompt_id=state.prompt_id,
        version=v.version, content=v.content, variables=v.variables,
        is_active=v.version == state.active_version, created_at=v.created_at,
        created_by=v.created_by, change_note=v.change_note, derived_from=v.derived_from)


def _state_out(state: domain.PromptState) -> PromptOut:
    assert state.prompt_id is not None
    active = state.versions.get(state.active_version) if state.active_version else None
    return PromptOut(
        id=state.prompt_id, name=state.name, description=state.description,
        created_at=state.created_at, updated_at=state.updated_at,
        active_version=state.active_version, latest_version=state.latest_version,
        active=_state_version_out(state, active) if active else None)


def _check_size(content) -> None:
    """A version's content is bounded (HARNESS_MAX_PROMPT_BYTES): every resolve, render and
    run carries it."""
    limit = get_settings().max_prompt_bytes
    size = templating.content_bytes(content_to_plain(content))
    if size > limit:
        raise ProblemError(413, "content-too-large", f"content: {size} bytes; the limit is "
                           f"{limit} (HARNESS_MAX_PROMPT_BYTES)", field="content",
                           limit_bytes=limit)


async def _prompt_row(rt, prompt_id: str):
    row = await rt.pool.fetchrow("SELECT * FROM prompts WHERE id = $1", prompt_id)
    if row is None:
        raise NotFound(f"prompt {prompt_id} not found")
    return row


async def _prompt_out(rt, prompt_id: str) -> PromptOut:
    row = await _prompt_row(rt, prompt_id)
    active = await rt.pool.fetchrow(
        f"SELECT {_VERSION_COLS} FROM prompt_versions WHERE prompt_id = $1 AND is_active",
        prompt_id)
    return PromptOut(**dict(row), active=_version_out(active) if active else None)


async def _version_row(rt, prompt_id: str, version: int):
    await _prompt_row(rt, prompt_id)
    row = await rt.pool.fetchrow(
        f"SELECT {_VERSION_COLS} FROM prompt_versions WHERE prompt_id = $1 AND version = $2",
        prompt_id, version)
    if row is None:
        raise NotFound(f"prompt {prompt_id} has no version {version}")
    return row


@router.get("", response_model=Page[PromptSummary])
async def list_prompts(q: str | None = Query(None, description="name contains (case-insensitive)"),
                       paging=Paging, rt=Depends(runtime),
                       _=Depends(require("viewer"))):
    """Summaries: the active version comes without its content (``GET /prompts/{id}``)."""
    pattern = contains_pattern(q)
    total = await rt.pool.fetchval(
        "SELECT count(*) FROM prompts WHERE name ILIKE $1 ESCAPE '\\'", pattern)
    rows = await rt.pool.fetch(
        "SELECT p.*, to_jsonb(v) - 'content' AS _v FROM prompts p "
        "LEFT JOIN prompt_versions v ON v.prompt_id = p.id AND v.is_active "
        "WHERE p.name ILIKE $1 ESCAPE '\\' ORDER BY p.name LIMIT $2 OFFSET $3",
        pattern, paging.limit, paging.offset)
    items = []
    for r in rows:
        d = dict(r)
        v = d.pop("_v")
        items.append(PromptSummary(**d, active=PromptVersionSummary(**v) if v else None))
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.post("", response_model=PromptOut, status_code=201)
async def create_prompt(body: PromptCreate, request: _Request, rt=Depends(runtime),
                        _=Depends(require("editor"))):
    _check_size(body.content)
    prompt_id = str(uuid.uuid4())
    cmd = domain.CreatePrompt(prompt_id=prompt_id, name=body.name, description=body.description,
                              content=content_to_plain(body.content), change_note=body.change_note)
    state, _events = await rt.commands.prompt(prompt_id, cmd, metadata(request))
    return _state_out(state)


@router.get("/{prompt_id}", response_model=PromptOut)
async def get_prompt(prompt_id: str,
                     as_of: datetime | None = Query(None, description="state at this ISO time"),
                     rt=Depends(runtime), _=Depends(require("viewer"))):
    if as_of is None:
        return await _prompt_out(rt, prompt_id)
    state = await rt.commands.load_prompt(prompt_id, until=as_of)
    if not state.exists:
        raise NotFound(f"prompt {prompt_id} did not exist at {as_of.isoformat()}")
    return _state_out(state)


@router.patch("/{prompt_id}", response_model=PromptOut)
async def update_prompt(prompt_id: str, body: PromptPatch, request: _Request,
                        rt=Depends(runtime), _=Depends(require("editor"))):
    cmd = domain.UpdatePrompt(name=body.name, description=body.description)
    state, _ = await rt.commands.prompt(prompt_id, cmd, metadata(request))
    return _state_out(state)


@router.get("/{prompt_id}/versions", response_model=Page[PromptVersionSummary])
async def list_versions(prompt_id: str, paging=Paging, rt=Depends(runtime),
                        _=Depends(require("viewer"))):
    """Summaries without content (``GET /prompts/{id}/versions/{n}`` has it)."""
    row = await _prompt_row(rt, prompt_id)
    rows = await rt.pool.fetch(
        f"SELECT {_SUMMARY_COLS} FROM prompt_versions WHERE prompt_id = $1 "
        "ORDER BY version LIMIT $2 OFFSET $3", prompt_id, paging.limit, paging.offset)
    return Page(items=[PromptVersionSummary(**{**dict(r), "id": str(r["id"])}) for r in rows],
                total=row["latest_version"], limit=paging.limit, offset=paging.offset)


@router.post("/{prompt_id}/versions", response_model=PromptVersionOut, status_code=201)
async def create_version(prompt_id: str, body: PromptVersionCreate, request: _Request,
                         rt=Depends(runtime), _=Depends(require("editor"))):
    _check_size(body.content)
    cmd = domain.CreateVersion(content=content_to_plain(body.content),
                               change_note=body.change_note, activate=body.activate,
                               derived_from=body.derived_from)
    state, _ = await rt.commands.prompt(prompt_id, cmd, metadata(request))
    return _state_version_out(state, state.versions[state.latest_version])


@router.get("/{prompt_id}/versions/{version}", response_model=PromptVersionOut)
async def get_version(prompt_id: str, version: VersionPath, rt=Depends(runtime),
                      _=Depends(require("viewer"))):
    return _version_out(await _version_row(rt, prompt_id, version))


@router.put("/{prompt_id}/versions/{version}/activate", response_model=PromptOut)
async def activate_version(prompt_id: str, version: VersionPath, request: _Request,
                           body: ActivateBody | None = None, rt=Depends(runtime),
                           _=Depends(require("editor"))):
    cmd = domain.ActivateVersion(version=version, reason=(body.reason if body else ""))
    state, _ = await rt.commands.prompt(prompt_id, cmd, metadata(request))
    return _state_out(state)


@router.get("/{prompt_id}/diff", response_model=DiffOut)
async def diff_versions(prompt_id: str,
                        from_version: int = Query(..., alias="from", ge=1, le=INT32_MAX),
                        to_version: int | None = Query(None, alias="to", ge=1, le=INT32_MAX,
                                                       description="default: the active version"),
                        rt=Depends(runtime), _=Depends(require("viewer"))):
    if to_version is None:
        to_version = (await _prompt_row(rt, prompt_id))["active_version"]
    a = await _version_row(rt, prompt_id, from_version)
    b = await _version_row(rt, prompt_id, to_version)
    text = unified_diff(templating.as_text(a["content"]), templating.as_text(b["content"]),
                        f"v{from_version}", f"v{to_version}")
    va, vb = set(a["variables"]), set(b["variables"])
    return DiffOut(prompt_id=prompt_id, from_version=from_version, to_version=to_version,
                   diff=text, variables_added=sorted(vb - va), variables_removed=sorted(va - vb))


@router.get("/{prompt_id}/history", response_model=Page[HistoryEntry])
async def history(prompt_id: str, paging=Paging, rt=Depends(runtime),
                  _=Depends(require("viewer"))):
    """Each event with its data, except a version's content (the version endpoint has it)."""
    events = await rt.store.read_stream(f"prompt-{prompt_id}")
    if not events:
        raise NotFound(f"prompt {prompt_id} not found")
    entries = []
    for ev in events:
        d = ev.data
        entries.append(HistoryEntry(
            position=ev.global_position, stream_version=ev.stream_version, type=ev.type,
            at=ev.recorded_at, actor=ev.metadata.actor, version=d.get("version"),
            previous_version=d.get("previous_version"),
            note=d.get("change_note") or d.get("reason") or None,
            data={k: v for k, v in d.items() if k != "content"}))
    page = entries[paging.offset: paging.offset + paging.limit]
    return Page(items=page, total=len(entries), limit=paging.limit, offset=paging.offset)


@router.post("/{prompt_id}/render", response_model=RenderOut)
async def render(prompt_id: str, body: RenderBody, rt=Depends(runtime),
                 _=Depends(require("viewer"))):
    if body.version is None:
        row = await rt.pool.fetchrow(
            f"SELECT {_VERSION_COLS} FROM prompt_versions WHERE prompt_id = $1 AND is_active",
            prompt_id)
        if row is None:
            raise NotFound(f"prompt {prompt_id} not found")
    else:
        row = await _version_row(rt, prompt_id, body.version)
    rendered = await templating.render_async(row["content"], body.variables)
    return RenderOut(prompt_id=prompt_id, version=row["version"], rendered=rendered,
                     messages=templating.to_messages(rendered))


