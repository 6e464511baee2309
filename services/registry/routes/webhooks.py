"""``/webhooks``: signed webhook subscriptions and their delivery log (editors and admins
only: a URL may carry a token of the receiver's).

Deliveries come from the event store, never from these requests (see
``services/registry/webhooks``); the README's "Webhooks" section says how a receiver
verifies a signature.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from harness.web.auth import require

from ..domain import webhooks as domain
from ..handlers import webhooks as handlers
from ..read.queries import webhooks as queries
from ..schemas import (
    DeliveryOut,
    Page,
    WebhookCreate,
    WebhookCreated,
    WebhookDisable,
    WebhookOut,
)
from .deps import Paging, metadata, runtime

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post("", response_model=WebhookCreated, status_code=201,
             response_model_exclude_none=False)
async def create_webhook(body: WebhookCreate, request: Request, rt=Depends(runtime),
                         _=Depends(require("editor"))):
    """Subscribe ``url`` to registry events. Each delivery is a POST of the event as JSON,
    signed with ``X-Harness-Signature: t=<unix seconds>,v1=<HMAC-SHA256 hex of
    "<t>.<body>">``. Without ``secret`` one is made and returned once, here."""
    webhook_id = str(uuid.uuid4())
    secret = body.secret or "whsec_" + secrets.token_urlsafe(32)
    await handlers.subscribe(rt, domain.Subscribe(
        webhook_id=webhook_id, url=body.url, event_types=tuple(body.event_types),
        prompt_id=body.prompt_id, application_id=body.application_id,
        description=body.description), secret, metadata(request))
    out = await queries.get_webhook(rt.pool, webhook_id)
    return WebhookCreated(**out.model_dump(), secret=None if body.secret else secret)


@router.get("", response_model=Page[WebhookOut])
async def list_webhooks(paging=Paging, rt=Depends(runtime), _=Depends(require("editor"))):
    return await queries.list_webhooks(rt.pool, paging.limit, paging.offset)


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: str, rt=Depends(runtime), _=Depends(require("editor"))):
    return await queries.get_webhook(rt.pool, webhook_id)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, request: Request, rt=Depends(runtime),
                         _=Depends(require("editor"))):
    """The subscription, its secret and its delivery log go; nothing more is sent."""
    await handlers.change(rt, webhook_id, domain.Delete(), metadata(request))
    return Response(status_code=204)


@router.post("/{webhook_id}/disable", response_model=WebhookOut)
async def disable_webhook(webhook_id: str, request: Request, body: WebhookDisable | None = None,
                          rt=Depends(runtime), _=Depends(require("editor"))):
    """Pause deliveries: events keep being queued and are sent, in order, once enabled."""
    await handlers.change(rt, webhook_id, domain.Disable(reason=(body or WebhookDisable()).reason),
                          metadata(request))
    return await queries.get_webhook(rt.pool, webhook_id)


@router.post("/{webhook_id}/enable", response_model=WebhookOut)
async def enable_webhook(webhook_id: str, request: Request, rt=Depends(runtime),
                         _=Depends(require("editor"))):
    """Resume deliveries (also after an automatic disable) where they paused."""
    await handlers.change(rt, webhook_id, domain.Enable(), metadata(request))
    return await queries.get_webhook(rt.pool, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(webhook_id: str,
                          status: Literal["pending", "delivered"] | None = Query(None),
                          paging=Paging, rt=Depends(runtime), _=Depends(require("editor"))):
    """The delivery log, newest event first: each delivery's status and every attempt
    (status code or error, duration)."""
    return await queries.list_deliveries(rt.pool, webhook_id, status, paging.limit,
                                         paging.offset)
