"""Data shapes of the assertion engine: what an assertion says, what it found, and the
context it is evaluated in."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

Embedder = Callable[[list[str]], Awaitable[list[list[float]]]]
"""Turns texts into vectors, one per text, in order."""

Judge = Callable[[list[dict], str | dict | None], Awaitable[str]]
"""(chat messages, provider override) -> the judge model's raw text answer."""

Moderator = Callable[[str, str | dict | None], Awaitable[dict[str, float]]]
"""(text, provider override) -> flagged categories with their scores ({} = not flagged)."""


class Assertion(BaseModel):
    """One promptfoo-style assertion. Keys promptfoo knows but this engine does not use
    are kept (``extra="allow"``) so a config round-trips unchanged."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0
    metric: str | None = None
    provider: str | dict | None = None
    rubric_prompt: str | None = Field(
        default=None, validation_alias=AliasChoices("rubric_prompt", "rubricPrompt")
    )

    @field_validator("weight", mode="before")
    @classmethod
    def _weight_default(cls, v: Any) -> Any:
        return 1.0 if v is None else v

    @field_validator("rubric_prompt", mode="before")
    @classmethod
    def _rubric_prompt_text(cls, v: Any) -> Any:
        # promptfoo also accepts a list of chat messages; keep it as its JSON text.
        if isinstance(v, list | dict):
            return json.dumps(v, ensure_ascii=False)
        return v

    @property
    def inverse(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base_type(self) -> str:
        return self.type[4:] if self.inverse else self.type


class AssertionResult(BaseModel):
    type: str
    passed: bool
    score: float
    reason: str
    weight: float
    metric: str | None = None
    error: bool = False


class GradingResult(BaseModel):
    passed: bool
    score: float
    reason: str
    components: list[AssertionResult]
    named_scores: dict[str, float]
    error: bool = False


@dataclass
class AssertionContext:
    vars: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    embed: Embedder | None = None
    judge: Judge | None = None
    # The test case's promptfoo ``options`` (e.g. ``provider``, ``rubricPrompt``); an
    # assertion's own ``provider`` / ``rubricPrompt`` take precedence.
    options: dict[str, Any] = field(default_factory=dict)
    # What promptfoo's handlers read from the provider response and the test, for the
    # response-level checks (finish-reason, perplexity, tool calls) and code assertions.
    finish_reason: str | None = None
    logprobs: list[float] | None = None
    raw_output: Any = None  # the provider's output before it became text (tool calls)
    provider_id: str | None = None
    provider_config: dict[str, Any] = field(default_factory=dict)  # tools, functions
    base_path: str | None = None  # the config's folder: file:// scripts resolve here
    test: dict[str, Any] = field(default_factory=dict)  # the test as promptfoo passes it
    moderate: Moderator | None = None
    # python / javascript / webhook assertions run code or reach out from this machine:
    # only `harness eval` on the user's own config turns them on, never the registry runner
    allow_code: bool = False
    # select-best / max-score are graded later across all prompts' outputs (harness eval);
    # elsewhere they are evaluated here, which makes them an error, never a silent pass
    comparisons_deferred: bool = False


class AssertionEvalError(Exception):
    """The assertion cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class Verdict:
    """What one check decided, after applying the ``not-`` prefix."""

    passed: bool
    score: float
    reason: str


def binary(passed: bool, reason: str) -> Verdict:
    """A pass/fail check: score 1 when it passes, else 0 (promptfoo's rule)."""
    return Verdict(passed, 1.0 if passed else 0.0, reason)
