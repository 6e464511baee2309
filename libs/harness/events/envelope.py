"""The event envelope, as stored and as carried on the bus."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EventMetadata(BaseModel):
    actor: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    model_config = {"extra": "allow"}


class NewEvent(BaseModel):
    """An event about to be appended; the store assigns stream_version and position."""

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    schema_version: int = 1
    data: dict[str, Any]
    metadata: EventMetadata = Field(default_factory=EventMetadata)


class StoredEvent(BaseModel):
    global_position: int
    event_id: uuid.UUID
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime

    @classmethod
    def from_record(cls, r: Any) -> StoredEvent:
        """From a database row; the store's own rows are trusted, so no re-validation."""
        return cls.model_construct(
            global_position=r["global_position"], event_id=r["event_id"],
            stream_id=r["stream_id"], stream_version=r["stream_version"], type=r["type"],
            schema_version=r["schema_version"], data=r["data"],
            metadata=EventMetadata.model_construct(**(r["metadata"] or {})),
            recorded_at=r["recorded_at"],
        )
