"""similar (embeddings) and llm-rubric (judge), with small deterministic callables."""

from __future__ import annotations

import json
import math

import pytest

from harness.assertions import AssertionContext, evaluate_assertion, evaluate_assertions

VOCAB = ["cat", "dog", "pet", "car", "road"]


async def bow_embed(texts: list[str]) -> list[list[float]]:
    """Bag of words over a tiny vocabulary (plus a constant axis so no vector is zero)."""
    out = []
    for t in texts:
        words = [w.strip(".,!?").lower() for w in t.split()]
        out.append([float(words.count(v)) for v in VOCAB] + [0.1])
    return out


def cos(a, b):
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def run(assertion: dict, output: str, **ctx):
    return await evaluate_assertion(assertion, output, AssertionContext(**ctx))


# --- similar ---------------------------------------------------------------------------------


async def test_similar_passes_above_default_threshold():
    r = await run({"type": "similar", "value": "cat pet"}, "my cat is a pet", embed=bow_embed)
    assert r.passed and r.score > 0.75 and "Similarity" in r.reason


async def test_similar_score_is_cosine():
    (o, v) = await bow_embed(["cat dog", "cat car"])
    r = await run(
        {"type": "similar", "value": "cat car", "threshold": 0.1}, "cat dog", embed=bow_embed
    )
    assert r.score == pytest.approx(cos(o, v))


async def test_similar_fails_below_threshold():
    r = await run({"type": "similar", "value": "car road"}, "cat pet", embed=bow_embed)
    assert not r.passed and not r.error and r.score < 0.75


async def test_similar_custom_threshold():
    a = {"type": "similar", "value": "cat dog", "threshold": 0.5}
    assert (await run(a, "cat", embed=bow_embed)).passed  # cos ≈ 0.70
    assert not (await run({**a, "threshold": 0.9}, "cat", embed=bow_embed)).passed


async def test_similar_list_passes_if_any_matches():
    a = {"type": "similar", "value": ["car road", "cat pet"]}
    r = await run(a, "cat pet", embed=bow_embed)
    assert r.passed and r.score == pytest.approx(1.0)
    r = await run({**a, "value": ["car road", "dog"]}, "cat pet", embed=bow_embed)
    assert not r.passed and "None of the values" in r.reason


async def test_similar_list_failure_reports_best_score():
    r = await run({"type": "similar", "value": ["car", "cat car"]}, "cat", embed=bow_embed)
    assert not r.passed
    (o, v1, v2) = await bow_embed(["cat", "car", "cat car"])
    assert r.score == pytest.approx(max(cos(o, v1), cos(o, v2)))


async def test_not_similar_inverts_pass_and_score():
    r = await run({"type": "not-similar", "value": "car road"}, "cat pet", embed=bow_embed)
    (o, v) = await bow_embed(["cat pet", "car road"])
    assert r.passed and r.score == pytest.approx(1 - cos(o, v))
    r = await run({"type": "not-similar", "value": "cat pet"}, "cat pet", embed=bow_embed)
    assert not r.passed and r.score == pytest.approx(0.0)


async def test_not_similar_list_must_be_far_from_every_value():
    a = {"type": "not-similar", "value": ["car road", "cat pet"]}
    assert not (await run(a, "cat pet", embed=bow_embed)).passed
    assert (await run({**a, "value": ["car road", "dog"]}, "cat pet", embed=bow_embed)).passed


async def test_similar_value_is_templated():
    r = await run(
        {"type": "similar", "value": "{{ animal }} pet"},
        "cat pet",
        embed=bow_embed,
        vars={"animal": "cat"},
    )
    assert r.passed and r.score == pytest.approx(1.0)


async def test_similar_euclidean_and_dot():
    r = await run(
        {"type": "similar:euclidean", "value": "cat", "threshold": 0.5}, "cat", embed=bow_embed
    )
    assert r.passed and r.score == pytest.approx(1.0)
    r = await run(
        {"type": "similar:euclidean", "value": "car", "threshold": 0.5}, "cat", embed=bow_embed
    )
    assert not r.passed  # distance √2
    r = await run({"type": "similar:dot", "value": "cat", "threshold": 1.0}, "cat", embed=bow_embed)
    assert r.passed


async def test_similar_without_embedder_is_error():
    r = await run({"type": "similar", "value": "x"}, "x")
    assert r.error and not r.passed and "embedder" in r.reason


async def test_similar_embedder_failures_are_errors():
    async def boom(texts):
        raise RuntimeError("quota exceeded")

    async def short(texts):
        return [[1.0]]

    async def zero(texts):
        return [[0.0, 0.0] for _ in texts]

    for embed, words in [(boom, "quota exceeded"), (short, "vectors"), (zero, "zero length")]:
        r = await run({"type": "similar", "value": "x"}, "y", embed=embed)
        assert r.error and words in r.reason


async def test_similar_bad_value_is_error():
    assert (await run({"type": "similar", "value": []}, "x", embed=bow_embed)).error
    assert (await run({"type": "similar", "value": 3}, "x", embed=bow_embed)).error


async def test_similar_passes_provider_to_embedder_that_accepts_it():
    seen = []

    async def embed(texts, provider=None):
        seen.append(provider)
        return await bow_embed(texts)

    await run({"type": "similar", "value": "cat", "provider": "openai:embed"}, "cat", embed=embed)
    assert seen == ["openai:embed"]


# --- llm-rubric ------------------------------------------------------------------------------


class Judge:
    """Answers with a canned text and records what it was asked."""

    def __init__(self, answer: str):
        self.answer = answer
        self.calls: list[tuple[list[dict], object]] = []

    async def __call__(self, messages, provider):
        self.calls.append((messages, provider))
        return self.answer


def verdict(passed: bool, score: float, reason: str = "because") -> str:
    return json.dumps({"reason": reason, "pass": passed, "score": score})


async def test_llm_rubric_pass():
    judge = Judge(verdict(True, 0.9, "Polite and on topic"))
    r = await run({"type": "llm-rubric", "value": "is polite"}, "Thank you!", judge=judge)
    assert r.passed and r.score == 0.9 and r.reason == "Polite and on topic"
    messages, provider = judge.calls[0]
    text = json.dumps(messages)
    assert "Thank you!" in text and "is polite" in text and provider is None
    assert messages[-1]["role"] == "user"


async def test_llm_rubric_fail():
    r = await run(
        {"type": "llm-rubric", "value": "x"}, "y", judge=Judge(verdict(False, 0.1, "rude"))
    )
    assert not r.passed and r.score == pytest.approx(0.1) and r.reason == "rude" and not r.error


async def test_llm_rubric_threshold_requires_score():
    a = {"type": "llm-rubric", "value": "x", "threshold": 0.8}
    r = await run(a, "y", judge=Judge(verdict(True, 0.6, "")))
    assert not r.passed and "below threshold" in r.reason
    assert (await run(a, "y", judge=Judge(verdict(True, 0.8)))).passed
    # the threshold does not turn a judged failure into a pass
    assert not (await run(a, "y", judge=Judge(verdict(False, 0.95)))).passed


async def test_not_llm_rubric_inverts_pass_and_score():
    r = await run({"type": "not-llm-rubric", "value": "x"}, "y", judge=Judge(verdict(True, 0.9)))
    assert not r.passed and r.score == pytest.approx(0.1)
    r = await run({"type": "not-llm-rubric", "value": "x"}, "y", judge=Judge(verdict(False, 0.2)))
    assert r.passed and r.score == pytest.approx(0.8)


@pytest.mark.parametrize(
    "answer",
    [
        'Here is my grade:\n```json\n{"reason": "ok", "pass": true, "score": 1}\n```',
        'Sure. {"reason": "ok", "pass": true, "score": 1} Hope that helps.',
        '```\n{"reason": "ok", "pass": "yes", "score": "1"}\n```',
    ],
)
async def test_llm_rubric_parses_json_leniently(answer):
    r = await run({"type": "llm-rubric", "value": "x"}, "y", judge=Judge(answer))
    assert r.passed and r.score == 1.0 and not r.error


async def test_llm_rubric_missing_score_follows_pass_missing_pass_defaults_true():
    r = await run({"type": "llm-rubric", "value": "x"}, "y", judge=Judge('{"pass": false}'))
    assert not r.passed and r.score == 0 and not r.error
    r = await run({"type": "llm-rubric", "value": "x"}, "y", judge=Judge('{"score": 0.7}'))
    assert r.passed and r.score == pytest.approx(0.7)


@pytest.mark.parametrize("answer", ["I think it passes.", "", '{"reason": "no verdict"}', "[1, 2]"])
async def test_llm_rubric_garbage_is_error(answer):
    r = await run({"type": "llm-rubric", "value": "x"}, "y", judge=Judge(answer))
    assert r.error and not r.passed and r.reason


async def test_llm_rubric_without_judge_is_error():
    r = await run({"type": "llm-rubric", "value": "x"}, "y")
    assert r.error and "judge" in r.reason


async def test_llm_rubric_judge_exception_is_error():
    async def judge(messages, provider):
        raise TimeoutError("judge timed out")

    r = await run({"type": "llm-rubric", "value": "x"}, "y", judge=judge)
    assert r.error and "judge timed out" in r.reason


async def test_llm_rubric_without_value_is_error():
    assert (await run({"type": "llm-rubric"}, "y", judge=Judge(verdict(True, 1)))).error


async def test_llm_rubric_provider_override_reaches_judge():
    judge = Judge(verdict(True, 1))
    await run({"type": "llm-rubric", "value": "x", "provider": "openai:gpt-4o"}, "y", judge=judge)
    assert judge.calls[0][1] == "openai:gpt-4o"
    judge = Judge(verdict(True, 1))
    await run(
        {"type": "llm-rubric", "value": "x"}, "y", judge=judge, options={"provider": {"id": "p"}}
    )
    assert judge.calls[0][1] == {"id": "p"}


async def test_llm_rubric_value_templated_with_vars():
    judge = Judge(verdict(True, 1))
    await run(
        {"type": "llm-rubric", "value": "mentions {{ city }}"},
        "y",
        judge=judge,
        vars={"city": "Seoul"},
    )
    assert "mentions Seoul" in json.dumps(judge.calls[0][0])


async def test_rubric_prompt_text_template():
    judge = Judge(verdict(True, 1))
    a = {
        "type": "llm-rubric",
        "value": "be brief",
        "rubricPrompt": "Grade {{ output }} against {{ rubric }} for {{ who }}. Reply JSON.",
    }
    await run(a, "Hi {{ not_a_var }}", judge=judge, vars={"who": "kids"})
    messages = judge.calls[0][0]
    assert messages == [
        {
            "role": "user",
            "content": "Grade Hi {{ not_a_var }} against be brief for kids. Reply JSON.",
        }
    ]


async def test_rubric_prompt_chat_messages_json():
    judge = Judge(verdict(True, 1))
    template = json.dumps(
        [
            {"role": "system", "content": "You grade. Rubric: {{ rubric }}"},
            {"role": "user", "content": "Output: {{ output }}"},
        ]
    )
    await run(
        {"type": "llm-rubric", "value": "x", "rubric_prompt": template}, 'say "hi"', judge=judge
    )
    assert judge.calls[0][0] == [
        {"role": "system", "content": "You grade. Rubric: x"},
        {"role": "user", "content": 'Output: say "hi"'},
    ]


async def test_rubric_prompt_as_message_list_and_from_options():
    judge = Judge(verdict(True, 1))
    msgs = [{"role": "user", "content": "{{ output }} / {{ rubric }}"}]
    await run({"type": "llm-rubric", "value": "r", "rubricPrompt": msgs}, "o", judge=judge)
    assert judge.calls[0][0] == [{"role": "user", "content": "o / r"}]
    judge = Judge(verdict(True, 1))
    await run(
        {"type": "llm-rubric"}, "o", judge=judge, options={"rubricPrompt": "check {{ output }}"}
    )
    assert judge.calls[0][0] == [{"role": "user", "content": "check o"}]


async def test_rubric_prompt_missing_variable_is_error():
    r = await run(
        {"type": "llm-rubric", "value": "x", "rubricPrompt": "{{ nope }}"},
        "y",
        judge=Judge(verdict(True, 1)),
    )
    assert r.error and "nope" in r.reason


async def test_llm_rubric_score_out_of_range_is_clamped_in_result():
    r = await run({"type": "llm-rubric", "value": "x"}, "y", judge=Judge(verdict(True, 7)))
    assert r.passed and r.score == 1.0


async def test_model_graded_in_a_test_with_metrics():
    judge = Judge(verdict(True, 0.5))
    g = await evaluate_assertions(
        [
            {"type": "llm-rubric", "value": "x", "metric": "quality"},
            {"type": "similar", "value": "cat", "metric": "quality"},
        ],
        "cat",
        AssertionContext(judge=judge, embed=bow_embed),
    )
    assert g.passed and g.score == pytest.approx(0.75)
    assert g.named_scores == {"quality": pytest.approx(0.75)}


async def test_llm_rubric_reads_object_inside_array_answer():
    r = await run(
        {"type": "llm-rubric", "value": "x"}, "y", judge=Judge('[{"pass": true, "score": 1}]')
    )
    assert r.passed and not r.error
