"""``GET /v1/models``: the aliases, configured models, ``echo`` and applications the
caller's key may use."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from .. import queries
from ..gateway import Gateway, current_gateway
from ..keys import GatewayKey

router = APIRouter()


@router.get("/v1/models")
async def models(request: Request, gw: Gateway = Depends(current_gateway)):
    key = await gw.authenticate(request)
    names = _model_names(gw, key)
    apps = await queries.application_names(gw.rt.pool)
    names += [f"app/{name}" for name in apps if key.allows_application(name)]
    return {"object": "list", "data": [
        {"id": n, "object": "model", "created": 0, "owned_by": "harness"}
        for n in dict.fromkeys(names)]}


def _model_names(gw: Gateway, key: GatewayKey) -> list[str]:
    names: list[str] = []
    names += [a for a in gw.settings.aliases if key.allows_model(a)]
    names += [m for m in gw.settings.deployments if m != "*" and key.allows_model(m)]
    names += [m for m in ("echo",) if key.allows_model(m)]  # built in, offline
    return names
