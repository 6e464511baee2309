"""Shared route dependencies."""

from __future__ import annotations

from fastapi import Query, Request
from harness.events import EventMetadata

from ..runtime import Runtime


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def metadata(request: Request) -> EventMetadata:
    return EventMetadata(
        actor=getattr(request.state, "actor", None),
        correlation_id=getattr(request.state, "correlation_id", None),
    )


class Paging:
    def __init__(self, limit: int = Query(50, ge=1, le=500),
                 offset: int = Query(0, ge=0)) -> None:
        self.limit = limit
        self.offset = offset
