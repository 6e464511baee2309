"""Following registry events: the SSE stream (with resume) and Pub/Sub message decoding.

``SSEFollower.frames()`` is an endless async iterator over ``GET /events/stream``: it
reconnects with exponential backoff (with jitter) and resumes from the last event it
yielded with ``Last-Event-ID``, so a dropped connection or a registry restart loses
nothing. It yields ``Connected`` each time a connection is made, then ``SSEEvent``s, and
``Disconnected`` when the connection is lost (before waiting to reconnect).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._log import log  # silent unless the application configures logging


@dataclass(frozen=True)
class Connected:
    resumed: bool                 # True: the server continues after ``after``
    after: int | None


@dataclass(frozen=True)
class Disconnected:
    error: str
    retry_in_s: float


@dataclass(frozen=True)
class SSEEvent:
    id: str | None
    event: str
    data: str

    def envelope(self) -> dict[str, Any]:
        """The event envelope (``data``), with ``global_position`` from the SSE id."""
        env = json.loads(self.data) if self.data else {}
        if self.id is not None and self.id.isdigit():
            env.setdefault("global_position", int(self.id))
        env.setdefault("type", self.event)
        return env


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Server-Sent Events framing: ``field: value`` lines, a blank line ends an event."""
    event_id: str | None = None
    event_type = ""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield SSEEvent(event_id, event_type or "message", "\n".join(data))
            event_type, data = "", []
            continue
        if line.startswith(":"):
            continue  # comment (keep-alive ping)
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            event_id = value
    if data:
        yield SSEEvent(event_id, event_type or "message", "\n".join(data))


@dataclass
class SSEFollower:
    http: httpx.AsyncClient
    after: int | None = None           # resume position (the last global position seen)
    read_timeout_s: float = 45.0       # the registry pings every 15 s
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 15.0
    path: str = "/events/stream"
    connected: bool = False
    connects: int = 0
    failures: int = field(default=0, repr=False)

    def _delay(self) -> float:
        base = min(self.backoff_max_s, self.backoff_initial_s * (2 ** min(self.failures, 16)))
        return base * random.uniform(0.5, 1.0)

    async def frames(self) -> AsyncIterator[Connected | Disconnected | SSEEvent]:
        while True:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if self.after is not None:
                headers["Last-Event-ID"] = str(self.after)
            timeout = httpx.Timeout(10.0, read=self.read_timeout_s)
            try:
                async with self.http.stream("GET", self.path, headers=headers,
                                            timeout=timeout) as resp:
                    if resp.status_code != 200:
                        await resp.aread()
                        raise httpx.HTTPStatusError(
                            f"event stream answered {resp.status_code}",
                            request=resp.request, response=resp)
                    self.connected = True
                    self.connects += 1
                    self.failures = 0
                    log.info("client.stream_connected", after=self.after,
                             reconnect=self.connects > 1)
                    yield Connected(resumed=self.after is not None, after=self.after)
                    async for ev in parse_sse(resp.aiter_lines()):
                        yield ev
                        if ev.id is not None and ev.id.isdigit():
                            self.after = int(ev.id)
                raise httpx.RemoteProtocolError("event stream ended")
            except (httpx.HTTPError, OSError, ValueError) as exc:
                self.connected = False
                self.failures += 1
                delay = self._delay()
                error = str(exc) or type(exc).__name__
                log.warning("client.stream_lost", error=error, after=self.after,
                            retry_in_s=round(delay, 2))
                yield Disconnected(error, delay)
                await asyncio.sleep(delay)
            finally:
                self.connected = False


def decode_pubsub_message(data: bytes, attributes: Mapping[str, str]) -> dict[str, Any]:
    """A registry event from a Pub/Sub message of the ``registry-events`` topic.

    The message data is the event envelope as JSON (the same document the SSE stream
    sends); attributes carry ``type``, ``schema_version``, ``event_id`` and ``stream_id``.
    A body that is only the event's ``data`` is accepted too (type from the attributes).
    """
    try:
        body = json.loads(data.decode("utf-8")) if data else {}
    except ValueError:
        body = {}
    if isinstance(body, dict) and "type" in body and isinstance(body.get("data"), dict):
        env = dict(body)
    else:
        env = {"data": body if isinstance(body, dict) else {}}
    for name in ("type", "event_id", "stream_id"):
        if name in attributes:
            env.setdefault(name, attributes[name])
    if "schema_version" in attributes and "schema_version" not in env:
        try:
            env["schema_version"] = int(attributes["schema_version"])
        except ValueError:
            pass
    return env
