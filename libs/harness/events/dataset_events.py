"""Events of test datasets and their cases."""

from __future__ import annotations

from typing import Any, Literal

from .base import DomainEvent, registry

DatasetType = Literal["golden", "evaluation"]


@registry.register
class DatasetCreated(DomainEvent):
    TYPE = "DatasetCreated"
    dataset_id: str
    name: str
    description: str = ""
    dataset_type: DatasetType = "evaluation"
    synthetic: bool = False
    default_assert: list[dict[str, Any]] = []
    default_metrics: list[str] = []  # scorer metrics of a run that names none


@registry.register
class DatasetUpdated(DomainEvent):
    TYPE = "DatasetUpdated"
    dataset_id: str
    changes: dict[str, Any]


@registry.register
class CasesAdded(DomainEvent):
    """A batch of cases (an import is split into batches of at most 1,000 cases)."""

    TYPE = "CasesAdded"
    dataset_id: str
    cases: list[dict[str, Any]]  # {id, input, expected_output, metadata, assert, threshold}
    source: str = "api"          # "api", "import:<file name>", "generation:<id>"


@registry.register
class CaseUpdated(DomainEvent):
    TYPE = "CaseUpdated"
    dataset_id: str
    case_id: str
    changes: dict[str, Any]


@registry.register
class CaseRemoved(DomainEvent):
    TYPE = "CaseRemoved"
    dataset_id: str
    case_id: str


@registry.register
class DatasetVerified(DomainEvent):
    """A person reviewed the cases. Any later change to the cases clears verification."""

    TYPE = "DatasetVerified"
    dataset_id: str
    note: str = ""
    case_count: int


@registry.register
class CaseReviewed(DomainEvent):
    """A person accepted or rejected a generated case; ``changes`` are the edits made while
    accepting it. A rejected case is removed right after (``CaseRemoved``)."""

    TYPE = "CaseReviewed"
    dataset_id: str
    case_id: str
    decision: Literal["accepted", "rejected"]
    changes: dict[str, Any] = {}
    note: str = ""
