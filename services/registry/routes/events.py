"""/events: follow registry events from a position (JSON pages or Server-Sent Events)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Query, Request
from sse_starlette.sse import EventSourceResponse

from harness.events import StoredEvent
from harness.llm import options
from harness.web.auth import require
from harness.web.input_guard import INT64_MAX
from harness.web.openapi_errors import media_types
from harness.web.problems import ProblemError

from ..schemas import EventOut, EventsPage
from .deps import runtime

router = APIRouter(prefix="/events", tags=["events"])


def _masked(event_type: str, data: dict) -> dict:
    """Requests recorded before the LLM option allowlist may hold credentials: their
    values are never shown (``harness.llm.options.masked_options``)."""
    if event_type == "RunRequested":
        return {**data, "targets": [{**t, "params": options.masked_options(t.get("params") or {})}
                                    for t in data.get("targets") or []],
                "judge_params": options.masked_options(data.get("judge_params") or {},
                                                       options.JUDGE_OPTIONS)}
    if event_type == "GenerationRequested":
        return {**data, "params": options.masked_options(data.get("params") or {},
                                                         options.JUDGE_OPTIONS)}
    return data


def _out(ev: StoredEvent) -> dict:
    d = ev.model_dump(mode="json")
    d["data"] = _masked(ev.type, d["data"])
    d["metadata"] = ev.metadata.model_dump(mode="json", exclude_none=True)
    return d


@router.get("", response_model=EventsPage)
async def list_events(after: int = Query(0, ge=0, le=INT64_MAX,
                                        description="global position to start after"),
                      limit: int = Query(100, ge=1, le=1000), rt=Depends(runtime),
                      _=Depends(require("viewer"))):
    events = await rt.store.read_all(after, limit)
    return EventsPage(items=[EventOut(**_out(e)) for e in events],
                      next_after=events[-1].global_position if events else after)


@router.get("/stream", **media_types("text/event-stream", description="Server-Sent Events"))
async def stream_events(request: Request, after: int | None = Query(None, ge=0, le=INT64_MAX),
                        rt=Depends(runtime), _=Depends(require("viewer"))):
    """SSE: each event's ``id`` is its global position, so ``Last-Event-ID`` resumes."""
    last_id = request.headers.get("last-event-id")
    if after is None and last_id and last_id.isdigit() and int(last_id) > INT64_MAX:
        raise ProblemError(422, "validation-error", "Last-Event-ID: beyond the last position",
                           field="Last-Event-ID")
    position = after if after is not None else (int(last_id) if last_id and last_id.isdigit()
                                                  else await rt.store.head_position())

    async def generate():
        nonlocal position
        while not await request.is_disconnected():
            batch = await rt.store.read_all(position, 500)
            for ev in batch:
                yield {"id": str(ev.global_position), "event": ev.type,
                       "data": orjson.dumps(_out(ev)).decode()}
                position = ev.global_position
            if len(batch) < 500:
                await rt.notifier.wait(timeout=5.0)

    return EventSourceResponse(generate(), ping=15)
