"""Score alerts: create one, delete one; decided by ``domain.score_alerts`` on
``score_alert-<id>``. Creating checks where the webhook points now (the same rule as
webhooks: :func:`.webhooks.check_reachable`) and, under the stream's lock, that the
evaluator and prompt filtered on exist; the webhook URL is written beside the event in the
same transaction, never into it. Deleting removes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from harness.events import EventMetadata, StoredEvent, streams
from harness.events.base import DomainEvent

from ..commands import FromReadModel
from ..domain import score_alerts as domain
from ..domain.errors import Invalid
from ..read.queries.score_alerts import alert_state
from .webhooks import check_reachable

if TYPE_CHECKING:
    from ..runtime import Runtime


def _aggregate(alert_id: str) -> FromReadModel[domain.ScoreAlertState]:
    async def query(conn: asyncpg.Connection) -> domain.ScoreAlertState:
        return await alert_state(conn, alert_id)

    return FromReadModel(query)


async def _check_filters(conn: asyncpg.Connection, d: domain.Definition) -> None:
    if d.evaluator_id and not await conn.fetchval(
            "SELECT 1 FROM evaluators WHERE id = $1", d.evaluator_id):
        raise Invalid(f"evaluator_id: evaluator {d.evaluator_id} not found",
                      field="evaluator_id")
    if d.prompt_id and not await conn.fetchval(
            "SELECT 1 FROM prompts WHERE id = $1", d.prompt_id):
        raise Invalid(f"prompt_id: prompt {d.prompt_id} not found", field="prompt_id")


async def create(rt: Runtime, command: domain.CreateScoreAlert, webhook_url: str | None,
                 metadata: EventMetadata) -> list[StoredEvent]:
    if webhook_url is not None:
        try:
            await check_reachable(webhook_url)
        except Invalid as exc:
            raise Invalid(exc.detail.replace("url:", "webhook_url:", 1),
                          field="webhook_url") from exc

    async def decide(conn: asyncpg.Connection,
                     state: domain.ScoreAlertState) -> list[DomainEvent]:
        events = domain.decide(command, state)
        await _check_filters(conn, domain.checked(command.definition))
        if webhook_url is not None:  # the append's transaction
            await conn.execute("INSERT INTO score_alert_webhooks (alert_id, url) "
                               "VALUES ($1, $2)", command.alert_id, webhook_url)
        return events

    _, stored = await rt.commands.execute(streams.score_alert(command.alert_id),
                                          _aggregate(command.alert_id), decide, metadata)
    return stored


async def delete(rt: Runtime, alert_id: str, metadata: EventMetadata) -> list[StoredEvent]:
    async def decide(conn: asyncpg.Connection,
                     state: domain.ScoreAlertState) -> list[DomainEvent]:
        events = domain.decide(domain.DeleteScoreAlert(), state)
        await conn.execute("DELETE FROM score_alert_webhooks WHERE alert_id = $1", alert_id)
        return events

    _, stored = await rt.commands.execute(streams.score_alert(alert_id), _aggregate(alert_id),
                                          decide, metadata)
    return stored
