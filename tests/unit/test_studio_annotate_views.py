"""The Annotate page's pure helpers: progress, a widget per score config, its value."""

from __future__ import annotations

from services.studio.views.annotate import progress_caption, result_lines, score_value, widget_of

STARS = {"name": "stars", "data_type": "numeric", "min_value": 1, "max_value": 5}
OK = {"name": "ok", "data_type": "boolean"}
TONE = {"name": "tone", "data_type": "categorical",
        "categories": [{"label": "rude", "value": 0}, {"label": "kind", "value": 1}]}


def test_widgets_and_values_per_type():
    assert widget_of(STARS) == ("number", {"min_value": 1, "max_value": 5, "value": 1.0})
    assert widget_of({"data_type": "numeric"})[1]["value"] == 0.0
    assert widget_of({"data_type": "numeric", "max_value": -2})[1]["value"] == -2.0
    assert widget_of(OK) == ("choice", {"options": ["true", "false"]})
    assert widget_of(TONE) == ("choice", {"options": ["rude", "kind"]})
    assert (score_value(STARS, 4), score_value(OK, "false"), score_value(TONE, "kind")) == (
        4.0, False, "kind")


def test_progress_and_result_lines():
    q = {"done_count": 3, "item_count": 5, "pending": 2, "done_by": {"rita": 2, "sam": 1}}
    assert progress_caption(q) == "3 of 5 done · 2 pending · done by rita 2, sam 1"
    assert progress_caption({"item_count": 0}) == "0 of 0 done · 0 pending"
    lines = dict(result_lines({"output": "hi", "status": "fail", "reason": "no match",
                               "case": {"input": {"q": "x"}, "expected_output": "hello"}}))
    assert lines == {"Input": {"q": "x"}, "Expected": "hello", "Output": "hi",
                     "Verdict": "fail · no match"}
