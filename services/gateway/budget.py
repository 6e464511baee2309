"""Budgets that really stop spending: reserve the worst case before the call, settle after.

A call reserves ``price × (prompt-token upper bound + n × output bound)`` for every budget
period of its key (day and/or month) in one transaction, where the output bound is the
larger of ``max_tokens`` and ``max_completion_tokens`` (a provider honours either) and
``n`` counts the choices (each one is billed). The prompt bound counts everything a
provider bills as input (messages with their tool calls, tool definitions, response
formats) plus an allowance per image/audio/file part, and the price is the dearest tier
of the model's input and output prices. The conditional ``UPDATE`` row-locks the
period rows, and Postgres re-checks the ``WHERE`` after waiting for a concurrent
reservation, so concurrent calls cannot together exceed ``limit_usd``. After the call the
reservation is swapped for the actual cost, released if nothing was spent, or kept whole
when the answer did not say what it cost (no usage: a stream cut short, a provider that
omits it), so a missing usage is never "free".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from harness.llm import pricing
from harness.llm.echo import is_echo

from .keys import GatewayKey

MAX_USD = 1e9
"""Budgets and thresholds are stored as numeric(18, 8): below 10^10 dollars."""


class BudgetExceeded(Exception):
    def __init__(self, period: str, limit: float, spent: float, needed: float,
                 retry_after_s: int) -> None:
        super().__init__(f"{period} budget of ${limit:.4f} would be exceeded: "
                         f"${spent:.6f} spent or reserved, this call may cost up to "
                         f"${needed:.6f}")
        self.period, self.limit, self.spent, self.needed = period, limit, spent, needed
        self.retry_after_s = retry_after_s


class PriceUnknown(Exception):
    def __init__(self, models: list[str]) -> None:
        super().__init__("no known price for " + ", ".join(models) + "; a key with a budget "
                         "can only call priced models (configure HARNESS_GATEWAY_PRICES)")
        self.models = models


class BadBound(ValueError):
    """A request field the worst case is computed from is not a positive integer."""

    def __init__(self, field: str, value: Any) -> None:
        super().__init__(f"{field} must be a positive integer, got {value!r}")
        self.field = field


def _positive_int(params: Mapping[str, Any], field: str) -> int | None:
    value = params.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadBound(field, value)
    return value


def output_tokens_bound(params: Mapping[str, Any]) -> int:
    """The most output tokens a call with these params can be billed for:
    ``n × max(max_tokens, max_completion_tokens)`` (0 when neither is set), plus the
    bytes of a ``prediction`` (its rejected tokens are billed as output, per choice).
    Raises :class:`BadBound` for a non-integer or non-positive ``n`` or bound."""
    n = _positive_int(params, "n") or 1
    bounds = [_positive_int(params, f) for f in ("max_tokens", "max_completion_tokens")]
    predicted = _json_bytes(params["prediction"]) if params.get("prediction") else 0
    return n * (max((b for b in bounds if b is not None), default=0) + predicted)


def price_entry(model: str, prices: Mapping[str, Mapping[str, Any]] | None) -> dict | None:
    configured = pricing.override_price(prices, model)
    if configured is None and is_echo(model):
        return {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}  # offline
    return configured or pricing.cost_map_entry(model)


# Request fields a provider bills as prompt tokens besides the messages.
BILLED_AS_INPUT = ("tools", "functions", "tool_choice", "response_format")
# Tokens allowed per non-text content part (image, audio, file): their tokens do not follow
# their bytes (a short image URL may cost thousands; gpt-4o-mini bills a large
# high-detail image at about 37,000).
MEDIA_PART_TOKENS = 50_000


def _json_bytes(value: Any) -> int:
    return len(orjson.dumps(value, default=str))


def prompt_tokens_upper_bound(messages: list[dict[str, Any]],
                              params: Mapping[str, Any] | None = None) -> int:
    """No tokenizer emits more tokens than UTF-8 bytes, so the bytes of the messages as
    JSON (content, tool calls, names: every field, with room for per-message overhead)
    and of the fields in ``params`` billed as input bound the prompt tokens; each
    non-text content part adds :data:`MEDIA_PART_TOKENS`."""
    total = _json_bytes(messages) + 8 * len(messages) + 8
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            total += MEDIA_PART_TOKENS * sum(
                1 for p in content if isinstance(p, dict) and p.get("type") != "text")
    for f in BILLED_AS_INPUT:
        if params and params.get(f) is not None:
            total += _json_bytes(params[f])
    return total


_TOKEN_UNITS = ("token", "audio_token", "reasoning_token", "image_token", "video_token")
# Price variants of request modes the gateway never asks for (it forwards no service tier)
_MODES = ("_batches", "_flex", "_priority", "_ultrafast", "_decisions", "_balanced",
          "_cache_hit")


def _dearest(entry: Mapping[str, Any], direction: str, tiers: bool = False) -> float:
    """The highest per-token price of ``direction`` (input/output) in a price entry: the
    base price, context tiers (``..._above_128k_tokens``), audio, reasoning and, for
    input, cache writes. Prices in other units (characters, images, seconds) are left
    out (the token bounds say nothing about them), and so are the prices of service
    tiers (batch, flex, priority) unless the request names a ``service_tier``
    (``tiers``)."""
    prices = [0.0]
    for k, v in entry.items():
        if not isinstance(v, int | float):
            continue
        per_token = k.startswith(f"{direction}_cost_per_") and k.split("_cost_per_", 1)[1] \
            .startswith(_TOKEN_UNITS)  # also ..._above_128k_tokens, ..._priority, ...
        cache_write = direction == "input" and k.startswith("cache_creation_input_token_cost")
        if (per_token or cache_write) and (tiers or not k.endswith(_MODES)):
            prices.append(float(v))
    return max(prices)


def _per_call_fees(entry: Mapping[str, Any], params: Mapping[str, Any]) -> float:
    """Flat fees a request can add: web search is priced per query."""
    if params.get("web_search_options") is None:
        return 0.0
    fees = entry.get("search_context_cost_per_query")
    if isinstance(fees, Mapping):
        return max([float(v) for v in fees.values() if isinstance(v, int | float)] or [0.0])
    return 0.0


def worst_case_cost(chain: list[str], prompt_tokens: int, max_tokens: int,
                    prices: Mapping[str, Mapping[str, Any]] | None,
                    params: Mapping[str, Any] | None = None) -> float:
    """The most any model of the chain could charge; raises PriceUnknown. ``params`` (the
    request's options) add a named service tier's prices and per-query fees."""
    params = params or {}
    tiers = params.get("service_tier") is not None
    unknown, worst = [], 0.0
    for m in chain:
        e = price_entry(m, prices)
        if e is None:
            unknown.append(m)
            continue
        cost = (prompt_tokens * _dearest(e, "input", tiers)
                + max_tokens * _dearest(e, "output", tiers) + _per_call_fees(e, params))
        worst = max(worst, cost)
    if unknown:
        raise PriceUnknown(unknown)
    return worst


def _periods(key: GatewayKey, today: date) -> list[tuple[str, date, float]]:
    out = []
    if key.budget_day_usd is not None:
        out.append(("day", today, key.budget_day_usd))
    if key.budget_month_usd is not None:
        out.append(("month", today.replace(day=1), key.budget_month_usd))
    return out


def _seconds_to_end(period: str, now: datetime) -> int:
    if period == "day":
        nxt = datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp() + 86400
    else:
        y, m = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        nxt = datetime(y, m, 1, tzinfo=UTC).timestamp()
    return max(1, int(nxt - now.timestamp()) + 1)


@dataclass
class Reservation:
    key_id: Any
    amount: float
    periods: list[tuple[str, date]]
    settled: bool = False


async def reserve(pool, key: GatewayKey, amount: float) -> Reservation:
    now = datetime.now(UTC)
    periods = _periods(key, now.date())
    async with pool.acquire() as conn, conn.transaction():
        for period, start, limit in periods:
            await conn.execute(
                """INSERT INTO gateway_spend (key_id, period, period_start, limit_usd)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (key_id, period, period_start)
                   DO UPDATE SET limit_usd = EXCLUDED.limit_usd
                   WHERE gateway_spend.limit_usd <> EXCLUDED.limit_usd""",
                key.id, period, start, Decimal(str(limit)))
        for period, start, limit in periods:
            row = await conn.fetchrow(
                """UPDATE gateway_spend SET reserved_usd = reserved_usd + $4
                    WHERE key_id = $1 AND period = $2 AND period_start = $3
                      AND spent_usd + reserved_usd + $4 <= limit_usd
                   RETURNING reserved_usd""", key.id, period, start, Decimal(repr(amount)))
            if row is None:
                current = await conn.fetchval(
                    "SELECT spent_usd + reserved_usd FROM gateway_spend WHERE key_id = $1 "
                    "AND period = $2 AND period_start = $3", key.id, period, start)
                raise BudgetExceeded(period, limit, float(current or 0), amount,
                                     _seconds_to_end(period, now))
    return Reservation(key.id, amount, [(p, s) for p, s, _ in periods])


async def settle(pool, res: Reservation, actual: float | None) -> float:
    """Swap the reservation for the actual cost (``None`` = unknown: keep the worst case);
    returns what the budget was charged."""
    if res.settled or not res.periods:
        return res.amount if actual is None else actual
    res.settled = True
    spent = res.amount if actual is None else actual
    async with pool.acquire() as conn, conn.transaction():
        for period, start in res.periods:
            await conn.execute(
                """UPDATE gateway_spend
                      SET reserved_usd = GREATEST(reserved_usd - $4, 0),
                          spent_usd = spent_usd + $5
                    WHERE key_id = $1 AND period = $2 AND period_start = $3""",
                res.key_id, period, start, Decimal(repr(res.amount)), Decimal(repr(spent)))
    return spent
