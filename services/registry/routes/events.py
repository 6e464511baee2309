"""/events: follow registry events from a position (JSON pages or Server-Sent Events)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Query, Request
from sse_starlette.sse import EventSourceResponse

from harness import metrics
from harness.web.auth import require
from harness.web.input_guard import INT64_MAX
from harness.web.openapi_errors import media_types
from harness.web.problems import ProblemError

from ..read.queries import events as queries
from ..schemas import EventsPage
from .deps import runtime

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventsPage)
async def list_events(after: int = Query(0, ge=0, le=INT64_MAX,
                                        description="global position to start after"),
                      limit: int = Query(100, ge=1, le=1000), rt=Depends(runtime),
                      _=Depends(require("viewer"))):
    return await queries.events_page(rt.store, after, limit)


@router.get("/stream", **media_types("text/event-stream", description="Server-Sent Events"))
async def stream_events(request: Request, after: int | None = Query(None, ge=0, le=INT64_MAX),
                        rt=Depends(runtime), _=Depends(require("viewer"))):
    """SSE: each event's ``id`` is its global position, so ``Last-Event-ID`` resumes."""
    last_id = request.headers.get("last-event-id")
    if after is None and last_id and last_id.isdigit() and int(last_id) > INT64_MAX:
        raise ProblemError(422, "validation-error", "Last-Event-ID: beyond the last position",
                           field="Last-Event-ID")
    position = after if after is not None else (int(last_id) if last_id and last_id.isdigit()
                                                  else await queries.head_position(rt.store))

    async def generate():
        with metrics.registry_sse_subscribers.track_inprogress():
            async for ev in queries.follow(rt.store, rt.notifier, position,
                                           request.is_disconnected):
                yield {"id": str(ev.global_position), "event": ev.type,
                       "data": orjson.dumps(queries.event_json(ev)).decode()}

    return EventSourceResponse(generate(), ping=15)
