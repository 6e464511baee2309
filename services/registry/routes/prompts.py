"""/prompts: create, version, activate (rollback), diff, history, render, as_of."""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Depends, Query
from fastapi import Request as _Request

from harness import templating
from harness.config import get_settings
from harness.textdiff import unified_diff
from harness.web.auth import require
from harness.web.input_guard import INT32_MAX, Timestamp
from harness.web.problems import ProblemError

from ..domain import prompts as domain
from ..handlers import prompts as handlers
from ..read.queries import prompts as queries
from ..read.queries.prompts import prompt_from_state, version_from_state
from ..schemas import (
    ActivateBody,
    DiffOut,
    HistoryEntry,
    Page,
    PromptCreate,
    PromptOut,
    PromptPatch,
    PromptResolvedOut,
    PromptSummary,
    PromptVersionCreate,
    PromptVersionOut,
    PromptVersionSummary,
    RenderBody,
    RenderOut,
    config_to_plain,
    content_to_plain,
)
from .deps import Paging, VersionPath, metadata, runtime

router = APIRouter(prefix="/prompts", tags=["prompts"])


def _check_size(content, config: dict | None = None) -> None:
    """A version's content, and its config (tools and schemas can be long), are each
    bounded (HARNESS_MAX_PROMPT_BYTES): every resolve, render and run carries them."""
    limit = get_settings().max_prompt_bytes
    size = templating.content_bytes(content_to_plain(content))
    if size > limit:
        raise ProblemError(413, "content-too-large", f"content: {size} bytes; the limit is "
                           f"{limit} (HARNESS_MAX_PROMPT_BYTES)", field="content",
                           limit_bytes=limit)
    size = len(json.dumps(config, ensure_ascii=False).encode()) if config else 0
    if size > limit:
        raise ProblemError(413, "content-too-large", f"config: {size} bytes; the limit is "
                           f"{limit} (HARNESS_MAX_PROMPT_BYTES)", field="config",
                           limit_bytes=limit)


@router.get("", response_model=Page[PromptSummary])
async def list_prompts(q: str | None = Query(None, description="name contains (case-insensitive)"),
                       paging=Paging, rt=Depends(runtime),
                       _=Depends(require("viewer"))):
    """Summaries: the active version comes without its content (``GET /prompts/{id}``)."""
    return await queries.list_prompts(rt.pool, q, paging.limit, paging.offset)


@router.post("", response_model=PromptOut, status_code=201)
async def create_prompt(body: PromptCreate, request: _Request, rt=Depends(runtime),
                        _=Depends(require("editor"))):
    config = config_to_plain(body.config)
    _check_size(body.content, config)
    prompt_id = str(uuid.uuid4())
    cmd = domain.CreatePrompt(prompt_id=prompt_id, name=body.name, description=body.description,
                              content=content_to_plain(body.content), change_note=body.change_note,
                              config=config)
    state, _events = await handlers.handle(rt, prompt_id, cmd, metadata(request))
    return prompt_from_state(state)


@router.get("/{prompt_id}", response_model=PromptOut)
async def get_prompt(prompt_id: str,
                     as_of: Timestamp | None = Query(None, description="state at this ISO time"),
                     rt=Depends(runtime), _=Depends(require("viewer"))):
    if as_of is None:
        return await queries.get_prompt(rt.pool, prompt_id)
    return await queries.prompt_as_of(rt.store, prompt_id, as_of)


@router.patch("/{prompt_id}", response_model=PromptOut)
async def update_prompt(prompt_id: str, body: PromptPatch, request: _Request,
                        rt=Depends(runtime), _=Depends(require("editor"))):
    cmd = domain.UpdatePrompt(name=body.name, description=body.description)
    state, _ = await handlers.handle(rt, prompt_id, cmd, metadata(request))
    return prompt_from_state(state)


@router.get("/{prompt_id}/versions", response_model=Page[PromptVersionSummary])
async def list_versions(prompt_id: str, paging=Paging, rt=Depends(runtime),
                        _=Depends(require("viewer"))):
    """Summaries without content (``GET /prompts/{id}/versions/{n}`` has it)."""
    return await queries.list_versions(rt.pool, prompt_id, paging.limit, paging.offset)


@router.post("/{prompt_id}/versions", response_model=PromptVersionOut, status_code=201)
async def create_version(prompt_id: str, body: PromptVersionCreate, request: _Request,
                         rt=Depends(runtime), _=Depends(require("editor"))):
    config = config_to_plain(body.config)
    _check_size(body.content, config)
    cmd = domain.CreateVersion(content=content_to_plain(body.content),
                               change_note=body.change_note, activate=body.activate,
                               derived_from=body.derived_from, config=config)
    state, _ = await handlers.handle(rt, prompt_id, cmd, metadata(request))
    return version_from_state(state, state.versions[state.latest_version])


@router.get("/{prompt_id}/versions/{version}", response_model=PromptVersionOut)
async def get_version(prompt_id: str, version: VersionPath, rt=Depends(runtime),
                      _=Depends(require("viewer"))):
    return await queries.get_version(rt.pool, prompt_id, version)


@router.put("/{prompt_id}/versions/{version}/activate", response_model=PromptOut)
async def activate_version(prompt_id: str, version: VersionPath, request: _Request,
                           body: ActivateBody | None = None, rt=Depends(runtime),
                           _=Depends(require("editor"))):
    cmd = domain.ActivateVersion(version=version, reason=(body.reason if body else ""))
    state, _ = await handlers.handle(rt, prompt_id, cmd, metadata(request))
    return prompt_from_state(state)


@router.get("/{prompt_id}/diff", response_model=DiffOut)
async def diff_versions(prompt_id: str,
                        from_version: int = Query(..., alias="from", ge=1, le=INT32_MAX),
                        to_version: int | None = Query(None, alias="to", ge=1, le=INT32_MAX,
                                                       description="default: the active version"),
                        rt=Depends(runtime), _=Depends(require("viewer"))):
    if to_version is None:
        to_version = await queries.active_version_number(rt.pool, prompt_id)
    a = await queries.get_version(rt.pool, prompt_id, from_version)
    b = await queries.get_version(rt.pool, prompt_id, to_version)
    text = unified_diff(templating.as_text(a.content), templating.as_text(b.content),
                        f"v{from_version}", f"v{to_version}")
    va, vb = set(a.variables), set(b.variables)
    config_text = unified_diff(_config_text(a.config), _config_text(b.config),
                               f"v{from_version} config", f"v{to_version} config")
    changed = sorted(k for k in {*a.config, *b.config} if a.config.get(k) != b.config.get(k)
                     or (k in a.config) != (k in b.config))
    return DiffOut(prompt_id=prompt_id, from_version=from_version, to_version=to_version,
                   diff=text, variables_added=sorted(vb - va), variables_removed=sorted(va - vb),
                   config_diff=config_text, config_changed=changed)


def _config_text(config: dict) -> str:
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n" \
        if config else ""


@router.get("/{prompt_id}/history", response_model=Page[HistoryEntry])
async def history(prompt_id: str, paging=Paging, rt=Depends(runtime),
                  _=Depends(require("viewer"))):
    """Each event with its data, except a version's content (the version endpoint has it)."""
    return await queries.history(rt.store, prompt_id, paging.limit, paging.offset)


@router.get("/{prompt_id}/resolved", response_model=PromptResolvedOut)
async def resolve_prompt(prompt_id: str,
                         version: int | None = Query(None, ge=1, le=INT32_MAX),
                         environment: str | None = Query(
                             None, description="default: production (the active version)"),
                         rt=Depends(runtime), _=Depends(require("viewer"))):
    """A version with its ``{{ prompt("name@label") }}`` references expanded as they
    resolve now, and the versions they resolved to."""
    return await queries.resolve_version(rt.pool, prompt_id, version, environment)


@router.post("/{prompt_id}/render", response_model=RenderOut)
async def render(prompt_id: str, body: RenderBody, rt=Depends(runtime),
                 _=Depends(require("viewer"))):
    """The version (default: the active one) with its references expanded, rendered."""
    v = await queries.resolve_version(rt.pool, prompt_id, body.version)
    rendered = await templating.render_async(v.content, body.variables)
    return RenderOut(prompt_id=prompt_id, version=v.version, rendered=rendered,
                     messages=templating.to_messages(rendered), config=v.config,
                     references=v.references)


