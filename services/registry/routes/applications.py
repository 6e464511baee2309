"""/applications: model + prompt's active version + LLM options, resolved at run time."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from harness.web.auth import require
from harness.web.problems import ProblemError

from ..domain import applications as domain
from ..domain.errors import NotFound
from ..schemas import ApplicationCreate, ApplicationOut, ApplicationPatch, Page
from .deps import Paging, metadata, runtime

router = APIRouter(prefix="/applications", tags=["applications"])

_RESOLVE_SQL = """
SELECT a.id, a.name, a.model_id, a.temperature, a.max_tokens, a.top_p, a.fallback_models,
       a.environment, p.id AS prompt_id, p.name AS prompt_name, v.version, v.content,
       v.variables
  FROM applications a
  JOIN prompts p ON p.id = a.prompt_id
  LEFT JOIN prompt_environments e ON e.prompt_id = a.prompt_id
       AND e.environment = a.environment
  LEFT JOIN prompt_versions v ON v.prompt_id = a.prompt_id
       AND v.version = CASE WHEN a.environment = 'production' THEN p.active_version
                            ELSE e.version END
 WHERE a.id = $1
"""


def _out(row) -> ApplicationOut:
    return ApplicationOut(**dict(row))


def _is_id(ref: str) -> bool:
    try:
        uuid.UUID(ref)
    except ValueError:
        return False
    return True


async def application_id_of(rt, ref: str) -> str:
    """The id of the application ``ref`` names: its id, or its name (any case), as the
    CLI and the SDK take either. An id is used as it is (no query: the resolve cache
    answers it)."""
    if _is_id(ref):
        return ref
    found = await rt.pool.fetchval("SELECT id FROM applications WHERE lower(name) = lower($1)",
                                   ref)
    if found is None:
        raise NotFound(f"no application with id or name {ref!r}")
    return found


async def _row(rt, ref: str):
    row = await rt.pool.fetchrow("SELECT * FROM applications WHERE id = $1",
                                 await application_id_of(rt, ref))
    if row is None:
        raise NotFound(f"application {ref} not found")
    return row


@router.get("", response_model=Page[ApplicationOut])
async def list_applications(paging=Paging, rt=Depends(runtime),
                            _=Depends(require("viewer"))):
    total = await rt.pool.fetchval("SELECT count(*) FROM applications")
    rows = await rt.pool.fetch("SELECT * FROM applications ORDER BY name LIMIT $1 OFFSET $2",
                               paging.limit, paging.offset)
    return Page(items=[_out(r) for r in rows], total=total, limit=paging.limit,
                offset=paging.offset)


@router.post("", response_model=ApplicationOut, status_code=201)
async def create_application(body: ApplicationCreate, request: Request, rt=Depends(runtime),
                             _=Depends(require("editor"))):
    application_id = str(uuid.uuid4())
    cmd = domain.CreateApplication(application_id=application_id, **body.model_dump())
    await rt.commands.application(application_id, cmd, metadata(request))
    return _out(await _row(rt, application_id))


@router.get("/{application_id}", response_model=ApplicationOut,
            description="``application_id``: the application's id or its name")
async def get_application(application_id: str, rt=Depends(runtime),
                          _=Depends(require("viewer"))):
    return _out(await _row(rt, application_id))


@router.patch("/{application_id}", response_model=ApplicationOut)
async def update_application(application_id: str, body: ApplicationPatch, request: Request,
                             rt=Depends(runtime), _=Depends(require("editor"))):
    application_id = await application_id_of(rt, application_id)
    changes = body.model_dump(exclude_unset=True)
    await rt.commands.application(application_id, domain.UpdateApplication(changes=changes),
                                  metadata(request))
    return _out(await _row(rt, application_id))


@router.get("/{application_id}/resolved", responses={304: {"description": "unchanged"}})
async def resolve_application(application_id: str, request: Request,
                              as_of: datetime | None = Query(
                                  None, description="what ran at that moment, from events"),
                              rt=Depends(runtime), _=Depends(require("viewer"))):
    """What to run now: model, params and the version the application's environment points
    at (production = the active version). ETag / 304 aware. ``application_id``: the
    application's id or its name."""
    application_id = await application_id_of(rt, application_id)
    if as_of is not None:
        return await _resolve_as_of(rt, application_id, as_of)
    cached = rt.resolve_cache.get(application_id)
    if cached is None:
        generation = rt.resolve_cache.generation
        body, etag = await _resolve(rt, application_id)
        rt.resolve_cache.put(application_id, body, etag, generation)
    else:
        body, etag = cached
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def _resolve(rt, application_id: str) -> tuple[bytes, str]:
    row = await rt.pool.fetchrow(_RESOLVE_SQL, application_id)
    if row is None:
        raise NotFound(f"application {application_id} not found")
    if row["version"] is None:
        raise ProblemError(409, "environment-unset",
                           f"environment {row['environment']!r} of prompt {row['prompt_name']!r} "
                           "points at no version", environment=row["environment"])
    params = {"temperature": row["temperature"], "max_tokens": row["max_tokens"]}
    if row["top_p"] is not None:
        params["top_p"] = row["top_p"]
    body = orjson.dumps({
        "application_id": row["id"], "application": row["name"], "model": row["model_id"],
        "fallback_models": row["fallback_models"], "params": params,
        "prompt_id": row["prompt_id"], "prompt_name": row["prompt_name"],
        "version": row["version"], "content": row["content"], "variables": row["variables"],
        "environment": row["environment"],
    })
    return body, '"' + hashlib.sha1(body).hexdigest() + '"'


async def _resolve_as_of(rt, application_id: str, as_of: datetime) -> dict:
    """Fold the application's and its prompt's events up to ``as_of``."""
    from ..commands import application_stream, fold_application
    from ..domain.prompts import pointer

    app_state = fold_application(await rt.store.read_stream(application_stream(application_id),
                                                            until=as_of))
    if not app_state.exists:
        raise NotFound(f"application {application_id} did not exist at {as_of.isoformat()}")
    state = await rt.commands.load_prompt(app_state.prompt_id, until=as_of)
    version = pointer(state, app_state.environment)
    if version is None:
        raise ProblemError(409, "environment-unset",
                           f"environment {app_state.environment!r} pointed at no version then")
    v = state.versions[version]
    change = state.pointer_changes.get(app_state.environment)
    params = {"temperature": app_state.temperature, "max_tokens": app_state.max_tokens}
    if app_state.top_p is not None:
        params["top_p"] = app_state.top_p
    return {"application_id": application_id, "application": app_state.name,
            "model": app_state.model_id, "fallback_models": list(app_state.fallback_models),
            "params": params, "prompt_id": state.prompt_id, "prompt_name": state.name,
            "version": version, "content": v.content, "variables": v.variables,
            "environment": app_state.environment, "as_of": as_of,
            "set_by": None if change is None else {
                "type": change.type, "at": change.at, "actor": change.actor,
                "reason": change.reason, "promotion_id": change.promotion_id}}
