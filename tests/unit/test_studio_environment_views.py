"""The studio's environments table: each environment's version and weighted split."""

from services.studio.views.environments import environment_rows
from services.studio.views.timeline import describe_event, split_text


def test_environment_rows_show_the_split_beside_the_version():
    rows = environment_rows({
        "production": {"version": 3, "set_by": {"actor": "ana", "reason": "v3"},
                       "split": {"variants": [{"version": 3, "weight": 90.0},
                                              {"version": 4, "weight": 10.0}],
                                 "sticky_by": "user", "started_by": "bob",
                                 "reason": "canary v4"}},
        "staging": {"version": None, "set_by": None, "split": None},
    })
    assert rows[0] == {"environment": "production", "version": "v3",
                       "split": "v3 90% · v4 10%", "sticky by": "user", "split by": "bob",
                       "set by": "ana", "reason": "canary v4"}
    assert rows[1]["version"] == "—" and rows[1]["split"] == ""


def test_split_text_and_timeline():
    assert split_text([{"version": 1, "weight": 0.25}, {"version": 2, "weight": 0.75}]) == \
        "v1 25% · v2 75%"
    event = {"type": "PromptEnvironmentSplit",
             "data": {"environment": "production",
                      "variants": [{"version": 1, "weight": 50}, {"version": 2,
                                                                  "weight": 50}]}}
    assert describe_event(event) == "split production: v1 50% · v2 50%"
    assert describe_event({"type": "PromptEnvironmentSplitEnded",
                           "data": {"environment": "staging"}}) == \
        "ended the split of staging"


def test_a_reference_move_names_the_referenced_prompts_versions():
    """The history entry has no version of its own (the dependent did not move): the
    timeline reads the referenced prompt's from the event's data."""
    event = {"type": "PromptReferenceMoved", "version": None, "previous_version": None,
             "data": {"referenced_name": "support-tone", "environment": "production",
                      "version": 2, "previous_version": 1}}
    assert describe_event(event) == \
        "referenced prompt 'support-tone' moved production to v2"
    cleared = {**event, "data": {**event["data"], "version": None}}
    assert describe_event(cleared) == \
        "referenced prompt 'support-tone' moved production to nothing"
