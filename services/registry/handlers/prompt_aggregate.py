"""The prompt aggregate as commands load it (prompts and governance decide on it): a
snapshot of ``PromptState`` plus the prompt stream's events after it."""

from __future__ import annotations

from ..commands import EventSourced, Snapshotted
from ..domain import prompts as domain

PROMPT = Snapshotted("prompt", domain.STATE_SCHEMA, EventSourced(domain.PromptState(),
                                                                 domain.replay))
