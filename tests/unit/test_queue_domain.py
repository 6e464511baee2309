"""Pure: annotation queues (create with known score configs, add items once, complete an
item as one of the named reviewers)."""

from __future__ import annotations

import pytest

from harness.events.queue_events import QueueCreated, QueueItemCompleted, QueueItemsAdded
from services.registry.domain import queues as q
from services.registry.domain.errors import AlreadyExists, Invalid, NotFound

NEW = q.QueueState(known_configs=frozenset({"stars", "tone"}))
QUEUE = q.QueueState(queue_id="q1", reviewers=("rita", "sam"))


def create(**kw) -> q.CreateQueue:
    return q.CreateQueue(**{"queue_id": "q1", "name": "support answers",
                            "score_names": ("stars",), **kw})


def test_a_queue_names_known_score_configs_and_its_reviewers():
    [ev] = q.decide(create(score_names=("stars", "tone", "stars"), reviewers=(" rita ",)), NEW)
    assert isinstance(ev, QueueCreated)
    assert (ev.score_names, ev.reviewers) == (["stars", "tone"], ["rita"])
    with pytest.raises(AlreadyExists):
        q.decide(create(), QUEUE)


@pytest.mark.parametrize(("kw", "field"), [
    ({"name": "  "}, "name"), ({"score_names": ()}, "score_configs"),
    ({"score_names": ("stars", "clarity")}, "score_configs.1"),
    ({"reviewers": ("rita", " ")}, "reviewers.1"),
])
def test_a_queue_breaking_a_rule_is_refused_naming_the_field(kw, field):
    with pytest.raises(Invalid) as err:
        q.decide(create(**kw), NEW)
    assert err.value.extra["field"] == field


def test_items_are_added_once_in_order():
    a, b = q.trace_item("q1", "t-a"), q.result_item("q1", "run-1", "r-b")
    assert a["item_id"] == q.trace_item("q1", "t-a")["item_id"] != q.trace_item("q2", "t-a")[
        "item_id"]
    [ev] = q.decide(q.AddItems((a, b, a)), QUEUE)
    assert isinstance(ev, QueueItemsAdded) and ev.items == [a, b]
    assert q.decide(q.AddItems((a,)), q.QueueState(queue_id="q1",
                                                   items={a["item_id"]: "pending"})) == []
    with pytest.raises(NotFound):
        q.decide(q.AddItems((a,)), q.QueueState())


def test_only_a_named_reviewer_completes_an_item_once():
    state = q.QueueState(queue_id="q1", reviewers=("rita",), items={"i1": "pending",
                                                                     "i2": "done"})
    [ev] = q.decide(q.CompleteItem("i1", "rita"), state)
    assert isinstance(ev, QueueItemCompleted) and ev.item_id == "i1"
    assert q.decide(q.CompleteItem("i2", "rita"), state) == []
    with pytest.raises(q.NotAReviewer):
        q.decide(q.CompleteItem("i1", "sam"), state)
    with pytest.raises(NotFound):
        q.decide(q.CompleteItem("i3", "rita"), state)
    anyone = q.QueueState(queue_id="q1", items={"i1": "pending"})
    assert q.decide(q.CompleteItem("i1", "sam"), anyone)
