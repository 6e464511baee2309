"""Pub/Sub push delivery: decode the push request, verify its OIDC token, call the handler.

Pub/Sub (on Cloud Run) POSTs each message of a push subscription as JSON::

    {"message": {"data": "<base64 envelope JSON>", "attributes": {...},
                 "messageId": "...", "publishTime": "...", "orderingKey": "..."},
     "subscription": "projects/<p>/subscriptions/<s>", "deliveryAttempt": 2}

and treats only 102, 200, 201, 202 and 204 as an acknowledgement. **Every other status,
4xx included, is a negative acknowledgement**: the message is redelivered (with the
subscription's retry-policy backoff) and, after the dead-letter policy's maximum delivery
attempts (5 here), forwarded to the dead-letter topic. So the statuses below all mean
"ack" or "not ack"; 400/401/403 differ from 5xx only in what they tell a person reading
logs. A poison message is therefore not lost and does not loop forever: it ends in
``<topic>-dead-letter`` (on real Pub/Sub; the local fake has no dead-lettering).

===========================================  ===========================================
outcome                                      status
===========================================  ===========================================
handled, or already handled (``Duplicate``)  204 (ack)
undecodable request/envelope, or the         400 (nack → dead letter after N attempts)
handler raised ``PoisonMessage``
missing / invalid / expired token            401
valid token of another identity              403
handler failed (any other exception),        500 / 503 (nack → retried)
token certificates unavailable
===========================================  ===========================================

``push_router(handler, verifier)`` gives services a FastAPI router with ``POST
/pubsub/push``; ``handle_push`` is the same logic without a web framework.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from harness import metrics
from harness.logging import bind_correlation

from .oidc import PushAuthError, PushTokenVerifier
from .port import BusHandler
from .wire import Duplicate, PoisonMessage, PushMessage, decode_message

log = structlog.get_logger(__name__)

PUSH_PATH = "/pubsub/push"
PROBLEM_JSON = "application/problem+json"


class PushOutcome(NamedTuple):
    status: int
    detail: str = ""
    slug: str = ""

    @property
    def acked(self) -> bool:
        return self.status in (102, 200, 201, 202, 204)


def _field(obj: Mapping[str, Any], snake: str, camel: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def decode_push(body: Mapping[str, Any]) -> PushMessage:
    """Decode a push request body; ``PoisonMessage`` says what is wrong with a malformed one."""
    if not isinstance(body, Mapping):
        raise PoisonMessage(f"push body must be a JSON object, got {type(body).__name__}")
    message = body.get("message")
    if not isinstance(message, Mapping):
        raise PoisonMessage("push body has no 'message' object")
    message_id = _field(message, "message_id", "messageId")
    if not message_id:
        raise PoisonMessage("push message has no messageId")
    message_id = str(message_id)
    raw = message.get("data")
    if not isinstance(raw, str) or not raw:
        raise PoisonMessage(f"message {message_id}: no base64 'data'")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise PoisonMessage(f"message {message_id}: 'data' is not valid base64") from None
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise PoisonMessage(f"message {message_id}: 'attributes' must be an object")
    attempt = _field(body, "delivery_attempt", "deliveryAttempt")
    try:
        delivery_attempt = int(attempt) if attempt is not None else None
    except (TypeError, ValueError):
        delivery_attempt = None
    subscription = body.get("subscription")
    return decode_message(
        data,
        message_id=message_id,
        attributes={str(k): str(v) for k, v in attributes.items()},
        publish_time=_parse_time(_field(message, "publish_time", "publishTime")),
        delivery_attempt=delivery_attempt,
        subscription=str(subscription) if subscription else None,
        ordering_key=_field(message, "ordering_key", "orderingKey"),
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


async def dispatch(msg: PushMessage, handler: BusHandler) -> PushOutcome:
    """Run ``handler`` on a decoded message; the outcome says ack (2xx) or not."""
    bind_correlation(msg.event.metadata.correlation_id if msg.event.metadata else None)
    ctx = {"message_id": msg.message_id, "event_id": str(msg.event.event_id),
           "type": msg.event.type, "delivery_attempt": msg.delivery_attempt}
    sub = metrics.bus_subscription(msg.subscription or "")
    if (msg.delivery_attempt or 1) > 1:
        metrics.bus_redelivered.labels(sub).inc()
    metrics.bus_consumer_lag_seconds.labels(sub).observe(
        metrics.seconds_since(msg.publish_time or msg.event.recorded_at))
    outcome = await _dispatch(msg, handler, ctx)
    metrics.bus_delivered.labels(sub, _delivery_outcome(outcome)).inc()
    if not outcome.acked and (msg.delivery_attempt or 0) >= MAX_DELIVERY_ATTEMPTS:
        metrics.bus_dead_lettered.labels(sub).inc()
    return outcome


MAX_DELIVERY_ATTEMPTS = 5  # the dead-letter policy ensure_topology and Terraform set


def _delivery_outcome(outcome: PushOutcome) -> str:
    if outcome.detail == "duplicate":
        return "duplicate"
    if outcome.acked:
        return "ok"
    return "rejected" if outcome.status == 400 else "error"


async def _dispatch(msg: PushMessage, handler: BusHandler, ctx: dict) -> PushOutcome:
    try:
        await handler(msg.event)
    except Duplicate:
        log.info("bus_message_duplicate", **ctx)
        return PushOutcome(204, "duplicate")
    except PoisonMessage as exc:
        log.error("bus_message_rejected", error=str(exc), **ctx)
        return PushOutcome(400, str(exc), "poison-message")
    except Exception as exc:
        log.exception("bus_handler_failed", error=str(exc), **ctx)
        return PushOutcome(500, f"handler failed: {type(exc).__name__}: {exc}",
                           "handler-failed")
    return PushOutcome(204)


async def handle_push(
    request_body: bytes | str | Mapping[str, Any],
    headers: Mapping[str, str],
    handler: BusHandler,
    verifier: PushTokenVerifier | None = None,
) -> PushOutcome:
    """Verify, decode and handle one push request; the outcome's status is the HTTP answer."""
    if verifier is not None and verifier.enabled:
        try:
            await verifier.verify(_header(headers, "authorization"))
        except PushAuthError as exc:
            log.warning("push_auth_failed", status=exc.status, error=exc.detail)
            slug = "certificates-unavailable" if exc.status >= 500 else "push-unauthorized"
            return PushOutcome(exc.status, exc.detail, slug)
    if isinstance(request_body, bytes | str):
        try:
            body = orjson.loads(request_body)
        except orjson.JSONDecodeError as exc:
            return PushOutcome(400, f"push body is not JSON: {exc}", "malformed-push")
    else:
        body = request_body
    try:
        msg = decode_push(body)
    except PoisonMessage as exc:
        log.error("push_message_malformed", error=str(exc))
        return PushOutcome(400, str(exc), "malformed-push")
    return await dispatch(msg, handler)


def push_router(
    handler: BusHandler,
    verifier: PushTokenVerifier | None = None,
    *,
    path: str = PUSH_PATH,
) -> APIRouter:
    """A router with ``POST /pubsub/push`` for a service to mount (``app.include_router``).

    Authentication is the push OIDC token (``verifier``), not the registry's API keys: a
    service that guards every route with API keys must let this path through.
    """
    router = APIRouter(tags=["pubsub"])

    @router.post(path, status_code=204, summary="Pub/Sub push endpoint",
                 responses={400: {}, 401: {}, 403: {}, 500: {}, 503: {}})
    async def pubsub_push(request: Request) -> Response:
        outcome = await handle_push(await request.body(), request.headers, handler, verifier)
        if outcome.acked:
            return Response(status_code=outcome.status)
        body = {"type": f"urn:harness:problem:{outcome.slug or 'push-failed'}",
                "title": "Pub/Sub push message not acknowledged", "status": outcome.status,
                "detail": outcome.detail}
        headers = {"WWW-Authenticate": "Bearer"} if outcome.status == 401 else None
        return JSONResponse(body, status_code=outcome.status, media_type=PROBLEM_JSON,
                            headers=headers)

    return router
