"""Shared route dependencies.

They are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in a thread
pool, which costs a thread hop per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from harness.events import EventMetadata
from harness.web.input_guard import INT32_MAX, INT64_MAX

from ..runtime import Runtime

VersionPath = Annotated[int, Path(ge=1, le=INT32_MAX, description="version number")]
"""A version number in a path: the column is a PostgreSQL integer."""


async def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def metadata(request: Request) -> EventMetadata:
    return EventMetadata(
        actor=getattr(request.state, "actor", None),
        correlation_id=getattr(request.state, "correlation_id", None),
    )


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


async def _paging(limit: int = Query(50, ge=1, le=500, description="page size"),
                  offset: int = Query(0, ge=0, le=INT64_MAX,
                                      description="items to skip")) -> Page:
    return Page(limit, offset)


Paging = Depends(_paging)
