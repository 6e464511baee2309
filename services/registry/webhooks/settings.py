"""The deliverer's settings, read from ``harness.config`` at each use (tests change them
with the ``setenv`` fixture while a runtime runs)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.config import Settings, get_settings
from harness.webhooks.targets import LOOPBACK, IPNetwork, parse_networks

LOCAL_STACK = "harness"
"""``HARNESS_SERVICE`` of the local stack (``harness up``): loopback is allowed there."""


@dataclass(frozen=True)
class DeliverySettings:
    allowed_networks: tuple[IPNetwork, ...]
    backoff_s: float
    backoff_max_s: float
    max_failures: int
    timeout_s: float
    poll_s: float
    concurrency: int

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is left to its deliverer before another may try."""
        return self.timeout_s + 30.0

    @classmethod
    def current(cls, settings: Settings | None = None) -> DeliverySettings:
        s = settings or get_settings()
        return cls(allowed_networks=allowed_networks(s), backoff_s=s.webhook_backoff_s,
                   backoff_max_s=s.webhook_backoff_max_s, max_failures=s.webhook_max_failures,
                   timeout_s=s.webhook_timeout_s, poll_s=s.webhook_poll_s,
                   concurrency=s.webhook_concurrency)


def allowed_networks(s: Settings) -> tuple[IPNetwork, ...]:
    """The private networks webhooks may reach: the setting, else loopback for the local
    stack only."""
    if s.webhook_allowed_networks is not None:
        return parse_networks(s.webhook_allowed_networks)
    return LOOPBACK if s.service == LOCAL_STACK else ()
