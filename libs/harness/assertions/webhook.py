"""webhook: POST ``{output, context: {prompt, vars}}`` to the URL in the value; the JSON
answer's boolean ``pass`` (and optional ``score``, ``reason``) is the verdict. As in
promptfoo, anything that goes wrong (status ≥ 400, no boolean ``pass``, a timeout:
``WEBHOOK_TIMEOUT`` ms, default 5000) fails the assertion with ``Webhook error: …``."""

from __future__ import annotations

import os
from typing import Any

import httpx

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict


def _timeout_s() -> float:
    try:
        return int(os.environ.get("WEBHOOK_TIMEOUT", "5000")) / 1000.0
    except ValueError:
        return 5.0


async def check_webhook(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if not isinstance(value, str) or not value:
        raise AssertionEvalError('"webhook" assertion type must have a URL value')
    raw = ctx.raw_output if ctx.raw_output is not None else output
    body = {"output": raw, "context": {"prompt": ctx.prompt, "vars": ctx.vars}}
    try:
        async with httpx.AsyncClient(timeout=_timeout_s()) as client:
            resp = await client.post(value, json=body)
        if resp.status_code >= 400:
            raise ValueError(f"Webhook response status: {resp.status_code}")
        data = resp.json()
        if not isinstance(data, dict) or not isinstance(data.get("pass"), bool):
            raise ValueError('Webhook response must be a JSON object with a boolean "pass" '
                             "property")
    except Exception as exc:  # noqa: BLE001 - promptfoo turns every failure into a fail
        return Verdict(False, 0.0, f"Webhook error: {exc}")
    passed = data["pass"] != a.inverse
    score = data.get("score")
    if score is None or isinstance(score, bool) or not isinstance(score, int | float):
        score_value = 1.0 if passed else 0.0
    else:
        score_value = 1 - score if a.inverse else float(score)
    reason = data.get("reason") or ("Assertion passed" if passed else
                                    f"Webhook returned {'true' if a.inverse else 'false'}")
    return Verdict(passed, score_value, str(reason))
