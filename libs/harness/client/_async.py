"""The asyncio client. ``HarnessClient`` (``_sync``) wraps it for threaded/sync apps."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from harness.config import get_settings

from ._log import log  # silent unless the application configures logging
from .cache import DiskCache, Entry, Kind, cache_key
from .errors import HarnessClientError, NotFound, Unauthorized, Unavailable
from .models import PromptVersion, Resolved
from .stream import Connected, Disconnected, SSEFollower, decode_pubsub_message

Refresh = Literal["sse", "pubsub", "none"]
Fallback = Resolved | PromptVersion | dict[str, Any] | str | list[dict[str, Any]]
ChangeListener = Callable[[Resolved | PromptVersion], Any]
EventListener = Callable[[dict[str, Any]], Any]

# Events that can change what ``resolve`` or ``get_prompt`` returns.
PROMPT_EVENTS = frozenset({"PromptVersionActivated", "PromptVersionCreated", "PromptUpdated",
                           # an application may follow another environment, or a split
                           "PromptEnvironmentMoved", "PromptEnvironmentCleared",
                           "PromptEnvironmentSplit", "PromptEnvironmentSplitEnded",
                           "PromptReferenceMoved"})
REFERENCE_EVENTS = frozenset({"PromptReferenceMoved"})
"""A prompt this one references moved: even a pinned version may now expand differently."""
APPLICATION_EVENTS = frozenset({"ApplicationUpdated", "ApplicationCreated"})


@dataclass
class ClientStats:
    requests: int = 0          # HTTP requests to the registry (the event stream excluded)
    fetched: int = 0           # 200 answers that brought a value
    not_modified: int = 0      # 304 answers (ETag revalidation kept the cached value)
    memory_hits: int = 0       # answered from memory without a request
    served_stale: int = 0      # the registry failed; the last good value was served
    served_disk: int = 0       # ... and it came from the on-disk cache
    served_fallback: int = 0   # the caller's fallback was served
    events: int = 0            # registry events received (SSE or Pub/Sub)
    invalidations: int = 0     # cache entries marked stale by events
    refetches: int = 0         # background refetches after events

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _looks_like_id(ref: str) -> bool:
    try:
        uuid.UUID(ref)
    except ValueError:
        return False
    return True


class AsyncHarnessClient:
    """Resolve applications and prompts from the registry, cached and kept fresh by events.

    - ``resolve(app)`` / ``get_prompt(name, version=None)`` answer from memory while an
      entry is fresh (younger than ``ttl_s`` and not invalidated by an event), else ask the
      registry (``If-None-Match`` for applications: a 304 keeps the cached value).
    - ``refresh="sse"`` follows ``GET /events/stream`` (resuming with ``Last-Event-ID``),
      ``"pubsub"`` pulls from a subscription of the ``registry-events`` topic; either way a
      ``PromptVersionActivated`` (and the other prompt/application events) marks affected
      entries stale and refetches them in the background. ``"none"``: TTL only.
    - When the registry is unreachable (or answers 5xx) the last good value is served from
      memory, else from ``cache_dir`` (JSON files that survive a restart), else the
      caller's ``fallback``; otherwise ``Unavailable``. After a failure no request is made
      for ``retry_after_s`` (or until the event stream reconnects), so callers never queue
      up behind timeouts. A 404 raises ``NotFound`` unless a
      ``fallback`` is given. 401/403 always raise ``Unauthorized``.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 cache_dir: str | Path | None = None, refresh: Refresh = "sse",
                 ttl_s: float = 30.0, timeout_s: float = 5.0, retry_after_s: float = 5.0,
                 reconnect_max_s: float = 15.0,
                 pubsub_project: str | None = None, pubsub_subscription: str | None = None,
                 pubsub_topic_prefix: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if refresh not in ("sse", "pubsub", "none"):
            raise ValueError(f"refresh must be 'sse', 'pubsub' or 'none', not {refresh!r}")
        settings = get_settings()
        self.base_url = (base_url or settings.url or "http://127.0.0.1:8000").rstrip("/")
        api_key = api_key if api_key is not None else settings.api_key
        headers = {"Accept": "application/json", "User-Agent": "harness-client/0.1"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers,
                                       timeout=timeout_s, transport=transport)
        self.refresh: Refresh = refresh
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._down_until = 0.0                   # after a failure: no requests until then
        self._down_reason = ""
        self.stats = ClientStats()
        self._disk = DiskCache(cache_dir) if cache_dir is not None else None
        self._entries: dict[str, Entry] = {}
        self._app_ids: dict[str, str] = {}      # application name (lower) -> id
        self._prompt_ids: dict[str, str] = {}   # prompt name (lower) -> id
        self._locks: dict[str, asyncio.Lock] = {}
        self._epoch = 0                          # bumped by every invalidation
        self._change_listeners: list[ChangeListener] = []
        self._event_listeners: list[EventListener] = []
        self._tasks: set[asyncio.Task] = set()
        self._follower_task: asyncio.Task | None = None
        self._sse: SSEFollower | None = None
        self._sse_reconnect_max_s = reconnect_max_s
        self._connected: asyncio.Event | None = None
        self._pubsub_project = pubsub_project
        self._pubsub_subscription = pubsub_subscription
        self._pubsub_topic_prefix = pubsub_topic_prefix
        self._pubsub: Any = None                 # (subscriber, future, owned subscription)
        self._closed = False

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncHarnessClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start following registry events (also done lazily by the first call)."""
        if self._closed:
            raise HarnessClientError("client is closed")
        if self._connected is None:
            self._connected = asyncio.Event()
        if self._follower_task is not None or self.refresh == "none":
            return
        if self.refresh == "sse":
            self._sse = SSEFollower(self._http, backoff_max_s=self._sse_reconnect_max_s)
            self._follower_task = asyncio.create_task(self._follow_sse(), name="harness-sse")
        else:
            if importlib.util.find_spec("google.cloud.pubsub_v1") is None:
                raise HarnessClientError("refresh='pubsub' needs the google-cloud-pubsub "
                                         "package (pip install google-cloud-pubsub)")
            if not (self._pubsub_project or get_settings().gcp_project):
                raise HarnessClientError("refresh='pubsub' needs pubsub_project or "
                                         "GOOGLE_CLOUD_PROJECT")
            self._follower_task = asyncio.create_task(self._follow_pubsub(),
                                                      name="harness-pubsub")

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = [t for t in [self._follower_task, *self._tasks] if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            await asyncio.to_thread(self._stop_pubsub, pubsub)
        await self._http.aclose()

    @property
    def connected(self) -> bool:
        """Whether the event stream (or Pub/Sub subscription) is currently live."""
        return self._connected is not None and self._connected.is_set()

    @property
    def last_event_position(self) -> int | None:
        return self._sse.after if self._sse is not None else None

    async def wait_connected(self, timeout: float | None = None) -> bool:
        await self.start()
        assert self._connected is not None
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def on_change(self, listener: ChangeListener) -> ChangeListener:
        """Call ``listener(value)`` whenever a fetch brings a value that differs from the
        cached one (typically the background refetch after an event). It runs on the
        client's loop: keep it short; a coroutine is scheduled as a task."""
        self._change_listeners.append(listener)
        return listener

    def on_event(self, listener: EventListener) -> EventListener:
        """Call ``listener(envelope)`` for every registry event received."""
        self._event_listeners.append(listener)
        return listener

    # ---- public API -----------------------------------------------------------------------

    async def resolve(self, app: str, *, key: str | None = None,
                      fallback: Fallback | None = None) -> Resolved:
        """What application ``app`` (name or id) runs now: model, params, active prompt.
        ``key``: the stickiness key (e.g. the end user's id) when the application's
        environment may be split (weighted rollout): the key's variant is picked locally
        from the one cached answer, the same one the registry and the gateway pick."""
        value = await self._get("app", app, None, fallback)
        assert isinstance(value, Resolved)
        return value.for_key(key)

    async def get_prompt(self, name: str, version: int | None = None, *,
                         fallback: Fallback | None = None) -> PromptVersion:
        """A prompt (name or id): its active version, or ``version`` (immutable)."""
        value = await self._get("prompt", name, version, fallback)
        assert isinstance(value, PromptVersion)
        return value

    def cached(self, app_or_prompt: str, *, kind: Kind = "app",
               version: int | None = None) -> Resolved | PromptVersion | None:
        """The value held in memory, without any request (None when not cached)."""
        entry = self._entries.get(cache_key(kind, app_or_prompt, version))
        return entry.value if entry else None

    def invalidate(self, app_or_prompt: str | None = None, *, kind: Kind = "app",
                   version: int | None = None) -> None:
        """Mark one entry (or all) stale: the next call revalidates with the registry."""
        self._epoch += 1
        if app_or_prompt is None:
            for e in self._entries.values():
                e.stale = True
            return
        entry = self._entries.get(cache_key(kind, app_or_prompt, version))
        if entry is not None:
            entry.stale = True

    # ---- cache + fetch --------------------------------------------------------------------

    async def _get(self, kind: Kind, ref: str, version: int | None,
                   fallback: Fallback | None) -> Resolved | PromptVersion:
        if self._closed:
            raise HarnessClientError("client is closed")
        if self._follower_task is None and self.refresh != "none":
            await self.start()
        key = cache_key(kind, ref, version)
        entry = self._entries.get(key)
        if entry is not None and entry.fresh(self.ttl_s):
            self.stats.memory_hits += 1
            return entry.value.served("memory", False)
        try:
            return await self._revalidate(key, kind, ref, version)
        except NotFound as exc:
            if fallback is None:
                raise
            return self._fallback(kind, ref, version, fallback, exc)
        except Unavailable as exc:
            entry = self._entries.get(key)  # _revalidate loaded the on-disk value, if any
            if entry is not None:
                self.stats.served_stale += 1
                source = "memory" if entry.origin == "registry" else "disk"
                if source == "disk":
                    self.stats.served_disk += 1
                log.warning("client.serving_last_good", key=key, source=source,
                            fetched_at=str(entry.value.fetched_at), error=str(exc))
                return entry.value.served(source, True)
            if fallback is not None:
                return self._fallback(kind, ref, version, fallback, exc)
            raise

    def _fallback(self, kind: Kind, ref: str, version: int | None, fallback: Fallback,
                  exc: Exception) -> Resolved | PromptVersion:
        self.stats.served_fallback += 1
        log.warning("client.serving_fallback", kind=kind, ref=ref, error=str(exc))
        model = Resolved if kind == "app" else PromptVersion
        if isinstance(fallback, Resolved | PromptVersion):
            data = fallback.model_dump()
        elif isinstance(fallback, str | list):
            data = {"content": fallback}
        else:
            data = dict(fallback)
        if kind == "app":
            data.setdefault("application", ref)
            if "model" not in data:
                raise ValueError("a fallback for resolve() needs 'model' and 'content'")
        else:
            data.setdefault("prompt_name", ref)
            data.setdefault("version", version)
        data.update(source="fallback", stale=True, fetched_at=None)
        return model.model_validate(data)

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _revalidate(self, key: str, kind: Kind, ref: str,
                          version: int | None) -> Resolved | PromptVersion:
        """Ask the registry (one request in flight per key); store and return its answer."""
        async with self._lock(key):
            entry = self._entries.get(key)
            if entry is not None and entry.fresh(self.ttl_s):
                return entry.value.served("memory", False)
            if entry is None and self._disk is not None:
                # a value from before a restart: its ETag may still be current (304), and
                # it is the last good value if the registry cannot be reached
                entry = await asyncio.to_thread(self._disk.load, key)
                if entry is not None:
                    self._entries[key] = entry
            epoch = self._epoch
            if kind == "app":
                value, etag_matched = await self._fetch_app(ref, entry)
            else:
                value, etag_matched = await self._fetch_prompt(ref, version, entry), False
            now = time.monotonic()
            if etag_matched and entry is not None:
                self.stats.not_modified += 1
                entry.checked_at = now
                entry.stale = self._epoch != epoch
                if entry.origin != "registry":
                    entry.origin = "registry"
                log.debug("client.not_modified", key=key, etag=entry.value.etag)
                return entry.value.served("registry", False)
            self.stats.fetched += 1
            new = Entry(kind=kind, ref=ref, version=version, value=value, origin="registry",
                        checked_at=now, stale=self._epoch != epoch)
            changed = entry is not None and _changed(entry.value, value)
            self._entries[key] = new
            if self._disk is not None and (entry is None or changed
                                           or entry.origin != "registry"):
                try:
                    await asyncio.to_thread(self._disk.store, key, new)
                except OSError as exc:
                    log.warning("client.disk_cache_write_failed", key=key, error=str(exc))
            log.info("client.fetched", key=key, version=value.version,
                     changed=changed if entry is not None else None)
            if changed:
                self._notify_change(value)
            return value.served("registry", False)

    def _notify_change(self, value: Resolved | PromptVersion) -> None:
        for listener in self._change_listeners:
            try:
                result = listener(value)
                if asyncio.iscoroutine(result):
                    task = asyncio.create_task(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                log.exception("client.change_listener_failed")

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        wait = self._down_until - time.monotonic()
        if wait > 0:  # failed a moment ago: do not make every caller wait for a timeout
            raise Unavailable(f"{self._down_reason} (next attempt in {wait:.1f}s)")
        self.stats.requests += 1
        try:
            resp = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._went_down(f"registry unreachable at {self.base_url}: "
                                  f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code < 500:
            self._down_until = 0.0
        if resp.status_code in (200, 304):
            return resp
        problem: dict = {}
        with contextlib.suppress(ValueError):
            body = resp.json()
            if isinstance(body, dict):
                problem = body
        detail = problem.get("detail") or resp.text[:200] or resp.reason_phrase
        status = resp.status_code
        if status == 404:
            raise NotFound(detail, status=status, problem=problem)
        if status in (401, 403):
            raise Unauthorized(detail, status=status, problem=problem)
        if status >= 500 or status in (408, 429):
            raise self._went_down(f"registry answered {status}: {detail}", status=status,
                                  problem=problem)
        raise HarnessClientError(f"registry answered {status}: {detail}", status=status,
                                 problem=problem)

    def _went_down(self, message: str, **kwargs: Any) -> Unavailable:
        self._down_until = time.monotonic() + self.retry_after_s
        self._down_reason = message
        return Unavailable(message, **kwargs)

    async def _find_id(self, collection: str, ref: str, names: dict[str, str]) -> str:
        """The id of an application or prompt by name (ids are used as they are)."""
        name = ref.strip().lower()
        if name in names:
            return names[name]
        params: dict[str, Any] = {"limit": 500, "offset": 0}
        if collection == "prompts":
            params["q"] = ref.strip()
        while True:
            page = (await self._request("GET", f"/{collection}", params=params)).json()
            for item in page["items"]:
                if item["name"].lower() == name:
                    names[name] = item["id"]
                    return item["id"]
            params["offset"] += len(page["items"])
            if not page["items"] or params["offset"] >= page["total"]:
                raise NotFound(f"no {collection[:-1]} named {ref!r}", status=404)

    async def _fetch_app(self, ref: str, entry: Entry | None) -> tuple[Resolved | None, bool]:
        """The resolved application; ``(None, True)`` when the cached ETag still matches."""
        ref = ref.strip()
        by_id = _looks_like_id(ref)
        remembered = entry.application_id if entry is not None else None
        remembered = remembered or (None if by_id else self._app_ids.get(ref.lower()))
        app_id = remembered or (ref if by_id else await self._find_id(
            "applications", ref, self._app_ids))
        headers = {"If-None-Match": entry.value.etag} if entry and entry.value.etag else {}
        try:
            resp = await self._request("GET", f"/applications/{app_id}/resolved",
                                       headers=headers)
        except NotFound:
            if by_id or remembered is None:
                raise
            # the id we remembered for this name is gone: look the name up again, once
            self._app_ids.pop(ref.lower(), None)
            app_id = await self._find_id("applications", ref, self._app_ids)
            resp = await self._request("GET", f"/applications/{app_id}/resolved")
        if resp.status_code == 304:
            return None, True
        body = resp.json()
        value = Resolved.model_validate({**body, "etag": resp.headers.get("etag"),
                                         "fetched_at": datetime.now(UTC)})
        return value, False

    async def _fetch_prompt(self, ref: str, version: int | None,
                            entry: Entry | None) -> PromptVersion:
        ref = ref.strip()
        by_id = _looks_like_id(ref)
        remembered = entry.prompt_id if entry is not None else None
        remembered = remembered or (None if by_id else self._prompt_ids.get(ref.lower()))
        prompt_id = remembered or (ref if by_id else await self._find_id(
            "prompts", ref, self._prompt_ids))
        try:
            return await self._fetch_prompt_by_id(prompt_id, version)
        except NotFound:
            if by_id or remembered is None:
                raise
            self._prompt_ids.pop(ref.lower(), None)
            prompt_id = await self._find_id("prompts", ref, self._prompt_ids)
            return await self._fetch_prompt_by_id(prompt_id, version)

    async def _fetch_prompt_by_id(self, prompt_id: str, version: int | None) -> PromptVersion:
        # the version with its {{ prompt("name@label") }} references expanded
        params = {} if version is None else {"version": version}
        row = (await self._request("GET", f"/prompts/{prompt_id}/resolved",
                                   params=params)).json()
        return PromptVersion.model_validate({**row, "fetched_at": datetime.now(UTC)})

    # ---- refresh on events ----------------------------------------------------------------

    def _affected(self, envelope: dict[str, Any]) -> list[str]:
        etype = envelope.get("type")
        data = envelope.get("data") or {}
        keys: list[str] = []
        if etype in PROMPT_EVENTS:
            pid = data.get("prompt_id")
            if etype == "PromptUpdated" and data.get("name") is not None:
                for name, known in list(self._prompt_ids.items()):
                    if known == pid:
                        del self._prompt_ids[name]
            for key, e in self._entries.items():
                pinned = e.kind == "prompt" and e.version is not None
                if e.prompt_id == pid and (not pinned or etype in REFERENCE_EVENTS):
                    keys.append(key)
        elif etype in APPLICATION_EVENTS:
            aid = data.get("application_id")
            for name, known in list(self._app_ids.items()):
                if known == aid:
                    del self._app_ids[name]
            for key, e in self._entries.items():
                if e.kind == "app" and e.application_id == aid:
                    keys.append(key)
        return keys

    def handle_event(self, envelope: dict[str, Any]) -> list[str]:
        """Apply one registry event: mark affected entries stale and refetch them.
        Idempotent (a redelivered event only causes a revalidation). Returns the keys."""
        self.stats.events += 1
        for listener in self._event_listeners:
            try:
                listener(envelope)
            except Exception:  # a listener must not stop the refresher
                log.exception("client.event_listener_failed")
        keys = self._affected(envelope)
        if keys:
            self._mark_stale(keys, reason=str(envelope.get("type")))
        return keys

    def _mark_stale(self, keys: list[str], reason: str) -> None:
        self._epoch += 1
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None:
                entry.stale = True
        self.stats.invalidations += len(keys)
        log.info("client.invalidated", keys=keys, reason=reason)
        if not self._closed:
            task = asyncio.create_task(self._refetch(keys))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _refetch(self, keys: list[str]) -> None:
        for key in keys:
            entry = self._entries.get(key)
            if entry is None or not entry.stale:
                continue
            try:
                await self._revalidate(key, entry.kind, entry.ref, entry.version)
            except HarnessClientError as exc:
                log.warning("client.refetch_failed", key=key, error=str(exc))
                continue
            self.stats.refetches += 1

    def _on_connected(self, resumed: bool) -> None:
        assert self._connected is not None
        self._connected.set()
        self._down_until = 0.0  # the registry is back
        if not resumed:
            # the stream starts at the registry's head: anything that happened between our
            # fetches and now is not replayed, so revalidate everything we hold
            keys = list(self._entries)
        else:  # resumed: events replay; only what could not be confirmed while down
            keys = [k for k, e in self._entries.items() if e.stale or e.origin != "registry"]
        if keys:
            self._mark_stale(keys, reason="stream connected")

    async def _follow_sse(self) -> None:
        assert self._sse is not None and self._connected is not None
        try:
            async for frame in self._sse.frames():
                if isinstance(frame, Connected):
                    self._on_connected(frame.resumed)
                    continue
                if isinstance(frame, Disconnected):
                    self._connected.clear()
                    continue
                try:
                    envelope = frame.envelope()
                except ValueError:
                    log.warning("client.bad_event", id=frame.id, event=frame.event)
                    continue
                self.handle_event(envelope)
        finally:
            self._connected.clear()

    # ---- Pub/Sub ----------------------------------------------------------------------------

    async def _follow_pubsub(self) -> None:
        assert self._connected is not None
        loop = asyncio.get_running_loop()

        def callback(message: Any) -> None:  # runs on the subscriber's threads
            try:
                envelope = decode_pubsub_message(message.data, dict(message.attributes))
                loop.call_soon_threadsafe(self.handle_event, envelope)
            finally:
                message.ack()  # a cache hint: a redelivery would add nothing

        failures = 0
        while True:
            try:
                self._pubsub = await asyncio.to_thread(self._start_pubsub, callback)
                # messages published before the subscription existed are not delivered
                self._on_connected(resumed=False)
                failures = 0
                await asyncio.wrap_future(self._pubsub[1])
                raise HarnessClientError("Pub/Sub streaming pull ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._connected.clear()
                failures += 1
                delay = min(self._sse_reconnect_max_s, 0.25 * 2 ** min(failures, 16))
                log.warning("client.pubsub_lost", error=str(exc), retry_in_s=delay)
                if self._pubsub is not None:
                    pubsub, self._pubsub = self._pubsub, None
                    await asyncio.to_thread(self._stop_pubsub, pubsub)
                await asyncio.sleep(delay)

    def _start_pubsub(self, callback: Callable[[Any], None]) -> tuple[Any, Any, str | None]:
        from google.cloud import pubsub_v1  # lazy: only apps that use Pub/Sub need it

        from harness.bus.topics import topic_name

        settings = get_settings()
        project = self._pubsub_project or settings.gcp_project
        prefix = (self._pubsub_topic_prefix if self._pubsub_topic_prefix is not None
                  else settings.topic_prefix)
        subscriber = pubsub_v1.SubscriberClient()
        owned: str | None = None
        sub = self._pubsub_subscription
        try:
            if sub is None:  # a subscription of our own, deleted on close (else it expires)
                topic = f"projects/{project}/topics/" + topic_name("registry-events", prefix)
                sub = topic_name(f"registry-events-client-{uuid.uuid4().hex[:12]}", prefix)
                owned = subscriber.subscription_path(project, sub)
                subscriber.create_subscription(request={
                    "name": owned, "topic": topic, "ack_deadline_seconds": 10,
                    "expiration_policy": {"ttl": {"seconds": 86400}}})
                path = owned
            elif "/" in sub:
                path = sub
            else:
                path = subscriber.subscription_path(project, sub)
            future = subscriber.subscribe(path, callback=callback)
        except BaseException:
            self._stop_pubsub((subscriber, None, owned))
            raise
        log.info("client.pubsub_subscribed", subscription=path, owned=owned is not None)
        return subscriber, future, owned

    @staticmethod
    def _stop_pubsub(pubsub: tuple[Any, Any, str | None]) -> None:
        subscriber, future, owned = pubsub
        if future is not None:
            with contextlib.suppress(Exception):
                future.cancel()
                future.result(timeout=5)
        if owned is not None:
            with contextlib.suppress(Exception):
                subscriber.delete_subscription(request={"subscription": owned})
        with contextlib.suppress(Exception):
            subscriber.close()


def _changed(old: Resolved | PromptVersion, new: Resolved | PromptVersion) -> bool:
    if isinstance(old, Resolved) and isinstance(new, Resolved) and old.etag and new.etag:
        return old.etag != new.etag
    skip = {"fetched_at", "source", "stale", "etag"}
    return old.model_dump(exclude=skip) != new.model_dump(exclude=skip)
