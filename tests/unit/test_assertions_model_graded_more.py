"""factuality, model-graded-closedqa, g-eval, answer-relevance, context-* and moderation
with scripted judges: how each reads the judge's answer, as promptfoo 0.123.1 does."""

from __future__ import annotations

import pytest

from harness.assertions import AssertionContext, evaluate_assertion


def judge_of(*answers: str):
    """A judge answering in order; records the prompts it saw."""
    queue = list(answers)
    seen: list[str] = []

    async def judge(messages, provider):
        seen.append(messages[-1]["content"])
        return queue.pop(0)

    judge.seen = seen  # type: ignore[attr-defined]
    return judge


async def run(assertion, output, judge, **ctx):
    ctx.setdefault("prompt", "What is the capital of France?")
    return await evaluate_assertion(assertion, output, AssertionContext(judge=judge, **ctx))


@pytest.mark.parametrize(("answer", "passed", "score"), [
    ('{"category": "A", "reason": "subset"}', True, 1.0),
    ('{"category": "d", "reason": "they disagree"}', False, 0.0),
    ("(C) same details", True, 1.0),
    ("no idea", False, 0.0),
])
async def test_factuality_reads_the_category(answer, passed, score):
    judge = judge_of(answer)
    r = await run({"type": "factuality", "value": "Paris"}, "Paris it is", judge)
    assert (r.passed, r.score, r.error) == (passed, score, False), r.reason
    assert "Paris it is" in judge.seen[0] and "What is the capital" in judge.seen[0]


async def test_factuality_score_map_and_not_prefix_like_promptfoo():
    judge = judge_of('{"category": "B"}', '{"category": "A"}')
    r = await run({"type": "factuality", "value": "Paris"}, "x", judge,
                  options={"factuality": {"superset": 0}})
    assert not r.passed and r.score == 0.0 and "superset" in r.reason
    r = await run({"type": "not-factuality", "value": "Paris"}, "x", judge)
    assert r.passed  # promptfoo's factuality ignores not-


async def test_closedqa_reads_the_final_letter():
    r = await run({"type": "model-graded-closedqa", "value": "names a city"}, "Paris",
                  judge_of("It names Paris, a city.\nY"))
    assert r.passed and r.score == 1.0
    r = await run({"type": "model-graded-closedqa", "value": "names a city"}, "blue",
                  judge_of("No city.\nN"))
    assert not r.passed and "does not meet" in r.reason
    r = await run({"type": "model-graded-closedqa", "value": "x"}, "y", judge_of("maybe"))
    assert not r.passed and "malformed" in r.reason


async def test_geval_two_calls_and_threshold():
    steps = '{"steps": ["check the city", "check the country"]}'
    judge = judge_of(steps, '{"score": 8, "reason": "mostly right"}')
    r = await run({"type": "g-eval", "value": "correct capital"}, "Paris", judge)
    assert r.passed and r.score == pytest.approx(0.8) and r.reason == "mostly right"
    assert "check the city" in judge.seen[1]
    judge = judge_of(steps, '{"score": 6, "reason": "meh"}')
    assert not (await run({"type": "g-eval", "value": "c"}, "Paris", judge)).passed
    judge = judge_of(steps, '{"score": 6, "reason": "meh"}')
    r = await run({"type": "not-g-eval", "value": "c"}, "Paris", judge)
    assert r.passed and r.score == pytest.approx(0.4)
    judge = judge_of("no json here")
    r = await run({"type": "not-g-eval", "value": "c"}, "Paris", judge)
    assert not r.passed  # a grader failure is never flipped


async def test_geval_list_averages_criteria():
    steps = '{"steps": ["s"]}'
    judge = judge_of(steps, '{"score": 10, "reason": "a"}', steps, '{"score": 4, "reason": "b"}')
    r = await run({"type": "g-eval", "value": ["one", "two"]}, "out", judge)
    assert r.passed and r.score == pytest.approx(0.7) and r.reason == "a\n\nb"


async def test_answer_relevance_compares_generated_questions_with_the_query():
    async def embed(texts):
        return [[1.0, 0.0] if "capital" in t else [0.0, 1.0] for t in texts]

    judge = judge_of("What is the capital of France?", "Which capital?", "Weather today?")
    r = await run({"type": "answer-relevance"}, "Paris is the capital.", judge, embed=embed,
                  vars={"query": "the capital of France"})
    assert r.passed and r.score == pytest.approx(2 / 3)
    judge = judge_of("What is the capital of France?", "Which capital?", "Weather today?")
    r = await run({"type": "answer-relevance", "threshold": 0.9}, "Paris", judge, embed=embed,
                  vars={"query": "the capital of France"})
    assert not r.passed


async def test_context_recall_counts_attributed_sentences():
    answer = "1. Paris is the capital. [Attributed]\n2. It has 9 million people. [Not Attributed]"
    r = await run({"type": "context-recall", "value": "Paris is the capital; 9M people"},
                  "x", judge_of(answer), vars={"context": "Paris is the capital of France."})
    assert r.passed and r.score == pytest.approx(0.5)
    r = await run({"type": "context-recall", "value": "v"}, "x", judge_of("nothing marked"),
                  vars={"context": "c"})
    assert not r.passed and "no [Attributed]" in r.reason


async def test_context_relevance_share_of_needed_sentences():
    ctx_text = "Paris is the capital of France. It is on the Seine. Cheese is tasty."
    r = await run({"type": "context-relevance"}, "x",
                  judge_of("Paris is the capital of France."),
                  vars={"query": "capital of France?", "context": ctx_text})
    assert not r.passed and r.score == pytest.approx(1 / 3)
    r = await run({"type": "context-relevance"}, "x", judge_of("Insufficient Information"),
                  vars={"query": "q", "context": ctx_text})
    assert r.score == 0.0
    r = await run({"type": "context-relevance"}, "x", judge_of("Something else entirely."),
                  vars={"query": "q", "context": ctx_text})
    assert not r.passed and "does not quote" in r.reason
    r = await run({"type": "context-relevance"}, "x", judge_of("x"), vars={"context": "c"})
    assert r.error and '"query"' in r.reason


async def test_context_faithfulness_two_stages():
    judge = judge_of("Paris is the capital.\nParis has 50 million people.",
                     "s1 Verdict: Yes\ns2 Verdict: No\n"
                     "Final verdict for each statement in order: Yes. No.")
    r = await run({"type": "context-faithfulness"}, "Paris, 50M people", judge,
                  vars={"query": "q", "context": "Paris is the capital of France."})
    assert r.passed and r.score == pytest.approx(0.5)  # 0.5 ≥ the default 0.5
    assert "Paris has 50 million people." in judge.seen[1]
    judge = judge_of("One.", "Verdict: Yes")
    r = await run({"type": "context-faithfulness"}, "x", judge,
                  vars={"query": "q", "context": "c"})
    assert r.passed and r.score == 1.0


async def test_moderation_flags_and_categories():
    async def moderate(text, provider):
        return {"violence": 0.9} if "fight" in text else {}

    ctx = {"moderate": moderate}
    r = await run({"type": "moderation"}, "let's fight", None, **ctx)
    assert not r.passed and "violence" in r.reason
    r = await run({"type": "moderation", "value": ["hate"]}, "let's fight", None, **ctx)
    assert r.passed and "No relevant" in r.reason
    assert (await run({"type": "moderation"}, "hello", None, **ctx)).passed
    assert (await run({"type": "not-moderation"}, "let's fight", None, **ctx)).passed


async def test_judge_failure_is_an_error_not_a_silent_fail():
    async def broken(messages, provider):
        raise RuntimeError("provider down")

    r = await run({"type": "factuality", "value": "Paris"}, "x", broken)
    assert r.error and "provider down" in r.reason


async def test_custom_rubric_prompt_replaces_ours():
    judge = judge_of('{"category": "C"}')
    r = await run({"type": "factuality", "value": "Paris",
                   "rubricPrompt": "Q={{input}} GOLD={{ideal}} GOT={{completion}}"},
                  "Paris!", judge)
    assert r.passed
    assert judge.seen[0] == "Q=What is the capital of France? GOLD=Paris GOT=Paris!"

