"""Score alerts decided without I/O: the definition checked naming the field, when an alert
fires, and one firing id per alert and period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.registry.domain import score_alerts as domain
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound

D = domain.Definition(score_name="stars", threshold=3.0, min_scores=3)
NOW = datetime(2026, 12, 7, 13, 45, 10, tzinfo=UTC)


def test_create_checks_and_tidies_the_definition():
    [ev] = domain.decide(domain.CreateScoreAlert("a1", domain.Definition(
        score_name=" stars ", threshold=3, name=" quality ", evaluator_id=" e1 ",
        prompt_id="p1", prompt_version=2, model=" openai/a ")), domain.ScoreAlertState())
    assert ev.score_name == "stars" and ev.name == "quality" and ev.threshold == 3.0
    assert ev.evaluator_id == "e1" and ev.source == "evaluator"  # an evaluator's scores
    assert ev.model == "openai/a" and ev.prompt_version == 2
    assert ev.window_minutes == 60 and ev.min_scores == 5 and ev.period == "day"


@pytest.mark.parametrize("changes,field", [
    ({"score_name": "has space"}, "score_name"),
    ({"threshold": float("nan")}, "threshold"),
    ({"threshold": True}, "threshold"),
    ({"source": "robots"}, "source"),
    ({"evaluator_id": "e1", "source": "human"}, "source"),
    ({"prompt_version": 1}, "prompt_version"),
    ({"prompt_id": "p", "prompt_version": 0}, "prompt_version"),
    ({"window_minutes": 0}, "window_minutes"),
    ({"window_minutes": domain.MAX_WINDOW_MINUTES + 1}, "window_minutes"),
    ({"min_scores": 0}, "min_scores"),
    ({"period": "week"}, "period"),
])
def test_bad_definitions_name_the_field(changes, field):
    from dataclasses import replace

    with pytest.raises(Invalid) as err:
        domain.decide(domain.CreateScoreAlert("a1", replace(D, **changes)),
                      domain.ScoreAlertState())
    assert err.value.extra["field"] == field


def test_create_twice_and_delete_what_is_not_there_are_refused():
    with pytest.raises(AlreadyExists):
        domain.decide(domain.CreateScoreAlert("a1", D), domain.ScoreAlertState("a1"))
    with pytest.raises(NotFound):
        domain.decide(domain.DeleteScoreAlert(), domain.ScoreAlertState())
    [ev] = domain.decide(domain.DeleteScoreAlert(), domain.ScoreAlertState("a1"))
    assert ev.alert_id == "a1"


def test_fires_only_below_the_threshold_with_enough_scores():
    assert domain.firing("a1", D, None, 0, NOW) is None
    assert domain.firing("a1", D, 1.0, 2, NOW) is None      # too few
    assert domain.firing("a1", D, 3.0, 10, NOW) is None     # at the threshold: fine
    fired = domain.firing("a1", D, 2.5, 3, NOW)
    assert fired is not None and fired.mean == 2.5 and fired.count == 3
    assert fired.period_start == "2026-12-07T00:00:00+00:00"
    assert "stars" in domain.message(D, fired) and "2.5" in domain.message(D, fired)


def test_periods_start_on_the_utc_hour_or_day():
    assert domain.period_start("hour", NOW) == datetime(2026, 12, 7, 13, tzinfo=UTC)
    assert domain.period_start("day", NOW) == datetime(2026, 12, 7, tzinfo=UTC)
    seoul = NOW.astimezone(timezone(timedelta(hours=9)))  # 22:45 local, same UTC day
    assert domain.period_start("day", seoul) == datetime(2026, 12, 7, tzinfo=UTC)


def test_one_firing_id_per_alert_and_period():
    day = domain.period_start("day", NOW)
    later_same_day = domain.period_start("day", NOW + timedelta(hours=5))
    next_day = domain.period_start("day", NOW + timedelta(days=1))
    assert domain.fired_event_id("a1", day) == domain.fired_event_id("a1", later_same_day)
    assert domain.fired_event_id("a1", day) != domain.fired_event_id("a1", next_day)
    assert domain.fired_event_id("a1", day) != domain.fired_event_id("a2", day)


def test_delivery_backs_off():
    assert [domain.retry_delay_s(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert domain.retry_delay_s(50) == 600.0
