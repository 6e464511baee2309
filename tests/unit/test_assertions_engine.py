"""Grading a test: weights, threshold, metrics, templating, errors, latency/cost,
parse_assertions and defaultTest merging."""

from __future__ import annotations

import copy

import pytest

from harness.assertions import (
    SUPPORTED_TYPES,
    Assertion,
    AssertionContext,
    evaluate_assertion,
    evaluate_assertions,
    merge_default_test,
    parse_assertions,
)

PASS = {"type": "contains", "value": "a"}
FAIL = {"type": "contains", "value": "zzz"}


async def grade(assertions, output="abc", threshold=None, **ctx):
    return await evaluate_assertions(
        assertions, output, AssertionContext(**ctx), threshold=threshold
    )


# --- the public shape --------------------------------------------------------------------


def test_supported_types_cover_base_and_not_forms():
    for t in [
        "equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
        "icontains-all", "starts-with", "regex", "is-json", "contains-json", "levenshtein",
        "latency", "cost", "similar", "llm-rubric",
    ]:  # fmt: skip
        assert t in SUPPORTED_TYPES and f"not-{t}" in SUPPORTED_TYPES


def test_assertion_model_keeps_extra_keys_and_aliases():
    a = Assertion.model_validate(
        {
            "type": "llm-rubric",
            "value": "x",
            "rubricPrompt": "p",
            "transformVars": "t",
            "weight": None,
        }
    )
    assert a.rubric_prompt == "p" and a.weight == 1.0
    assert a.model_extra == {"transformVars": "t"}
    assert Assertion(type="contains", rubric_prompt="q").rubric_prompt == "q"


# --- aggregation -----------------------------------------------------------------------------


async def test_no_assertions_passes_with_score_1():
    g = await grade([])
    assert g.passed and g.score == 1 and g.components == [] and not g.error


async def test_all_must_pass_without_threshold():
    g = await grade([PASS, PASS])
    assert g.passed and g.score == 1 and g.reason == "All assertions passed"
    g = await grade([PASS, FAIL])
    assert not g.passed and g.score == 0.5
    assert g.reason == g.components[1].reason


async def test_reason_is_first_failure():
    g = await grade([PASS, FAIL, {"type": "contains", "value": "yyy"}])
    assert "zzz" in g.reason


async def test_weighted_mean_score():
    g = await grade([{**PASS, "weight": 3}, {**FAIL, "weight": 1}])
    assert g.score == pytest.approx(0.75) and not g.passed


async def test_threshold_overrides_individual_failures():
    assertions = [{**PASS, "weight": 3}, {**FAIL, "weight": 1}]
    g = await grade(assertions, threshold=0.7)
    assert g.passed and "0.75" in g.reason
    g = await grade(assertions, threshold=0.8)
    assert not g.passed and "0.75 < 0.8" in g.reason


async def test_threshold_zero_always_passes():
    assert (await grade([FAIL], threshold=0)).passed


async def test_threshold_uses_fractional_scores():
    async def embed(texts):
        return [[1.0, 0.0] if t == "abc" else [1.0, 1.0] for t in texts]

    # similarity ≈ 0.707: the assertion fails its own 0.75, but counts 0.707 toward the test
    sim = {"type": "similar", "value": "other"}
    g = await grade([sim], threshold=0.7, embed=embed)
    assert not g.components[0].passed and g.passed
    assert g.score == pytest.approx(2**-0.5)


async def test_weight_zero_is_reported_but_does_not_count():
    g = await grade([PASS, {**FAIL, "weight": 0}])
    assert g.passed and g.score == 1.0
    # promptfoo reports a weight-0 assertion as passed, with the score it got
    assert len(g.components) == 2 and g.components[1].passed and g.components[1].weight == 0
    assert g.components[1].score == 0.0
    assert g.reason == "All assertions passed"


async def test_only_weight_zero_assertions_scores_zero():
    g = await grade([{**PASS, "weight": 0}])
    assert g.passed and g.score == 0.0
    assert not (await grade([{**PASS, "weight": 0}], threshold=0.5)).passed


async def test_metric_only_flag_behaves_like_weight_zero():
    g = await grade([PASS, {**FAIL, "metricOnly": True, "metric": "m"}])
    assert g.passed and g.score == 1.0 and g.named_scores == {"m": 0.0}


async def test_named_scores_are_weighted_means_per_metric():
    g = await grade(
        [
            {**PASS, "metric": "accuracy", "weight": 3},
            {**FAIL, "metric": "accuracy", "weight": 1},
            {**PASS, "metric": "format"},
            FAIL,
        ]
    )
    assert g.named_scores == {"accuracy": pytest.approx(0.75), "format": 1.0}
    assert g.components[0].metric == "accuracy" and g.components[3].metric is None


async def test_weight_zero_assertion_still_feeds_its_metric():
    g = await grade([{**PASS, "metric": "tone", "weight": 0}])
    assert g.named_scores == {"tone": 1.0}


async def test_metric_names_are_templated():
    g = await grade([{**PASS, "metric": "{{ lang }}-accuracy"}], vars={"lang": "ko"})
    assert g.named_scores == {"ko-accuracy": 1.0}
    # a missing variable renders empty (Nunjucks), and an empty metric name is no metric
    g = await grade([{**PASS, "metric": "{{ missing }}"}])
    assert g.named_scores == {}
    g = await grade([{**PASS, "metric": "{% if %}"}])  # cannot render: kept as written
    assert g.named_scores == {"{% if %}": 1.0}


# --- errors --------------------------------------------------------------------------------


async def test_unknown_type_is_error_not_silent_fail():
    r = await evaluate_assertion(
        {"type": "contains-sparkles", "value": "x"}, "x", AssertionContext()
    )
    assert r.error and not r.passed and r.score == 0 and "unknown assertion type" in r.reason


async def test_invalid_assertion_dict_is_error():
    r = await evaluate_assertion({"value": "x"}, "x", AssertionContext())
    assert r.error and not r.passed
    r = await evaluate_assertion(
        {"type": "contains", "value": "a", "weight": "heavy"}, "a", AssertionContext()
    )
    assert r.error and "weight" in r.reason


async def test_error_fails_the_test_even_with_threshold_or_weight_zero():
    bad = {"type": "contains"}  # no value: promptfoo throws, the row is an error
    g = await grade([PASS, PASS, PASS, bad], threshold=0.5)
    assert g.error and not g.passed and "must have a string or number value" in g.reason
    g = await grade([PASS, {**bad, "weight": 0}])
    assert g.error and not g.passed


async def test_error_counts_as_zero_score():
    g = await grade([PASS, {"type": "nope"}])
    assert g.score == 0.5 and g.error


async def test_not_prefix_does_not_invert_errors():
    r = await evaluate_assertion({"type": "not-contains"}, "x", AssertionContext())
    assert r.error and not r.passed
    # an invalid pattern is a failure (not an error) for regex and not-regex alike
    r = await evaluate_assertion({"type": "not-regex", "value": "["}, "x", AssertionContext())
    assert not r.error and not r.passed


async def test_transform_does_not_run_outside_harness_eval_and_says_so():
    r = await evaluate_assertion(
        {**PASS, "transform": "output.toUpperCase()"}, "a", AssertionContext()
    )
    assert r.error and "transform" in r.reason


async def test_file_reference_value_is_error():
    r = await evaluate_assertion(
        {"type": "contains", "value": "file://x.txt"}, "a", AssertionContext()
    )
    assert r.error and "file" in r.reason


# --- templated values ------------------------------------------------------------------------


async def test_values_are_templated_with_vars():
    ctx = AssertionContext(vars={"city": "Paris", "n": 3})
    assert (
        await evaluate_assertion({"type": "contains", "value": "{{ city }}"}, "in Paris", ctx)
    ).passed
    assert (
        await evaluate_assertion({"type": "equals", "value": "{{n}} items"}, "3 items", ctx)
    ).passed
    r = await evaluate_assertion(
        {"type": "contains-all", "value": ["{{ city }}", "France"]}, "Paris, France", ctx
    )
    assert r.passed
    r = await evaluate_assertion({"type": "contains-any", "value": "{{ city }}, Lyon"}, "Lyon", ctx)
    assert r.passed


async def test_missing_template_variable_renders_empty():
    r = await evaluate_assertion(
        {"type": "equals", "value": "a{{ nope }}b"}, "ab", AssertionContext()
    )
    assert r.passed
    r = await evaluate_assertion({"type": "contains", "value": "{% if %}"}, "x",
                                 AssertionContext())
    assert r.error and "template" in r.reason


async def test_object_values_are_not_templated():
    ctx = AssertionContext(vars={"x": "1"})
    r = await evaluate_assertion(
        {"type": "equals", "value": {"k": "{{ x }}"}}, '{"k": "{{ x }}"}', ctx
    )
    assert r.passed


async def test_output_is_not_templated():
    r = await evaluate_assertion(
        {"type": "equals", "value": "{{ a }}"}, "{{ a }}", AssertionContext(vars={"a": "b"})
    )
    assert not r.passed


# --- latency / cost --------------------------------------------------------------------------


async def test_latency():
    a = {"type": "latency", "threshold": 1000}
    assert (await evaluate_assertion(a, "x", AssertionContext(latency_ms=999))).passed
    assert (await evaluate_assertion(a, "x", AssertionContext(latency_ms=1000))).passed
    r = await evaluate_assertion(a, "x", AssertionContext(latency_ms=1500))
    assert not r.passed and "1500" in r.reason
    assert (
        await evaluate_assertion(
            {**a, "type": "not-latency"}, "x", AssertionContext(latency_ms=1500)
        )
    ).passed


async def test_latency_unknown_or_without_threshold_is_error():
    r = await evaluate_assertion({"type": "latency", "threshold": 10}, "x", AssertionContext())
    assert r.error and "latency" in r.reason
    r = await evaluate_assertion({"type": "latency"}, "x", AssertionContext(latency_ms=5))
    assert r.error and "threshold" in r.reason


async def test_cost():
    a = {"type": "cost", "threshold": 0.002}
    assert (await evaluate_assertion(a, "x", AssertionContext(cost_usd=0.001))).passed
    assert not (await evaluate_assertion(a, "x", AssertionContext(cost_usd=0.003))).passed
    assert (
        await evaluate_assertion({**a, "type": "not-cost"}, "x", AssertionContext(cost_usd=0.003))
    ).passed
    assert (await evaluate_assertion(a, "x", AssertionContext(cost_usd=0.0))).passed


async def test_cost_unknown_is_error():
    r = await evaluate_assertion(
        {"type": "cost", "threshold": 1}, "x", AssertionContext(cost_usd=None)
    )
    assert r.error and not r.passed and "cost unknown" in r.reason


# --- parse_assertions ------------------------------------------------------------------------


def test_parse_assertions_valid():
    out = parse_assertions(
        [
            {"type": "contains", "value": "a"},
            {"type": "not-regex", "value": r"\d{3}"},
            {"type": "latency", "threshold": 100},
            {"type": "llm-rubric", "value": "polite", "rubricPrompt": "x", "metric": "m"},
            {"type": "regex", "value": "{{ pattern }}"},
        ]
    )
    assert [a.type for a in out] == ["contains", "not-regex", "latency", "llm-rubric", "regex"]
    assert all(isinstance(a, Assertion) for a in out)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"value": "x"}], r"assert\[0\]: missing 'type'"),
        ([PASS, "contains"], r"assert\[1\]: must be an object"),
        ([PASS, {"type": "sparkle"}], r"assert\[1\] \(sparkle\): unknown assertion type"),
        ([{"type": "contains"}], r"assert\[0\] \(contains\): 'value' is required"),
        ([{"type": "latency"}], r"'threshold' \(ms\) is required"),
        ([{"type": "cost"}], r"'threshold' \(USD\) is required"),
        ([{"type": "regex", "value": "(x"}], r"assert\[0\] \(regex\): invalid regex"),
        ([{**PASS, "weight": -1}], r"weight must be a number ≥ 0"),
        ([{**PASS, "threshold": "high"}], r"assert\[0\]: threshold"),
    ],
)
def test_parse_assertions_errors_name_index_and_problem(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_assertions(raw)


def test_parse_assertions_needs_a_list():
    with pytest.raises(ValueError, match="must be a list"):
        parse_assertions({"type": "contains"})  # type: ignore[arg-type]


# --- defaultTest -----------------------------------------------------------------------------


def test_merge_default_test():
    default = {
        "vars": {"lang": "en", "tone": "formal"},
        "assert": [{"type": "latency", "threshold": 5000}],
        "options": {"provider": "openai:gpt-4o-mini", "rubricPrompt": "p"},
        "threshold": 0.5,
        "metadata": {"suite": "s"},
    }
    test = {
        "description": "greeting",
        "vars": {"lang": "ko", "name": "Kim"},
        "assert": [{"type": "contains", "value": "안녕"}],
        "options": {"provider": "anthropic:claude"},
    }
    before = copy.deepcopy((default, test))
    merged = merge_default_test(default, test)
    assert merged["vars"] == {"lang": "ko", "tone": "formal", "name": "Kim"}
    assert merged["assert"] == [
        {"type": "latency", "threshold": 5000},
        {"type": "contains", "value": "안녕"},
    ]
    assert merged["options"] == {"provider": "anthropic:claude", "rubricPrompt": "p"}
    assert merged["threshold"] == 0.5
    assert merged["metadata"] == {"suite": "s"}
    assert merged["description"] == "greeting"
    assert (default, test) == before  # inputs untouched
    merged["assert"].append({})
    assert len(default["assert"]) == 1


def test_merge_default_test_threshold_from_test_wins_even_zero():
    assert merge_default_test({"threshold": 0.9}, {"threshold": 0})["threshold"] == 0
    assert "threshold" not in merge_default_test({}, {})


def test_merge_default_test_empty_default():
    merged = merge_default_test(None, {"vars": {"a": 1}})
    assert merged == {"vars": {"a": 1}, "assert": []}


def test_merge_default_test_rejects_non_list_assert():
    with pytest.raises(ValueError, match="defaultTest.assert must be a list"):
        merge_default_test({"assert": {"type": "contains"}}, {})


async def test_merged_default_test_grades_end_to_end():
    merged = merge_default_test(
        {"assert": [{"type": "icontains", "value": "{{ name }}", "metric": "personal"}]},
        {"vars": {"name": "Kim"}, "assert": [{"type": "not-contains", "value": "error"}]},
    )
    g = await evaluate_assertions(
        parse_assertions(merged["assert"]),
        "Hello KIM",
        AssertionContext(vars=merged["vars"]),
        threshold=merged.get("threshold"),
    )
    assert g.passed and g.named_scores == {"personal": 1.0}


async def test_negative_weight_is_error_and_does_not_skew_score():
    g = await grade([PASS, {**PASS, "weight": -2}])
    assert g.error and not g.passed and g.score == 1.0
    assert "weight" in g.components[1].reason


async def test_evaluate_assertions_accepts_any_iterable():
    g = await grade(a for a in [PASS, FAIL])
    assert len(g.components) == 2 and g.score == 0.5
