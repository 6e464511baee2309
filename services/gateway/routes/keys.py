"""``POST /gateway/keys`` and ``DELETE /gateway/keys/{id}``: issue and revoke gateway keys
(role ``admin``)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from harness.web.auth import require
from harness.web.bodies import RequestBody
from harness.web.input_guard import INT32_MAX

from ..budget import MAX_USD
from ..gateway import Gateway, current_gateway
from ..keys import create_key, revoke_key
from ..problems import problem

router = APIRouter()


class KeyIn(RequestBody):
    """A new gateway key: scope, limits, budgets and PII policy."""

    name: str = Field(min_length=1, max_length=200, pattern=r"\S",
                      description="not blank")
    applications: list[str] | None = None
    models: list[str] | None = None
    rpm: int | None = Field(None, ge=1, le=INT32_MAX)
    budget_day_usd: float | None = Field(None, ge=0, le=MAX_USD)
    budget_month_usd: float | None = Field(None, ge=0, le=MAX_USD)
    pii_policy: str = Field("mask", pattern="^(off|mask|block)$")


@router.post("/gateway/keys", status_code=201)
async def add_key(body: KeyIn, _=Depends(require("admin")),
                  gw: Gateway = Depends(current_gateway)):
    secret, key = await create_key(gw.rt.pool, **body.model_dump())
    return {"id": str(key.id), "key": secret, "name": key.name,
            "note": "the key is shown once; store it now"}


@router.delete("/gateway/keys/{key_id}", status_code=204)
async def delete_key(key_id: uuid.UUID, _=Depends(require("admin")),
                     gw: Gateway = Depends(current_gateway)):
    if not await revoke_key(gw.rt.pool, key_id):
        raise problem(404, "unknown-key", f"no active key {key_id}")
    gw.keys.invalidate()  # this process at once; the others on the NOTIFY
    return Response(status_code=204)
