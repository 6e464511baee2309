"""The registry's projections are listed once, in an order that matters."""

from harness.events.dataset_events import CasesAdded
from services.registry.read.projections import PROJECTIONS, read_model_tables


def test_cases_are_inserted_before_generation_marks_them():
    handling = [p.name for p in PROJECTIONS if CasesAdded.TYPE in p.types]
    assert handling == ["evaluation", "generation"]


def test_each_table_belongs_to_one_projection():
    tables = [t for p in PROJECTIONS for t in p.tables]
    assert len(tables) == len(set(tables))
    assert sorted(read_model_tables()) == sorted(tables)


def test_only_cases_added_is_shared():
    seen: dict[str, list[str]] = {}
    for p in PROJECTIONS:
        for t in p.types:
            seen.setdefault(t, []).append(p.name)
    assert {t for t, names in seen.items() if len(names) > 1} == {CasesAdded.TYPE}
