"""/applications: model + prompt's active version + LLM options, resolved at run time."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from harness import rollout
from harness.web.auth import require
from harness.web.input_guard import Timestamp

from ..domain import applications as domain
from ..handlers import applications as handlers
from ..read.queries import applications as queries
from ..schemas import ApplicationCreate, ApplicationOut, ApplicationPatch, Page, ResolvedOut
from .deps import Paging, metadata, runtime

router = APIRouter(prefix="/applications", tags=["applications"])


@router.get("", response_model=Page[ApplicationOut])
async def list_applications(paging=Paging, rt=Depends(runtime),
                            _=Depends(require("viewer"))):
    return await queries.list_applications(rt.pool, paging.limit, paging.offset)


@router.post("", response_model=ApplicationOut, status_code=201)
async def create_application(body: ApplicationCreate, request: Request, rt=Depends(runtime),
                             _=Depends(require("editor"))):
    application_id = str(uuid.uuid4())
    cmd = domain.CreateApplication(application_id=application_id, **body.model_dump())
    await handlers.handle(rt, application_id, cmd, metadata(request))
    return await queries.get_application(rt.pool, application_id)


@router.get("/{application_id}", response_model=ApplicationOut,
            description="``application_id``: the application's id or its name")
async def get_application(application_id: str, rt=Depends(runtime),
                          _=Depends(require("viewer"))):
    return await queries.get_application(rt.pool, application_id)


@router.patch("/{application_id}", response_model=ApplicationOut)
async def update_application(application_id: str, body: ApplicationPatch, request: Request,
                             rt=Depends(runtime), _=Depends(require("editor"))):
    application_id = await queries.application_id_of(rt.pool, application_id)
    changes = body.model_dump(exclude_unset=True)
    await handlers.handle(rt, application_id, domain.UpdateApplication(changes=changes),
                          metadata(request))
    return await queries.get_application(rt.pool, application_id)


@router.get("/{application_id}/resolved", response_model=ResolvedOut,
            responses={304: {"description": "unchanged"}})
async def resolve_application(application_id: str, request: Request,
                              as_of: Timestamp | None = Query(
                                  None, description="what ran at that moment, from events"),
                              key: str | None = Query(
                                  None, max_length=1000,
                                  description="the stickiness key (e.g. the end user's id): "
                                              "when the environment is split, the answer is "
                                              "this key's variant, always the same one"),
                              rt=Depends(runtime), _=Depends(require("viewer"))):
    """What to run now: model, params and the version the application's environment points
    at (production = the active version). ETag / 304 aware. ``application_id``: the
    application's id or its name. A split environment lists its variants (``split``);
    ``key`` picks one (``variant``)."""
    application_id = await queries.application_id_of(rt.pool, application_id)
    if as_of is not None:
        resolved = await queries.resolve_as_of(rt.store, application_id, as_of)
        out = jsonable_encoder(resolved.model_dump())
        return JSONResponse(rollout.for_key(out, key))
    body, etag = await rt.resolve_cache.get_or_load(
        application_id, lambda: queries.resolve_json(rt.pool, application_id))
    keyed = queries.for_key(body, key)
    if keyed is not None:
        body, etag = keyed
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
