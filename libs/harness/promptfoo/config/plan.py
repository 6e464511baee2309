"""What a promptfoo config becomes: its prompts, providers, targets (prompt × provider)
and cases, and which case runs on which target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.evaluation.models import Target, TestCaseSnapshot

__all__ = ["EvalPlan", "PromptSpec", "ProviderSpec", "is_prompt_allowed", "is_provider_allowed",
           "target_label"]


class PromptSpec(BaseModel):
    """One promptfoo prompt: ``raw`` and ``label`` as promptfoo reports them."""

    raw: str
    label: str
    content: str | list[dict[str, Any]]
    id: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class ProviderSpec(BaseModel):
    id: str
    label: str | None = None
    model: str
    params: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    prompts: list[str] | None = None  # promptfoo's provider-level prompt filter

    @property
    def key(self) -> str:
        """How promptfoo names the provider in its prompt columns: label, else id."""
        return self.label or self.id


class EvalPlan(BaseModel):
    """Everything needed to run a promptfoo config: targets (prompt × provider, in
    promptfoo's ``promptIdx`` order) and cases (tests after defaultTest and var expansion,
    in ``testIdx`` order)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    config_path: Path
    description: str | None = None
    raw_config: dict[str, Any] = Field(default_factory=dict)
    prompts: list[PromptSpec]
    providers: list[ProviderSpec]
    targets: list[Target]
    target_pairs: list[tuple[int, int]]  # per target: (prompt index, provider index)
    cases: list[TestCaseSnapshot]
    evaluate_options: dict[str, Any] = Field(default_factory=dict)
    output_paths: list[Path] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.config_path.parent

    def prompt_of(self, target_index: int) -> PromptSpec:
        return self.prompts[self.target_pairs[target_index][0]]

    def provider_of(self, target_index: int) -> ProviderSpec:
        return self.providers[self.target_pairs[target_index][1]]

    def runs(self, case: TestCaseSnapshot, target_index: int) -> bool:
        """Whether the case runs on the target (the test's ``providers`` / ``prompts``
        filters)."""
        info = case.metadata.get("promptfoo", {}) if isinstance(case.metadata, dict) else {}
        return is_provider_allowed(self.provider_of(target_index), info.get("providers")) and \
            is_prompt_allowed(self.prompt_of(target_index).label, info.get("prompts"))

    def pairs(self) -> list[tuple[TestCaseSnapshot, int]]:
        """(case, target index) for every evaluation to make, in promptfoo's order."""
        return [(case, t) for case in self.cases for t in range(len(self.targets))
                if self.runs(case, t)]


def is_prompt_allowed(label: str, allowed: list[str] | None) -> bool:
    if allowed is None:
        return True
    return label in allowed or any(label.startswith(f"{a}:") for a in allowed)


def is_provider_allowed(provider: ProviderSpec, allowed: list[str] | None) -> bool:
    if allowed is None:
        return True
    for a in allowed:
        if a in (provider.label, provider.id):
            return True
        if a.endswith("*") and (provider.id.startswith(a[:-1])
                                or (provider.label or "").startswith(a[:-1])):
            return True
        if ":" not in a and provider.id.startswith(f"{a}:"):
            return True
    return False


def target_label(prompt_label: str, provider_label: str) -> str:
    short = " ".join(prompt_label.split())
    if len(short) > 60:
        short = short[:59] + "…"
    return f"{short} · {provider_label}"
