"""The dataset aggregate: metadata, cases in batches, and human verification.

Its state is small (counts and flags) and loaded from the read model under the stream's
lock, which the same transaction keeps in step with the stream; cases live in events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.events.base import DomainEvent
from harness.events.dataset_events import (
    CaseRemoved,
    CasesAdded,
    CaseUpdated,
    DatasetCreated,
    DatasetUpdated,
    DatasetVerified,
)

from .errors import AlreadyExists, Invalid, NotFound

BATCH = 1000
DATASET_TYPES = ("golden", "evaluation")
CASE_FIELDS = ("input", "expected_output", "metadata", "assert", "threshold")


@dataclass(frozen=True)
class CreateDataset:
    dataset_id: str
    name: str
    description: str = ""
    dataset_type: str = "evaluation"
    synthetic: bool = False
    default_assert: list[dict[str, Any]] = field(default_factory=list)
    default_metrics: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateDataset:
    changes: dict[str, Any]


@dataclass(frozen=True)
class AddCases:
    cases: list[dict[str, Any]]  # each with an "id"
    source: str = "api"


@dataclass(frozen=True)
class UpdateCase:
    case_id: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class RemoveCase:
    case_id: str


@dataclass(frozen=True)
class VerifyDataset:
    note: str = ""


@dataclass(frozen=True)
class DatasetState:
    dataset_id: str | None = None
    name: str = ""
    dataset_type: str = "evaluation"
    is_verified: bool = False
    case_count: int = 0
    case_exists: bool = False  # for case commands: does the addressed case exist?

    @property
    def exists(self) -> bool:
        return self.dataset_id is not None


def decide(command, state: DatasetState) -> list[DomainEvent]:
    if isinstance(command, CreateDataset):
        if state.exists:
            raise AlreadyExists(f"dataset {command.dataset_id} already exists")
        if command.dataset_type not in DATASET_TYPES:
            raise Invalid("dataset_type: must be golden or evaluation", field="dataset_type")
        if not command.name.strip():
            raise Invalid("name: must not be empty", field="name")
        return [DatasetCreated(**command.__dict__)]
    if not state.exists:
        raise NotFound("dataset not found")
    assert state.dataset_id is not None
    did = state.dataset_id
    if isinstance(command, UpdateDataset):
        unknown = set(command.changes) - {"name", "description", "dataset_type", "default_assert",
                                          "default_metrics"}
        if unknown:
            raise Invalid(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        if command.changes.get("dataset_type", "evaluation") not in DATASET_TYPES:
            raise Invalid("dataset_type: must be golden or evaluation", field="dataset_type")
        if "name" in command.changes and not str(command.changes["name"] or "").strip():
            raise Invalid("name: must not be empty", field="name")
        return [DatasetUpdated(dataset_id=did, changes=command.changes)] if command.changes else []
    if isinstance(command, AddCases):
        if not command.cases:
            raise Invalid("cases: at least one case is needed", field="cases")
        return [CasesAdded(dataset_id=did, cases=command.cases[i:i + BATCH], source=command.source)
                for i in range(0, len(command.cases), BATCH)]
    if isinstance(command, UpdateCase):
        if not state.case_exists:
            raise NotFound(f"case {command.case_id} not found in this dataset")
        unknown = set(command.changes) - set(CASE_FIELDS)
        if unknown:
            raise Invalid(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        if not command.changes:
            return []
        return [CaseUpdated(dataset_id=did, case_id=command.case_id, changes=command.changes)]
    if isinstance(command, RemoveCase):
        if not state.case_exists:
            raise NotFound(f"case {command.case_id} not found in this dataset")
        return [CaseRemoved(dataset_id=did, case_id=command.case_id)]
    if isinstance(command, VerifyDataset):
        if state.case_count == 0:
            raise Invalid("a dataset without cases cannot be verified", field="cases")
        return [DatasetVerified(dataset_id=did, note=command.note, case_count=state.case_count)]
    raise TypeError(f"unknown command {command!r}")
