"""The bus: a port with in-process (local) and Pub/Sub (GCP) adapters, and the outbox relay."""

from .idempotent import idempotent
from .inprocess import InProcessBus
from .port import Bus, BusHandler, PublishIncomplete
from .relay import OutboxRelay

__all__ = ["Bus", "BusHandler", "InProcessBus", "OutboxRelay", "PublishIncomplete", "idempotent"]
