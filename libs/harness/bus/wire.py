"""The event envelope on the wire: Pub/Sub message data, attributes, and decoding.

Message data is the envelope as JSON (UTF-8)::

    {"event_id", "stream_id", "stream_version", "type", "schema_version", "data",
     "metadata", "recorded_at", "global_position"}

Events relayed from the store carry every field. Result events that workers propose on
the ``results`` topic (``PubSubBus.publish_result``) are not stored yet, so they carry no
``stream_version``, ``recorded_at`` or ``global_position``; the registry assigns them on
ingestion.

Attributes: ``type``, ``schema_version``, ``event_id``, ``stream_id``, ``global_position``
(stored events only) and ``correlation_id`` (when the metadata has one). The ordering key
is the stream id. The envelope in the data is the source of truth; attributes exist for
filtering and debugging.

This module needs no Google library: the push endpoint and the pull consumer share it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from harness.events import EventMetadata, StoredEvent
from harness.storable import storable


class PoisonMessage(Exception):
    """A message that can never be handled (undecodable, invalid envelope, rejected).

    Handlers raise it for a permanent failure. Pub/Sub still redelivers it (a push
    endpoint's 4xx and a pull consumer's nack are both negative acknowledgements) until
    the subscription's dead-letter policy moves it to the dead-letter topic.
    """


class Duplicate(Exception):  # noqa: N818  (a signal, not an error)
    """Raised by a handler for a message it has already handled: acknowledged as a success."""


def envelope_of(event: StoredEvent) -> dict[str, Any]:
    metadata = event.metadata
    return {
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": metadata.model_dump(mode="json") if metadata is not None else {},
        "recorded_at": event.recorded_at,
        "global_position": event.global_position,
    }


def result_envelope(
    stream_id: str, type_: str, schema_version: int, data: dict[str, Any],
    event_id: uuid.UUID, metadata: EventMetadata | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    if isinstance(metadata, EventMetadata):
        meta = metadata.model_dump(mode="json")
    else:
        meta = EventMetadata.model_validate(dict(metadata or {})).model_dump(mode="json")
    return {
        "event_id": str(event_id),
        "stream_id": stream_id,
        "type": type_,
        "schema_version": schema_version,
        "data": storable(data),  # a worker's result must encode whatever a model said
        "metadata": meta,
    }


def encode(envelope: Mapping[str, Any]) -> bytes:
    return orjson.dumps(envelope)


def attributes_of(envelope: Mapping[str, Any]) -> dict[str, str]:
    attrs = {
        "type": str(envelope["type"]),
        "schema_version": str(envelope["schema_version"]),
        "event_id": str(envelope["event_id"]),
        "stream_id": str(envelope["stream_id"]),
    }
    if envelope.get("global_position") is not None:
        attrs["global_position"] = str(envelope["global_position"])
    correlation_id = (envelope.get("metadata") or {}).get("correlation_id")
    if correlation_id:
        attrs["correlation_id"] = str(correlation_id)
    return attrs


@dataclass(frozen=True)
class PushMessage:
    """One decoded Pub/Sub message, from a push request or a pull subscriber."""

    message_id: str
    envelope: dict[str, Any]
    event: StoredEvent
    attributes: dict[str, str] = field(default_factory=dict)
    publish_time: datetime | None = None
    delivery_attempt: int | None = None  # None unless the subscription has a dead-letter policy
    subscription: str | None = None
    ordering_key: str | None = None

    @property
    def stored(self) -> bool:
        """True for events relayed from the store; False for proposed (result) events."""
        return self.envelope.get("global_position") is not None


_REQUIRED = ("event_id", "stream_id", "type", "data")


def decode_message(
    data: bytes,
    *,
    message_id: str,
    attributes: Mapping[str, str] | None = None,
    publish_time: datetime | None = None,
    delivery_attempt: int | None = None,
    subscription: str | None = None,
    ordering_key: str | None = None,
) -> PushMessage:
    """Decode message data into an envelope and a ``StoredEvent``; ``PoisonMessage`` if invalid.

    Proposed (not yet stored) events get ``global_position=0``, ``stream_version=0`` and
    ``recorded_at`` = the publish time in their ``StoredEvent``; ``PushMessage.stored``
    tells them apart.
    """
    try:
        envelope = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"message {message_id}: data is not JSON ({exc})") from None
    if not isinstance(envelope, dict):
        raise PoisonMessage(f"message {message_id}: envelope must be a JSON object, "
                            f"got {type(envelope).__name__}")
    missing = [k for k in _REQUIRED if envelope.get(k) is None]
    if missing:
        raise PoisonMessage(f"message {message_id}: envelope misses {', '.join(missing)}")
    received_at = publish_time or datetime.now(UTC)
    fields = {
        "global_position": envelope.get("global_position") or 0,
        "event_id": envelope["event_id"],
        "stream_id": envelope["stream_id"],
        "stream_version": envelope.get("stream_version") or 0,
        "type": envelope["type"],
        "schema_version": envelope.get("schema_version") or 1,
        "data": envelope["data"],
        "metadata": envelope.get("metadata") or {},
        "recorded_at": envelope.get("recorded_at") or received_at,
    }
    try:
        event = StoredEvent.model_validate(fields)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PoisonMessage(f"message {message_id}: invalid envelope ({where})") from None
    return PushMessage(
        message_id=message_id, envelope=envelope, event=event,
        attributes=dict(attributes or {}), publish_time=publish_time,
        delivery_attempt=delivery_attempt, subscription=subscription,
        ordering_key=ordering_key or None,
    )
