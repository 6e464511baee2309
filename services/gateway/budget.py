"""Budgets that really stop spending: reserve the worst case before the call, settle after.

A call reserves ``price × (prompt-token upper bound + n × output bound)`` for every budget
period of its key (day and/or month) in one transaction, where the output bound is the
larger of ``max_tokens`` and ``max_completion_tokens`` (a provider honours either) and
``n`` counts the choices (each one is billed). The conditional ``UPDATE`` row-locks the
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

from harness.llm import pricing
from harness.llm.echo import is_echo

from .keys import GatewayKey


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
    ``n × max(max_tokens, max_completion_tokens)`` (0 when neither is set).
    Raises :class:`BadBound` for a non-integer or non-positive ``n`` or bound."""
    n = _positive_int(params, "n") or 1
    bounds = [_positive_int(params, f) for f in ("max_tokens", "max_completion_tokens")]
    return n * max((b for b in bounds if b is not None), default=0)


def price_entry(model: str, prices: Mapping[str, Mapping[str, Any]] | None) -> dict | None:
    configured = pricing.override_price(prices, model)
    if configured is None and is_echo(model):
        return {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}  # offline
    return configured or pricing.cost_map_entry(model)


def prompt_tokens_upper_bound(messages: list[dict[str, Any]]) -> int:
    """No tokenizer emits more tokens than UTF-8 bytes; plus a per-message overhead."""
    total = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        total += len(str(content or "").encode()) + len(str(m.get("role", "")).encode()) + 8
    return total + 8


def worst_case_cost(chain: list[str], prompt_tokens: int, max_tokens: int,
                    prices: Mapping[str, Mapping[str, Any]] | None) -> float:
    """The most any model of the chain could charge; raises PriceUnknown."""
    unknown, worst = [], 0.0
    for m in chain:
        e = price_entry(m, prices)
        if e is None:
            unknown.append(m)
            continue
        cost = (prompt_tokens * float(e.get("input_cost_per_token") or 0)
                + max_tokens * float(e.get("output_cost_per_token") or 0))
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
