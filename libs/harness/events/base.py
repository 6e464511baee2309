"""Typed domain events: a pydantic model per event type, with a schema version.

Each event class declares ``TYPE`` (its stored name, past tense) and ``SCHEMA_VERSION``.
Older stored shapes are brought up to date by upcasters on read; stored rows are never
rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel

from .envelope import EventMetadata, NewEvent, StoredEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class DomainEvent(BaseModel):
    TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    model_config = {"frozen": True}

    def to_new(self, metadata: EventMetadata | None = None, event_id=None) -> NewEvent:
        kwargs: dict[str, Any] = {}
        if event_id is not None:
            kwargs["event_id"] = event_id
        return NewEvent(
            type=self.TYPE, schema_version=self.SCHEMA_VERSION,
            data=self.model_dump(mode="json"), metadata=metadata or EventMetadata(), **kwargs,
        )


class UnknownEventType(KeyError):
    pass


class EventRegistry:
    """Maps stored type names to classes and upgrades old schema versions."""

    def __init__(self) -> None:
        self._classes: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: type[DomainEvent]) -> type[DomainEvent]:
        self._classes[cls.TYPE] = cls
        return cls

    def upcaster(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning ``from_version`` data into ``from_version + 1`` data."""

        def deco(fn: Upcaster) -> Upcaster:
            self._upcasters[(type_name, from_version)] = fn
            return fn

        return deco

    def upcast(self, type_name: str, schema_version: int, data: dict[str, Any]) -> tuple[int, dict]:
        cls = self._classes.get(type_name)
        target = cls.SCHEMA_VERSION if cls else schema_version
        while schema_version < target:
            fn = self._upcasters.get((type_name, schema_version))
            if fn is None:
                raise ValueError(f"no upcaster for {type_name} v{schema_version}")
            data = fn(dict(data))
            schema_version += 1
        return schema_version, data

    def upcast_stored(self, ev: StoredEvent) -> StoredEvent:
        version, data = self.upcast(ev.type, ev.schema_version, ev.data)
        if version == ev.schema_version:
            return ev
        return ev.model_copy(update={"schema_version": version, "data": data})

    def decode(self, ev: StoredEvent) -> DomainEvent:
        cls = self._classes.get(ev.type)
        if cls is None:
            raise UnknownEventType(ev.type)
        _, data = self.upcast(ev.type, ev.schema_version, ev.data)
        return cls.model_validate(data)

    def knows(self, type_name: str) -> bool:
        return type_name in self._classes

    def types(self) -> frozenset[str]:
        """Every registered type name."""
        return frozenset(self._classes)


registry = EventRegistry()
