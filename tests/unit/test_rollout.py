"""Weighted rollout, pure: which variant a stickiness key gets, how the weights are checked,
where a gateway request's key comes from, and a resolved answer for a key."""

from __future__ import annotations

from collections import Counter

import pytest

from harness import rollout

NINETY_TEN = [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}]


def shares(variants, n=10_000, prompt_id="p-1", environment="production"):
    got = Counter(rollout.pick(variants, prompt_id, environment, f"user-{i}")["version"]
                  for i in range(n))
    return {v: got[v] / n for v in got}


@pytest.mark.parametrize("variants", [
    NINETY_TEN,
    [{"version": 1, "weight": 50}, {"version": 2, "weight": 30}, {"version": 5, "weight": 20}],
    [{"version": 7, "weight": 0.25}, {"version": 8, "weight": 0.75}],  # fractions
    [{"version": 1, "weight": 99}, {"version": 2, "weight": 1}],
])
def test_ten_thousand_keys_land_within_one_point_of_the_weights(variants):
    total = sum(v["weight"] for v in variants)
    got = shares(variants)
    assert set(got) == {v["version"] for v in variants}
    for v in variants:
        assert abs(got[v["version"]] - v["weight"] / total) < 0.01, (v, got)


def test_a_key_always_gets_the_same_variant():
    first = {f"user-{i}": rollout.pick(NINETY_TEN, "p-1", "production", f"user-{i}")["version"]
             for i in range(2_000)}
    for _ in range(3):
        again = {k: rollout.pick(NINETY_TEN, "p-1", "production", k)["version"] for k in first}
        assert again == first
    # the weights as fractions are the same split: every key keeps its variant
    fractions = [{"version": 3, "weight": 0.9}, {"version": 4, "weight": 0.1}]
    assert {k: rollout.pick(fractions, "p-1", "production", k)["version"]
            for k in first} == first
    assert set(first.values()) == {3, 4}


def test_raising_a_weight_only_moves_keys_toward_the_grown_variant():
    before = {f"u{i}": rollout.pick(NINETY_TEN, "p", "prod", f"u{i}")["version"]
              for i in range(5_000)}
    grown = [{"version": 3, "weight": 70}, {"version": 4, "weight": 30}]
    after = {k: rollout.pick(grown, "p", "prod", k)["version"] for k in before}
    moved = [k for k in before if before[k] != after[k]]
    assert moved and all((before[k], after[k]) == (3, 4) for k in moved)
    assert all(after[k] == 4 for k in before if before[k] == 4)  # nobody left the candidate


def test_prompts_and_environments_hash_apart():
    keys = [f"user-{i}" for i in range(2_000)]
    a = [rollout.pick(NINETY_TEN, "p-1", "production", k)["version"] for k in keys]
    b = [rollout.pick(NINETY_TEN, "p-2", "production", k)["version"] for k in keys]
    c = [rollout.pick(NINETY_TEN, "p-1", "staging", k)["version"] for k in keys]
    # the same users are not all in the 10 % of every experiment
    assert a != b and a != c
    assert rollout.point("ab", "c", "k") != rollout.point("a", "bc", "k")


def test_point_is_uniform_in_the_unit_interval():
    points = [rollout.point("p", "e", str(i)) for i in range(10_000)]
    assert all(0 <= x < 1 for x in points)
    deciles = Counter(int(x * 10) for x in points)
    assert all(abs(deciles[d] / 10_000 - 0.1) < 0.01 for d in range(10))


@pytest.mark.parametrize("variants,sticky_by,field", [
    ([{"version": 1, "weight": 100}], "user", "variants"),
    ("90/10", "user", "variants"),
    ([{"version": 1, "weight": 90}, {"version": 1, "weight": 10}], "user",
     "variants[1].version"),
    ([{"version": 1, "weight": 110}, {"version": 2, "weight": -10}], "user",
     "variants[1].weight"),
    ([{"version": 1, "weight": 0}, {"version": 2, "weight": 100}], "user",
     "variants[0].weight"),
    ([{"version": 1, "weight": 60}, {"version": 2, "weight": 30}], "user", "variants"),
    ([{"version": 1, "weight": 0.5}, {"version": 2, "weight": 0.6}], "user", "variants"),
    ([{"version": 0, "weight": 50}, {"version": 2, "weight": 50}], "user",
     "variants[0].version"),
    ([{"version": "2", "weight": 50}, {"version": 3, "weight": 50}], "user",
     "variants[0].version"),
    ([{"version": 1, "weight": float("nan")}, {"version": 2, "weight": 50}], "user",
     "variants[0].weight"),
    ([{"version": 1, "weight": 50, "name": "a"}, {"version": 2, "weight": 50}], "user",
     "variants[0]"),
    ([{"version": 1, "weight": 50}, {"version": 2, "weight": 50}], "cookie", "sticky_by"),
    ([{"version": 1, "weight": 50}, {"version": 2, "weight": 50}], "header:", "sticky_by"),
])
def test_bad_splits_name_the_field(variants, sticky_by, field):
    with pytest.raises(rollout.SplitInvalid) as err:
        rollout.validate(variants, sticky_by)
    assert err.value.field == field


def test_good_splits_keep_their_order_and_key_source():
    for sticky_by in ("user", "metadata.customer_id", "header:x-user-id"):
        variants, got = rollout.validate(
            [{"version": 4, "weight": 10}, {"version": 3, "weight": 90}], sticky_by)
        assert [v["version"] for v in variants] == [4, 3] and got == sticky_by
    variants, _ = rollout.validate([{"version": 1, "weight": 1 / 3}, {"version": 2,
                                                                      "weight": 2 / 3}])
    assert rollout.share(variants[0], variants) == pytest.approx(1 / 3)


def test_where_a_request_key_comes_from():
    body = {"user": "u-1", "metadata": {"customer": "c-9", "n": 42}}
    headers = {"x-user-id": "h-7"}
    assert rollout.key_of("user", body, headers) == "u-1"
    assert rollout.key_of("metadata.customer", body, headers) == "c-9"
    assert rollout.key_of("metadata.n", body, headers) == "42"
    assert rollout.key_of("header:X-User-Id", body, headers) == "h-7"
    assert rollout.key_of("user", {}, headers) is None
    assert rollout.key_of("user", {"user": ""}, headers) is None
    assert rollout.key_of("metadata.customer", {"metadata": "x"}, headers) is None
    assert rollout.key_of("header:x-other", body, headers) is None


def test_a_resolved_answer_for_a_key():
    resolved = {"prompt_id": "p-1", "environment": "production", "version": 3,
                "content": "v3", "variables": [], "model": "echo",
                "split": {"sticky_by": "user", "variants": [
                    {"version": 3, "weight": 90, "share": 0.9, "content": "v3",
                     "variables": []},
                    {"version": 4, "weight": 10, "share": 0.1, "content": "v4 {{ x }}",
                     "variables": ["x"]}]}}
    assert rollout.for_key(resolved, None) == resolved
    assert rollout.for_key({**resolved, "split": None}, "k") == {**resolved, "split": None}
    seen = set()
    for i in range(500):
        out = rollout.for_key(resolved, f"k{i}")
        chosen = rollout.pick(resolved["split"]["variants"], "p-1", "production", f"k{i}")
        assert out["version"] == chosen["version"] == out["variant"]["version"]
        assert out["content"] == chosen["content"] and out["model"] == "echo"
        assert out["variant"]["share"] == pytest.approx(chosen["weight"] / 100)
        assert "weight" not in out and out["split"] == resolved["split"]
        seen.add(out["version"])
    assert seen == {3, 4}
