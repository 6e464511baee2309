"""Pure decisions of the dataset aggregate: its metadata, cases and verification (review,
promotion and trace cases are in test_generation_review_domain.py / test_trace_cases)."""

from __future__ import annotations

import pytest

from harness.events.dataset_events import (
    CaseRemoved,
    CasesAdded,
    CaseUpdated,
    DatasetCreated,
    DatasetUpdated,
    DatasetVerified,
)
from services.registry.domain import datasets as d
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound

DATASET = d.DatasetState(dataset_id="ds", name="support", case_count=3)


def test_a_dataset_is_created_once():
    [event] = d.decide(d.CreateDataset("ds", "support", dataset_type="golden"), d.DatasetState())
    assert isinstance(event, DatasetCreated) and event.dataset_type == "golden"
    with pytest.raises(AlreadyExists):
        d.decide(d.CreateDataset("ds", "support"), DATASET)


@pytest.mark.parametrize("command, field", [
    (d.CreateDataset("ds", "x", dataset_type="silver"), "dataset_type"),
    (d.CreateDataset("ds", "  "), "name"),
])
def test_a_bad_dataset_is_refused_naming_the_field(command, field):
    with pytest.raises(Invalid) as e:
        d.decide(command, d.DatasetState())
    assert e.value.extra["field"] == field


@pytest.mark.parametrize("command", [
    d.UpdateDataset({"name": "x"}), d.AddCases([{"id": "c"}]), d.UpdateCase("c", {}),
    d.RemoveCase("c"), d.VerifyDataset(), d.ReviewCases(()), d.PromoteCases("src", ()),
])
def test_every_other_command_needs_the_dataset(command):
    with pytest.raises(NotFound):
        d.decide(command, d.DatasetState())


def test_changes_are_recorded_and_no_change_is_nothing():
    [event] = d.decide(d.UpdateDataset({"description": "new"}), DATASET)
    assert event == DatasetUpdated(dataset_id="ds", changes={"description": "new"})
    assert d.decide(d.UpdateDataset({}), DATASET) == []


@pytest.mark.parametrize("changes, field", [
    ({"case_count": 9}, "case_count"), ({"dataset_type": "silver"}, "dataset_type"),
    ({"name": " "}, "name"), ({"name": None}, "name"),
])
def test_a_bad_change_is_refused_naming_the_field(changes, field):
    with pytest.raises(Invalid) as e:
        d.decide(d.UpdateDataset(changes), DATASET)
    assert e.value.extra["field"] == field


def test_cases_are_added_in_batches():
    cases = [{"id": f"c{i}"} for i in range(d.BATCH + 1)]
    events = d.decide(d.AddCases(cases, source="import:x.csv"), DATASET)
    assert [len(e.cases) for e in events] == [d.BATCH, 1]
    assert all(isinstance(e, CasesAdded) and e.source == "import:x.csv" for e in events)
    with pytest.raises(Invalid):
        d.decide(d.AddCases([]), DATASET)


def test_a_case_of_the_dataset_is_edited_or_removed():
    with_case = d.DatasetState(dataset_id="ds", case_count=1, case_exists=True)
    [event] = d.decide(d.UpdateCase("c", {"expected_output": "hi"}), with_case)
    assert event == CaseUpdated(dataset_id="ds", case_id="c", changes={"expected_output": "hi"})
    assert d.decide(d.UpdateCase("c", {}), with_case) == []
    with pytest.raises(Invalid) as e:
        d.decide(d.UpdateCase("c", {"id": "other"}), with_case)
    assert e.value.extra["field"] == "id"
    assert d.decide(d.RemoveCase("c"), with_case) == [CaseRemoved(dataset_id="ds", case_id="c")]
    for command in (d.UpdateCase("c", {"input": {}}), d.RemoveCase("c")):
        with pytest.raises(NotFound):
            d.decide(command, DATASET)


def test_only_a_dataset_with_cases_is_verified():
    [event] = d.decide(d.VerifyDataset("looked at all"), DATASET)
    assert event == DatasetVerified(dataset_id="ds", note="looked at all", case_count=3)
    with pytest.raises(Invalid):
        d.decide(d.VerifyDataset(), d.DatasetState(dataset_id="ds"))


def test_an_unknown_command_is_a_bug():
    with pytest.raises(TypeError):
        d.decide(object(), DATASET)
