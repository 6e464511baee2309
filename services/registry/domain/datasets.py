"""The dataset aggregate: metadata, cases in batches, and human verification.

Its state is small (counts and flags) and loaded from the read model under the stream's
lock, which the same transaction keeps in step with the stream; cases live in events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.events.base import DomainEvent
from harness.events.dataset_events import (
    CaseRemoved,
    CaseReviewed,
    CasesAdded,
    CaseUpdated,
    DatasetCreated,
    DatasetUpdated,
    DatasetVerified,
)

from .errors import AlreadyExists, Invalid, NotFound
from .trace_cases import trace_id_of

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
class AddTraceCases:
    """Cases made from stored traces (:func:`.trace_cases.cases_from_traces`), whose ids
    derive from the dataset and the trace: a trace already in the dataset is refused,
    naming it, or skipped with ``skip_duplicates``."""

    cases: tuple[dict[str, Any], ...]
    skip_duplicates: bool = False

    @property
    def case_ids(self) -> list[str]:
        return [c["id"] for c in self.cases]


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
class ReviewDecision:
    """A person's verdict on one generated case; ``changes`` edit it while accepting."""

    case_id: str
    decision: str  # "accept" | "reject"
    changes: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class ReviewCases:
    decisions: tuple[ReviewDecision, ...]

    @property
    def case_ids(self) -> list[str]:
        return [d.case_id for d in self.decisions]


@dataclass(frozen=True)
class PromoteCases:
    """Copy reviewed cases of ``source_dataset_id`` into this (golden) dataset. ``copies``
    carry their final ids (derived from the source case), so promoting twice is a no-op."""

    source_dataset_id: str
    copies: tuple[dict[str, Any], ...]

    @property
    def case_ids(self) -> list[str]:
        return [c["id"] for c in self.copies]


_PROMOTED_NS = uuid.UUID("c1e9a3d4-7b25-4f6e-8a10-5d3b9e2c4f87")


def promoted_copy(target_id: str, source_dataset_id: str, case: dict[str, Any]
                  ) -> dict[str, Any]:
    """A source case as it enters a golden dataset: same content, a deterministic new id,
    and its provenance (``promoted_from``) in the metadata. ``case`` is a read-model row
    with ``id``, ``input``, ``expected_output``, ``metadata``, ``assert``, ``threshold``
    and, for a generated case, ``reviewed_by`` / ``reviewed_at``."""
    provenance: dict[str, Any] = {"dataset_id": source_dataset_id, "case_id": case["id"]}
    if case.get("reviewed_by") or case.get("reviewed_at"):
        reviewed_at = case.get("reviewed_at")
        provenance["reviewed_by"] = case.get("reviewed_by")
        provenance["reviewed_at"] = (reviewed_at.isoformat() if hasattr(reviewed_at, "isoformat")
                                     else reviewed_at)
    return {
        "id": str(uuid.uuid5(_PROMOTED_NS, f"{target_id}:{case['id']}")),
        "input": case.get("input") or {},
        "expected_output": case.get("expected_output"),
        "metadata": {**(case.get("metadata") or {}), "promoted_from": provenance},
        "assert": case.get("assert") or [],
        "threshold": case.get("threshold"),
    }


def promotion_copies(target_id: str, source_dataset_id: str, case_ids: list[str],
                     found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The copies of the source cases ``case_ids`` (``found``: those of them in the source
    dataset, with their review status) as they enter the golden dataset ``target_id``.
    Refused when a case is not in the source, or generated and not reviewed yet."""
    missing = [c for c in case_ids if c not in found]
    if missing:
        raise Invalid(f"case_ids: {len(missing)} case(s) not in the source dataset, e.g. "
                      f"{missing[0]}", field="case_ids", case_ids=missing[:100])
    pending = [c for c in case_ids if found[c]["review_status"] == "pending"]
    if pending:
        raise Invalid(f"case_ids: {len(pending)} generated case(s) not reviewed yet, e.g. "
                      f"{pending[0]}: accept them first (POST /datasets/"
                      f"{source_dataset_id}/review)", field="case_ids", case_ids=pending[:100])
    return [promoted_copy(target_id, source_dataset_id, found[c]) for c in case_ids]


@dataclass(frozen=True)
class DatasetState:
    dataset_id: str | None = None
    name: str = ""
    dataset_type: str = "evaluation"
    is_verified: bool = False
    case_count: int = 0
    case_exists: bool = False  # for case commands: does the addressed case exist?
    # for commands naming several cases: those that exist -> review status (None = a case
    # a person wrote, "pending" / "accepted" = a generated one)
    cases: dict[str, str | None] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.dataset_id is not None


def decide(command, state: DatasetState) -> list[DomainEvent]:
    if isinstance(command, CreateDataset):
        return _create(command, state)
    if not state.exists:
        raise NotFound("dataset not found")
    decision = _DECISIONS.get(type(command))
    if decision is None:
        raise TypeError(f"unknown command {command!r}")
    return decision(state.dataset_id, command, state)


def _batches(did: str, cases: list[dict[str, Any]], source: str) -> list[DomainEvent]:
    return [CasesAdded(dataset_id=did, cases=cases[i:i + BATCH], source=source)
            for i in range(0, len(cases), BATCH)]


def _refuse_unknown(changes: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])


def _create(command: CreateDataset, state: DatasetState) -> list[DomainEvent]:
    if state.exists:
        raise AlreadyExists(f"dataset {command.dataset_id} already exists")
    if command.dataset_type not in DATASET_TYPES:
        raise Invalid("dataset_type: must be golden or evaluation", field="dataset_type")
    if not command.name.strip():
        raise Invalid("name: must not be empty", field="name")
    return [DatasetCreated(**command.__dict__)]


def _update(did: str, command: UpdateDataset, state: DatasetState) -> list[DomainEvent]:
    _refuse_unknown(command.changes, ("name", "description", "dataset_type", "default_assert",
                                      "default_metrics"))
    if command.changes.get("dataset_type", "evaluation") not in DATASET_TYPES:
        raise Invalid("dataset_type: must be golden or evaluation", field="dataset_type")
    if "name" in command.changes and not str(command.changes["name"] or "").strip():
        raise Invalid("name: must not be empty", field="name")
    return [DatasetUpdated(dataset_id=did, changes=command.changes)] if command.changes else []


def _add_cases(did: str, command: AddCases, state: DatasetState) -> list[DomainEvent]:
    if not command.cases:
        raise Invalid("cases: at least one case is needed", field="cases")
    return _batches(did, command.cases, command.source)


def _check_case(command: UpdateCase | RemoveCase, state: DatasetState) -> None:
    if not state.case_exists:
        raise NotFound(f"case {command.case_id} not found in this dataset")


def _update_case(did: str, command: UpdateCase, state: DatasetState) -> list[DomainEvent]:
    _check_case(command, state)
    _refuse_unknown(command.changes, CASE_FIELDS)
    if not command.changes:
        return []
    return [CaseUpdated(dataset_id=did, case_id=command.case_id, changes=command.changes)]


def _remove_case(did: str, command: RemoveCase, state: DatasetState) -> list[DomainEvent]:
    _check_case(command, state)
    return [CaseRemoved(dataset_id=did, case_id=command.case_id)]


def _verify(did: str, command: VerifyDataset, state: DatasetState) -> list[DomainEvent]:
    if state.case_count == 0:
        raise Invalid("a dataset without cases cannot be verified", field="cases")
    return [DatasetVerified(dataset_id=did, note=command.note, case_count=state.case_count)]


def _promote(did: str, command: PromoteCases, state: DatasetState) -> list[DomainEvent]:
    if state.dataset_type != "golden":
        raise Invalid("cases are promoted into a golden dataset; this one is "
                      f"{state.dataset_type}", field="dataset_id")
    if command.source_dataset_id == did:
        raise Invalid("source_dataset_id: promote from another dataset",
                      field="source_dataset_id")
    new = [c for c in command.copies if c["id"] not in state.cases]
    return _batches(did, new, f"promotion:{command.source_dataset_id}")


def _add_trace_cases(did: str, command: AddTraceCases, state: DatasetState
                     ) -> list[DomainEvent]:
    if not command.cases:
        raise Invalid("trace_ids: at least one trace is needed", field="trace_ids")
    present = [trace_id_of(c) for c in command.cases if c["id"] in state.cases]
    if present and not command.skip_duplicates:
        raise AlreadyExists(f"trace_ids: already cases of this dataset: {', '.join(present)} "
                            "(skip_duplicates adds the others)", field="trace_ids",
                            trace_ids=present)
    new = [c for c in command.cases if c["id"] not in state.cases]
    return _batches(did, new, "traces")


REVIEW_DECISIONS = ("accept", "reject")


def _review(did: str, command: ReviewCases, state: DatasetState) -> list[DomainEvent]:
    if not command.decisions:
        raise Invalid("decisions: at least one decision is needed", field="decisions")
    seen: set[str] = set()
    events: list[DomainEvent] = []
    for i, d in enumerate(command.decisions):
        where = f"decisions.{i}"
        if d.case_id in seen:
            raise Invalid(f"{where}.case_id: case {d.case_id} is decided twice",
                          field=f"{where}.case_id")
        seen.add(d.case_id)
        if d.case_id not in state.cases:
            raise NotFound(f"case {d.case_id} not found in this dataset")
        if state.cases[d.case_id] is None:
            raise Invalid(f"{where}.case_id: case {d.case_id} was written by a person, not "
                          "generated; there is nothing to review", field=f"{where}.case_id")
        if d.decision not in REVIEW_DECISIONS:
            raise Invalid(f"{where}.decision: must be accept or reject",
                          field=f"{where}.decision")
        unknown = set(d.changes) - set(CASE_FIELDS)
        if unknown:
            raise Invalid(f"{where}.changes: cannot change {', '.join(sorted(unknown))}",
                          field=f"{where}.changes")
        if d.decision == "reject":
            if d.changes:
                raise Invalid(f"{where}.changes: a rejected case is removed; nothing to edit",
                              field=f"{where}.changes")
            events += [CaseReviewed(dataset_id=did, case_id=d.case_id, decision="rejected",
                                    note=d.note),
                       CaseRemoved(dataset_id=did, case_id=d.case_id)]
        else:
            events.append(CaseReviewed(dataset_id=did, case_id=d.case_id, decision="accepted",
                                       changes=d.changes, note=d.note))
    return events


_DECISIONS: dict[type, Callable[[Any, Any, DatasetState], list[DomainEvent]]] = {
    UpdateDataset: _update, AddCases: _add_cases, AddTraceCases: _add_trace_cases,
    UpdateCase: _update_case, RemoveCase: _remove_case, VerifyDataset: _verify,
    ReviewCases: _review, PromoteCases: _promote,
}
