"""harness.metrics: names follow Prometheus conventions, labels are bounded, and the
observers count what they see."""

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from harness import metrics
from harness.llm.models import LLMCall, LLMError, LLMRequest, LLMResponse

ID_LABELS = {"run_id", "case_id", "event_id", "id", "key", "trace_id", "generation_id"}


def families():
    return list(text_string_to_metric_families(metrics.exposition().decode()))


def sample(name: str, **labels) -> float:
    for fam in families():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_every_family_is_named_by_service_with_conventional_suffixes():
    for fam in families():
        assert fam.name.startswith("harness_"), fam.name
        assert fam.name.split("_")[1] in {"registry", "bus", "runner", "scorer", "generator",
                                          "gateway"}, fam.name
        if "duration" in fam.name or "lag" in fam.name:
            assert fam.name.endswith(("_seconds", "_events")), fam.name
        for s in fam.samples:
            assert not ID_LABELS & set(s.labels), (fam.name, s.labels)


def test_llm_calls_count_by_model_and_outcome():
    observe = metrics.LLMCallMetrics()
    req = LLMRequest(model="openai/unit-test", messages=[{"role": "user", "content": "hi"}])
    ok = LLMResponse(output="hi", model="openai/unit-test", prompt_tokens=3,
                     completion_tokens=2, cost_usd=0.5, latency_ms=20)
    before = sample("harness_runner_llm_requests_total", model="openai/unit-test",
                    outcome="ok")
    observe(LLMCall(req, datetime.now(UTC), 20.0, response=ok))
    observe(LLMCall(req, datetime.now(UTC), 5.0,
                    error=LLMError("rate_limit", "slow down", model="openai/unit-test",
                                   attempts=1)))
    assert sample("harness_runner_llm_requests_total", model="openai/unit-test",
                  outcome="ok") == before + 1
    assert sample("harness_runner_llm_errors_total", model="openai/unit-test",
                  kind="rate_limit") >= 1
    assert sample("harness_runner_llm_tokens_total", model="openai/unit-test",
                  type="prompt") >= 3


def test_a_subscription_has_its_bus_series_from_the_start():
    metrics.bus_subscribed("projects/p/subscriptions/harness-unit")
    names = {(s.name, s.labels.get("subscription")) for f in families() for s in f.samples}
    for name in ("harness_bus_redelivered_total", "harness_bus_dead_lettered_total",
                 "harness_bus_delivered_total"):
        assert (name, "harness-unit") in names
