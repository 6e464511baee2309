"""``/gateway/alerts``: cost alerts (a threshold on spend per key, application or in
total) and their firings."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AnyHttpUrl, Field

from harness.web.auth import require
from harness.web.bodies import RequestBody

from .. import alerts as cost_alerts
from .. import queries
from ..budget import MAX_USD
from ..gateway import Gateway, current_gateway
from ..problems import problem

router = APIRouter()


class AlertIn(RequestBody):
    """A cost alert: a threshold on spend per key, application or in total."""

    name: str | None = Field(None, max_length=200)
    scope: str = Field(pattern="^(key|app|total)$",
                       description="key (target: a key id), app (target: an application "
                                   "name) or total (no target)")
    target: str | None = None
    period: str = Field(pattern="^(day|month)$", description="UTC day or month")
    threshold_usd: float = Field(gt=0, le=MAX_USD)
    webhook_url: AnyHttpUrl | None = Field(
        None, description="Slack-compatible incoming webhook; default "
                          "HARNESS_GATEWAY_ALERT_WEBHOOK")


@router.post("/gateway/alerts", status_code=201)
async def add_alert(body: AlertIn, _=Depends(require("admin")),
                    gw: Gateway = Depends(current_gateway)):
    target = await _checked_target(gw, body.scope, (body.target or "").strip() or None)
    alert = await cost_alerts.create_alert(
        gw.rt.pool, scope=body.scope, target=target, period=body.period,
        threshold_usd=body.threshold_usd, name=body.name,
        webhook_url=str(body.webhook_url) if body.webhook_url else None)
    gw.alerts.poke()  # spend may already be over it
    [out] = [a for a in await cost_alerts.list_alerts(gw.rt.pool)
             if a["id"] == str(alert.id)]
    return out


def _bad_target(detail: str) -> Exception:
    return problem(422, "bad-alert", detail, field="target")


async def _checked_target(gw: Gateway, scope: str, target: str | None) -> str | None:
    """The alert's target as stored: none for ``total``, an existing key's id for
    ``key``, an existing application's name for ``app``."""
    if scope == "total":
        if target is not None:
            raise _bad_target("a total alert has no target")
        return None
    if target is None:
        raise _bad_target(f"a {scope} alert needs a target "
                          f"({'a key id' if scope == 'key' else 'an application name'})")
    if scope == "key":
        return await _key_target(gw, target)
    if not await queries.application_exists(gw.rt.pool, target):
        raise _bad_target(f"no application named {target!r}")
    return target


async def _key_target(gw: Gateway, target: str) -> str:
    try:
        key_id = uuid.UUID(target)
    except ValueError as exc:
        raise _bad_target(f"target {target!r} is not a key id") from exc
    if not await queries.gateway_key_exists(gw.rt.pool, key_id):
        raise _bad_target(f"no gateway key {target}")
    return str(key_id)


@router.get("/gateway/alerts")
async def get_alerts(_=Depends(require("viewer")),
                     gw: Gateway = Depends(current_gateway)):
    return {"items": await cost_alerts.list_alerts(gw.rt.pool)}


@router.get("/gateway/alerts/firings")
async def get_firings(alert_id: uuid.UUID | None = None,
                      limit: int = Query(100, ge=1, le=1000),
                      _=Depends(require("viewer")),
                      gw: Gateway = Depends(current_gateway)):
    return {"items": await cost_alerts.list_firings(gw.rt.pool, alert_id, limit)}


@router.delete("/gateway/alerts/{alert_id}", status_code=204)
async def delete_alert(alert_id: uuid.UUID, _=Depends(require("admin")),
                       gw: Gateway = Depends(current_gateway)):
    if not await cost_alerts.delete_alert(gw.rt.pool, alert_id):
        raise problem(404, "unknown-alert", f"no cost alert {alert_id}")
    return Response(status_code=204)
