"""Pure: score configs and human scores checked against them (each refusal names its
field)."""

from __future__ import annotations

import pytest

from harness.events.feedback_events import Category, ResultScored, TraceScored
from services.registry.domain import feedback as fb
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound

STARS = fb.ScoreConfig("c1", "stars", "numeric", 1, 5)
OK = fb.ScoreConfig("c2", "correct", "boolean")
TONE = fb.ScoreConfig("c3", "tone", "categorical",
                      categories=(Category(label="rude", value=0), Category(label="kind",
                                                                            value=1)))


def config(**kw) -> fb.CreateScoreConfig:
    return fb.CreateScoreConfig(**{"config_id": "c", "name": "stars", "data_type": "numeric",
                                   **kw})


def refused_field(fn, *args) -> str:
    with pytest.raises(Invalid) as err:
        fn(*args)
    assert err.value.extra["field"] in err.value.detail
    return err.value.extra["field"]


def test_a_config_is_created_once_with_what_its_type_allows():
    [ev] = fb.create_config(config(name=" stars ", min_value=1, max_value=5), exists=False)
    assert (ev.name, ev.data_type, ev.min_value, ev.max_value) == ("stars", "numeric", 1, 5)
    [ev] = fb.create_config(config(data_type="categorical", categories=(
        {"label": "kind", "value": 1}, {"label": "rude", "value": 0})), exists=False)
    assert [c.label for c in ev.categories] == ["kind", "rude"]
    with pytest.raises(AlreadyExists):
        fb.create_config(config(), exists=True)


@pytest.mark.parametrize(("kw", "field"), [
    ({"name": "has space"}, "name"),
    ({"name": ""}, "name"),
    ({"data_type": "stars"}, "data_type"),
    ({"min_value": 5, "max_value": 1}, "max_value"),
    ({"min_value": float("nan")}, "min_value"),
    ({"categories": ({"label": "a", "value": 1},)}, "categories"),
    ({"data_type": "boolean", "max_value": 1}, "max_value"),
    ({"data_type": "categorical"}, "categories"),
    ({"data_type": "categorical", "categories": ({"label": " ", "value": 1},)},
     "categories.0.label"),
    ({"data_type": "categorical", "categories": ({"label": "a", "value": 1},
                                                 {"label": "a", "value": 2})},
     "categories.1.label"),
    ({"data_type": "categorical", "categories": ({"label": "a", "value": True},)},
     "categories.0.value"),
])
def test_a_config_breaking_a_rule_is_refused_naming_the_field(kw, field):
    assert refused_field(fb.create_config, config(**kw), False) == field


def test_scores_count_as_numbers_with_their_labels():
    assert fb.checked_value(STARS, fb.Score("stars", 4)) == (4.0, None)
    assert fb.checked_value(OK, fb.Score("correct", False)) == (0.0, "false")
    assert fb.checked_value(TONE, fb.Score("tone", "kind")) == (1.0, "kind")


@pytest.mark.parametrize(("cfg", "score", "field"), [
    (None, fb.Score("stars", 3), "name"),
    (STARS, fb.Score("stars", 6), "value"),
    (STARS, fb.Score("stars", True), "value"),
    (STARS, fb.Score("stars", "4"), "value"),
    (STARS, fb.Score("stars", float("inf")), "value"),
    (OK, fb.Score("correct", 1), "value"),
    (TONE, fb.Score("tone", "meh"), "value"),
    (STARS, fb.Score("stars", 3, "x" * (fb.MAX_COMMENT + 1)), "comment"),
])
def test_a_score_its_config_does_not_allow_is_refused_naming_the_field(cfg, score, field):
    assert refused_field(fb.checked_value, cfg, score) == field


def test_a_score_becomes_one_event_on_an_existing_target():
    [ev] = fb.score_trace("t1", fb.Score("tone", "rude", "harsh"),
                          fb.TraceFacts(trace_exists=True, config=TONE))
    assert isinstance(ev, TraceScored)
    assert (ev.value, ev.label, ev.comment, ev.source, ev.score_config_id) == (
        0.0, "rude", "harsh", "human", "c3")
    with pytest.raises(NotFound):
        fb.score_trace("t1", fb.Score("tone", "rude"), fb.TraceFacts(False, TONE))
    key = fb.ResultKey("case-1", "t0", 0)
    [ev] = fb.score_result("r1", "rid", fb.Score("stars", 5), fb.ResultFacts(key, STARS))
    assert isinstance(ev, ResultScored)
    assert (ev.run_id, ev.case_id, ev.target_id, ev.result_id, ev.value) == (
        "r1", "case-1", "t0", "rid", 5.0)
    with pytest.raises(NotFound):
        fb.score_result("r1", "rid", fb.Score("stars", 5), fb.ResultFacts(None, STARS))


def test_scores_and_bounds_beyond_the_largest_magnitude_are_refused():
    """1.7e308 was a valid score: the mean of two (score alerts, agreement, usage) overflowed
    a double in Postgres (a 500 on GET /score-alerts)."""
    big = fb.MAX_MAGNITUDE * 10
    assert refused_field(fb.create_config, config(min_value=-big), False) == "min_value"
    assert refused_field(fb.create_config, config(max_value=big), False) == "max_value"
    assert refused_field(fb.create_config, config(data_type="categorical", categories=(
        {"label": "huge", "value": big},)), False) == "categories.0.value"
    unbounded = fb.ScoreConfig("c4", "raw", "numeric")
    for value in (1.7e308, -1.7e308, big):
        assert refused_field(fb.checked_value, unbounded, fb.Score("raw", value)) == "value"
    assert fb.checked_value(unbounded, fb.Score("raw", -fb.MAX_MAGNITUDE)) == (
        -fb.MAX_MAGNITUDE, None)
    [ev] = fb.create_config(config(min_value=-fb.MAX_MAGNITUDE, max_value=fb.MAX_MAGNITUDE),
                            exists=False)
    assert (ev.min_value, ev.max_value) == (-fb.MAX_MAGNITUDE, fb.MAX_MAGNITUDE)
