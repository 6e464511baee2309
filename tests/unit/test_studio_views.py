"""The studio's pure helpers: API answers in, rows/strings/chart data out (no I/O)."""

from __future__ import annotations

import httpx
import pytest

from services.studio.api import (
    Conflict,
    EndpointMissing,
    InvalidInput,
    NotFound,
    ServerError,
    Unauthorized,
    error_from_response,
)
from services.studio.views import (
    analysis,
    badges,
    cases,
    content,
    diffs,
    imports,
    results,
    targets,
    timeline,
    usage,
)

# ---------------------------------------------------------------- errors


def _resp(status: int, body=None, path="/prompts/x", method="GET") -> httpx.Response:
    req = httpx.Request(method, f"http://registry{path}")
    if body is None:
        return httpx.Response(status, request=req)
    return httpx.Response(status, json=body, request=req)


def _problem(status: int, slug: str, detail: str, **extra) -> dict:
    return {"type": f"urn:harness:problem:{slug}", "title": "x", "status": status,
            "detail": detail, **extra}


@pytest.mark.parametrize("status,slug,cls", [
    (404, "not-found", NotFound), (422, "validation-error", InvalidInput),
    (409, "policy-violation", Conflict), (403, "forbidden", Unauthorized),
    (415, "unsupported-file", InvalidInput), (500, "internal", ServerError)])
def test_problem_documents_become_typed_readable_errors(status, slug, cls):
    err = error_from_response(_resp(status, _problem(status, slug, "prompt p1 not found")),
                              "load the prompt")
    assert type(err) is cls
    assert err.message.startswith("Could not load the prompt: prompt p1 not found")
    assert err.kind == slug and err.status == status
    assert "Traceback" not in err.message


def test_a_missing_route_is_told_apart_from_a_missing_thing():
    err = error_from_response(_resp(404, {"detail": "Not Found"}, "/metrics/usage"),
                              "load the gateway's usage metrics")
    assert isinstance(err, EndpointMissing)
    assert "does not offer GET /metrics/usage" in err.message
    # the registry's own problem+json for an unknown route is a missing route too
    err = error_from_response(_resp(404, _problem(404, "not-found", "Not Found")), "x")
    assert isinstance(err, EndpointMissing)
    err = error_from_response(_resp(404, _problem(404, "not-found", "run r1 not found")), "x")
    assert type(err) is NotFound


def test_import_refusal_keeps_row_errors_and_non_json_bodies_still_read():
    body = _problem(422, "import-rejected", "t.csv: 2 problem(s); nothing was imported",
                    errors=[{"row": 3, "field": "__threshold", "message": "not a number"}])
    err = error_from_response(_resp(422, body, method="POST"), "import t.csv")
    assert err.row_errors == [{"row": 3, "field": "__threshold", "message": "not a number"}]
    bare = error_from_response(_resp(502), "start the run")
    assert isinstance(bare, ServerError) and "Bad Gateway" in bare.message
    assert "server error" in bare.message
    assert "API key" in error_from_response(_resp(401), "list").message


# ---------------------------------------------------------------- badges and formats


def test_badges_and_formats():
    assert badges.result_badge("pass") == "✅ Pass"
    assert badges.result_badge("error") == "⚠️ Error"
    assert badges.result_badge(None) == "—"
    assert badges.run_badge("running") == "🔄 running"
    ds = {"dataset_type": "golden", "is_verified": True, "verified_by": "ana",
          "synthetic": True}
    assert badges.dataset_badges(ds) == "🏅 golden · ✔ verified by ana · 🤖 synthetic"
    assert badges.dataset_badges({"dataset_type": "evaluation"}) == \
        "🧪 evaluation · ○ not verified"
    assert badges.pct(0.8333, 1) == "83.3%" and badges.pct(None) == "—"
    assert badges.ms(850) == "850 ms" and badges.ms(1500) == "1.50 s"
    assert badges.usd(None) == "unknown"  # never $0 for an unknown price
    assert badges.usd(0.0012) == "$0.0012" and badges.usd(12.5) == "$12.50"
    assert badges.usd(0.00009) == "$0.00009" and badges.usd(0.0) == "$0.00"
    assert badges.usd(0.5, unknown=2) == "$0.5000 (+2 unknown)"
    assert badges.signed_pct(0.1) == "▲ +10.0 pts" and badges.signed_pct(-0.25).startswith("▼")
    assert badges.short("a\n b  c", 10) == "a b c"
    assert badges.short("x" * 20, 10) == "x" * 9 + "…"


# ---------------------------------------------------------------- diffs, content, timeline


V1 = {"version": 1, "content": "Hello {{ name }}\nkeep", "variables": ["name"]}
V2 = {"version": 2, "content": "Hi {{ name }}, {{ tone }}\nkeep", "variables": ["name", "tone"]}


def test_diff_of_two_versions_with_stats_and_summary():
    diff = diffs.unified(V1, V2)
    assert diff.splitlines() == ["--- v1", "+++ v2", "@@ -1,2 +1,2 @@", "-Hello {{ name }}",
                                 "+Hi {{ name }}, {{ tone }}", " keep"]
    assert diffs.diff_stats(diff) == diffs.DiffStats(1, 1)
    assert diffs.describe_diff(V1, V2, diff) == "v1 → v2: +1 −1 lines; variables added: tone"
    assert diffs.describe_diff(V2, V1, diffs.unified(V2, V1)).endswith(
        "variables removed: tone")
    # single-line contents without a final newline still diff line by line
    one = diffs.unified({"version": 1, "content": "a."}, {"version": 2, "content": "b."})
    assert one.splitlines()[-2:] == ["-a.", "+b."]
    chat = [{"role": "system", "content": "x"}]
    same = diffs.unified({"version": 3, "content": chat}, {"version": 4, "content": chat})
    assert same == "" and diffs.describe_diff({"version": 3}, {"version": 4}, same) == \
        "v3 → v4: identical content"


def test_version_config_is_shown_diffed_and_edited_as_json():
    config = {"temperature": 0, "model": "gpt-4o-mini"}
    text = diffs.config_text(config)
    assert text.splitlines()[1] == '  "model": "gpt-4o-mini",'  # sorted keys
    assert diffs.config_from_editor(text) == config
    assert diffs.config_text({}) == "" and diffs.config_from_editor("  ") == {}
    with pytest.raises(ValueError, match="not JSON"):
        diffs.config_from_editor('{"model": ')
    with pytest.raises(ValueError, match="JSON object"):
        diffs.config_from_editor('["model"]')
    old = {"version": 1, "config": config}
    new = {"version": 2, "config": {**config, "temperature": 0.5}}
    assert diffs.config_unified(old, new).splitlines()[-3:] == [
        '-  "temperature": 0', '+  "temperature": 0.5', ' }']
    assert diffs.config_unified(old, {"version": 3, "config": config}) == ""
    assert diffs.config_unified({"version": 1}, new).startswith("--- v1 config")


def test_content_editor_round_trip_and_refusals():
    chat = [{"role": "system", "content": "You help with {{ product }}."},
            {"role": "user", "content": "{{question}}"}]
    assert content.message_rows(chat) == chat
    assert content.content_from_editor("chat", "", content.message_rows(chat)) == chat
    assert content.content_from_editor("chat", "", [*chat, {"role": None, "content": None}]) \
        == chat  # the editor's blank trailing row is ignored
    assert content.variables_in(chat) == ["product", "question"]
    assert content.content_from_editor("text", "Hi {{ a }}", []) == "Hi {{ a }}"
    with pytest.raises(ValueError, match="empty"):
        content.content_from_editor("text", "  ", [])
    with pytest.raises(ValueError, match="Message 1: role must be one of"):
        content.content_from_editor("chat", "", [{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="Message 2 \\(user\\) has no text"):
        content.content_from_editor("chat", "", [chat[0], {"role": "user", "content": " "}])
    assert content.as_text(chat).startswith("[system]\nYou help")
    assert content.parse_value('["a", "b"]') == ["a", "b"]
    assert content.parse_value("[not json") == "[not json"
    assert content.parse_value(" plain ") == " plain "


def test_timeline_is_newest_first_and_names_rollbacks():
    entries = [
        {"type": "PromptCreated", "at": "t1", "actor": "ana", "data": {"name": "p"}},
        {"type": "PromptVersionCreated", "at": "t2", "actor": "ana", "version": 2,
         "data": {"derived_from": 1}, "note": "shorter"},
        {"type": "PromptVersionActivated", "at": "t3", "actor": "bob", "version": 2,
         "previous_version": 1, "note": "approved", "data": {}},
        {"type": "PromptVersionActivated", "at": "t4", "actor": None, "version": 1,
         "previous_version": 2, "note": "bad answers", "data": {}},
        {"type": "PromptEnvironmentMoved", "at": "t5", "actor": "cy", "version": 2,
         "data": {"environment": "staging"}},
        {"type": "PromotionProposed", "at": "t6", "actor": "cy", "version": 2,
         "data": {"environment": "production"}},
    ]
    rows = timeline.timeline_rows(entries)
    assert [r["what"] for r in rows] == [
        "promotion of v2 proposed (production)", "pointed staging at v2",
        "rolled back to v1 (from v2)", "activated v2 (was v1)",
        "saved v2 (edited from v1)", "created the prompt 'p'"]
    assert rows[2]["note"] == "bad answers" and rows[2]["who"] == "—"


# ---------------------------------------------------------------- cases editor


CASES = [
    {"id": "c1", "input": {"q": "hi", "tags": ["a"]}, "expected_output": "hello",
     "metadata": {"description": "greeting", "source": "import"},
     "assert": [{"type": "icontains", "value": "hello"}]},
    {"id": "c2", "input": {"q": "bye", "extra": 1}, "expected_output": None, "metadata": {},
     "assert": []},
]


def test_case_rows_have_a_column_per_variable_and_untouched_rows_make_no_edits():
    variables = cases.variable_columns(CASES)
    assert variables == ["q", "tags", "extra"]
    rows = cases.case_rows(CASES, variables)
    assert rows[0] == {"id": "c1", "q": "hi", "tags": '["a"]', "extra": "", "expected_output":
                       "hello", "description": "greeting", "assertions": "icontains 'hello'"}
    assert cases.edits_from_rows(CASES, rows, variables).empty


def test_edits_from_rows_finds_changes_additions_and_removals():
    variables = ["q", "tags"]  # "extra" not shown: it must be kept as it is
    rows = cases.case_rows(CASES, variables)
    rows[0]["q"] = "hi there"
    rows[0]["description"] = ""
    rows.pop(1)  # c2 deleted in the editor
    rows.append({"id": None, "q": "new", "tags": '["x", "y"]', "expected_output": "",
                 "description": "added"})
    rows.append({"id": None, "q": "", "tags": None, "expected_output": float("nan"),
                 "description": ""})  # blank row left by the editor
    edits = cases.edits_from_rows(CASES, rows, variables)
    assert edits.updates == [("c1", {"input": {"q": "hi there", "tags": ["a"]},
                                     "metadata": {"source": "import"}})]
    assert edits.additions == [{"input": {"q": "new", "tags": ["x", "y"]},
                                "expected_output": None, "metadata": {"description": "added"}}]
    assert edits.removals == ["c2"]
    assert edits.summary() == "1 new, 1 changed, 1 removed"


def test_an_untouched_json_looking_string_stays_a_string():
    stored = [{"id": "c", "input": {"q": "[1, 2]"}, "expected_output": None, "metadata": {}}]
    rows = cases.case_rows(stored, ["q"])
    assert cases.edits_from_rows(stored, rows, ["q"]).empty


# ---------------------------------------------------------------- import preview


def test_csv_preview_names_what_each_column_becomes():
    data = (b"question,__expected,expected_output,__description,__bogus\n"
            b"hi,contains: hello,hello,greet,x\nbye,,,,\n")
    p = imports.preview_upload("cases.csv", data, limit=1)
    assert p.problem is None and p.format == "csv" and p.total_rows == 2
    assert dict(p.columns) == {"question": "variable", "__expected": "assertion",
                               "expected_output": "expected output",
                               "__description": "description", "__bogus": "unknown (refused)"}
    assert p.rows == [{"question": "hi", "__expected": "contains: hello",
                       "expected_output": "hello", "__description": "greet", "__bogus": "x"}]


def test_json_and_jsonl_previews_and_unreadable_files():
    j = imports.preview_upload("c.json", b'{"cases": [{"input": {"q": "a"}, "assert": []}]}')
    assert j.total_rows == 1 and j.rows == [{"input": '{"q": "a"}', "assert": "[]"}]
    jl = imports.preview_upload("c.jsonl", b'{"q": "a"}\n\n{"q": "b"}\n')
    assert jl.total_rows == 2 and [c for c, _ in jl.columns] == ["q"]
    assert "not valid JSONL" in imports.preview_upload("c.jsonl", b"{oops").problem
    assert "use a .csv" in imports.preview_upload("c.xlsx", b"x").problem
    assert "not UTF-8" in imports.preview_upload("c.csv", b"\xff\xfe\x00").problem
    assert "no header" in imports.preview_upload("c.csv", b"").problem
    problem = {"errors": [{"row": 2, "field": None, "message": "bad"}]}
    assert imports.error_rows(problem) == [{"row": 2, "field": "—", "reason": "bad"}]


# ---------------------------------------------------------------- results and analysis


RUN = {"targets": [{"target_id": "t0", "label": "p v1 · echo"},
                   {"target_id": "t1", "label": "p v2 · echo"}]}
RESULT = {"case_id": "c1", "target_id": "t1", "repeat": 1, "status": "fail", "score": 0.5,
          "latency_ms": 12.0, "total_tokens": 30, "cost_usd": None, "output": "out",
          "reason": "Expected output to contain 'x'",
          "assertions": [{"type": "contains", "passed": False, "score": 0, "reason": "no x",
                          "weight": 1},
                         {"type": "is-json", "passed": False, "score": 0, "error": True,
                          "reason": "bad schema", "weight": 1}]}


def test_result_rows_and_assertions():
    labels = results.target_labels(RUN)
    [row] = results.result_rows([RESULT], labels)
    assert row["result"] == "❌ Fail" and row["target"] == "p v2 · echo"
    assert row["cost"] == "unknown" and row["latency"] == "12 ms"
    assert [a["result"] for a in results.assertion_rows(RESULT)] == ["❌ Fail", "⚠️ Error"]
    assert results.result_key(RESULT, labels) == "❌ Fail · c1 · p v2 · echo · repeat 1"
    summary = {"targets": [{"target_id": "t0", "label": "p v1 · echo", "case_pass_rate": 0.5,
                            "pass_rate": 0.5, "passed": 1, "failed": 1, "errors": 0,
                            "latency_p95_ms": 10, "total_tokens": 9, "cost_usd": None,
                            "cost_unknown": 2, "flaky_cases": ["c3"],
                            "metrics": {"faithfulness": {"count": 2, "mean": 0.83333},
                                        "bleu": {"count": 0, "mean": None}}}]}
    [s] = results.target_summary_rows(summary)
    assert s["faithfulness (mean)"] == 0.833 and s["bleu (mean)"] is None
    assert s["cases passing"] == "50.0%" and s["cost"] == "unknown" and s["flaky cases"] == 1
    assert results.target_summary_rows(None) == []


PIVOT = {"prompts": ["p v1", "p v2"], "models": ["echo", "gpt"],
         "cells": [{"prompt": "p v1", "model": "echo", "case_pass_rate": 0.5,
                    "mean_score": 0.5, "cost_usd": 0.01, "latency_p95_ms": 5, "results": 2},
                   {"prompt": "p v2", "model": "echo", "case_pass_rate": 1.0,
                    "mean_score": 0.9, "cost_usd": None, "cost_unknown": 2, "results": 2},
                   {"prompt": "p v2", "model": "gpt", "case_pass_rate": 1.0,
                    "mean_score": 0.9, "cost_usd": 0.5, "results": 2}]}


def test_pivot_grid_is_versions_by_models():
    grid = analysis.pivot_grid(PIVOT, "case_pass_rate")
    assert grid == [{"prompt version": "p v1", "echo": "50.0%", "gpt": "—"},
                    {"prompt version": "p v2", "echo": "100.0%", "gpt": "100.0%"}]
    assert analysis.pivot_grid(PIVOT, "cost_usd")[1]["echo"] == "unknown"
    assert len(analysis.pivot_long(PIVOT)) == 3
    best = analysis.best_cell(PIVOT)  # ties on pass rate and score: the cheaper wins
    assert (best["prompt"], best["model"]) == ("p v2", "echo")
    assert analysis.best_cell({"cells": []}) is None


def test_comparison_and_change_rows():
    comparison = {
        "targets": [{"target_key": "t0", "before": {"case_pass_rate": 1.0},
                     "after": {"case_pass_rate": 0.5, "label": "p v2 · echo"},
                     "case_pass_rate_delta": -0.5, "mean_score_delta": -0.25,
                     "pass_fail": {"p_value": 0.03, "significant": True}, "score": {}}],
        "changes": [{"case_id": "c2", "target_key": "t0", "change": "fixed", "before": "fail",
                     "after": "pass"},
                    {"case_id": "c9", "target_key": "t0", "change": "regressed",
                     "before": "pass", "after": "fail", "after_output": "oops"},
                    {"case_id": "c1", "target_key": "t0", "change": "unchanged"}]}
    [t] = analysis.comparison_rows(comparison)
    assert t["change"] == "▼ -50.0 pts" and t["significant"] == "yes"
    assert t["pass/fail p-value"] == "0.03" and t["score change"] == "-0.250"
    assert t["metric changes"] == "—"
    scored = {"metric_mean_deltas": {"bleu": 0.01, "faithfulness": -0.5, "rouge": None},
              "metric_significance": {"faithfulness": {"significant": True},
                                      "bleu": {"significant": False}}}
    assert analysis.metric_changes(scored) == "bleu +0.010, faithfulness -0.500*"
    rows = analysis.change_rows(comparison, ["regressed", "fixed"])
    assert [(r["change"], r["case"]) for r in rows] == [("🔻 regressed", "c9"),
                                                       ("🔺 fixed", "c2")]
    assert rows[0]["after"] == "❌ Fail" and rows[0]["after output"] == "oops"


def test_trend_rows_skip_excluded_and_empty_points():
    points = [{"run_id": "r1", "at": "2026-01-01T00:00:00Z", "prompt_version": 1,
               "model": "echo", "case_pass_rate": 0.5, "pass_rate": 0.5, "results": 4},
              {"run_id": "r2", "at": "2026-01-02T00:00:00Z", "prompt_version": 2,
               "model": "echo", "case_pass_rate": 1.0, "results": 4},
              {"run_id": "r3", "at": "2026-01-03T00:00:00Z", "prompt_version": 2,
               "model": "echo", "results": 0}]
    rows = analysis.trend_rows(points, exclude_runs={"r1"})
    assert [(r["run"], r["series"], r["cases passing"]) for r in rows] == \
        [("r2", "v2 · echo", 1.0)]


# ---------------------------------------------------------------- usage


ITEMS = [{"bucket": "2026-01-01T10:00:00+00:00", "model": "gpt", "requests": 10, "errors": 1,
          "error_rate": 0.1, "latency_ms": {"p50": 100.0, "p95": 300.0, "p99": None},
          "prompt_tokens": 50, "completion_tokens": 20, "cost_usd": 0.5,
          "calls_with_unknown_cost": 0},
         {"bucket": "2026-01-01T11:00:00+00:00", "model": None, "requests": 2, "errors": 0,
          "error_rate": 0.0, "latency_ms": {"p50": 10.0, "p95": 20.0, "p99": 30.0},
          "prompt_tokens": 5, "completion_tokens": 5, "cost_usd": None,
          "calls_with_unknown_cost": 2}]


def test_usage_shapes_and_totals():
    lat = usage.latency_rows(ITEMS, "model")
    assert len(lat) == 5  # the missing p99 is left out, not drawn as 0
    assert {r["group"] for r in lat} == {"gpt", "(none)"}
    series = usage.series_rows(ITEMS, "model")
    assert series[0]["error rate"] == 0.1 and series[1]["cost"] is None
    t = usage.totals(ITEMS)
    assert t == {"requests": 12, "errors": 1, "error_rate": 1 / 12, "tokens": 80,
                 "cost_usd": 0.5, "cost_unknown": 2}
    assert usage.totals([])["cost_usd"] is None


def test_alert_and_firing_rows():
    alerts = [{"id": "a1", "name": None, "scope": "total", "target": None, "period": "day",
               "threshold_usd": 5.0, "spent_usd": 6.25, "fired": True, "webhook_url": None},
              {"id": "a2", "name": "bot budget", "scope": "app", "target": "bot",
               "period": "month", "threshold_usd": 100.0, "spent_usd": 0.0, "fired": False,
               "webhook_url": "https://hooks.example/x"}]
    rows = usage.alert_rows(alerts)
    assert rows[0]["alert"] == "total all calls" and rows[0]["status"] == "🔔 fired"
    assert rows[0]["spent this period"] == "$6.25" and rows[0]["notifies"] == "event only"
    assert rows[1]["alert"] == "bot budget" and rows[1]["period"] == "per month"
    firings = [{"alert_id": "a1", "name": None, "scope": "total", "target": None,
                "period_start": "2026-01-01", "fired_at": "2026-01-01T10:00:00",
                "spent_usd": 6.25, "threshold_usd": 5.0, "delivered": False,
                "last_error": "HTTP 500"},
               {"alert_id": "a1", "fired_at": "2026-01-02T10:00:00", "scope": "total",
                "spent_usd": 7.0, "delivered": True}]
    f = usage.firing_rows(firings)
    assert [r["delivered"] for r in f] == ["yes", "no (HTTP 500)"]


# ---------------------------------------------------------------- run form


def test_run_targets_and_body():
    prompt = {"id": "p", "name": "reply"}
    opts = targets.version_options(prompt, [
        {"version": 1, "is_active": True, "change_note": "initial version"},
        {"version": 2, "is_active": False, "change_note": ""}])
    assert list(opts) == ["reply v2", "reply v1 (active) — initial version"]
    assert opts["reply v2"] == {"prompt_id": "p", "version": 2}
    apps = targets.application_options([{"id": "a", "name": "bot", "model_id": "echo"}])
    assert apps == {"app bot (echo)": {"application_id": "a"}}
    assert targets.parse_models(" echo, gpt ,\necho,, ") == ["echo", "gpt"]
    body = targets.run_body("d", [opts["reply v2"]], ["echo"], repeat=2, min_pass_rate=0.9)
    assert body == {"dataset_id": "d", "targets": [{"prompt_id": "p", "version": 2}],
                    "models": ["echo"], "repeat": 2, "description": "", "min_pass_rate": 0.9}
    with pytest.raises(ValueError, match="dataset"):
        targets.run_body("", [opts["reply v2"]], ["echo"])
    with pytest.raises(ValueError, match="at least one prompt version"):
        targets.run_body("d", [], ["echo"])
    # no models: each version runs on its config's model (the registry refuses one without)
    assert targets.run_body("d", [opts["reply v2"]], [])["models"] == []
    assert targets.run_body("d", [{"application_id": "a"}], [])["models"] == []


# ---------------------------------------------------------------- review of generated cases


def test_review_rows_and_decisions():
    from services.studio.views import review

    generated = [
        {"id": "g1", "input": {"question": "Q1?", "contexts": ["long passage"]},
         "expected_output": "A1", "metadata": {"question_kind": "simple", "sources": [
             {"document": "shipping.txt", "passage": 0},
             {"document": "shipping.txt", "passage": 1}]}},
        {"id": "g2", "input": {"topic": "x"}, "expected_output": None, "metadata": {}},
        {"id": "g3", "input": {"question": "Q3?"}, "expected_output": "A3", "metadata": {}}]
    rows = review.review_rows(generated)
    assert rows[0] == {"id": "g1", "question": "Q1?", "expected_output": "A1",
                       "kind": "simple", "source": "shipping.txt", "decision": "",
                       "note": ""}
    assert rows[1]["question"] == '{"topic": "x"}'
    rows[0].update(decision="accept", expected_output="A1, fixed")
    rows[1].update(decision="reject", note="no question")
    rows[2].update(decision="accept")  # unchanged: no changes sent
    assert review.decisions_from_rows(generated, rows) == [
        {"case_id": "g1", "decision": "accept", "note": "",
         "changes": {"expected_output": "A1, fixed"}},
        {"case_id": "g2", "decision": "reject", "note": "no question"},
        {"case_id": "g3", "decision": "accept", "note": ""}]
    rows[0]["decision"] = ""
    assert [d["case_id"] for d in review.decisions_from_rows(generated, rows)] == ["g2", "g3"]
    g = review.generation_rows([{"requested_at": "2026-01-01T10:00:00.123Z",
                                 "status": "completed", "engine": "direct", "model": None,
                                 "generated": 3, "requested": 4, "failed": 1,
                                 "documents": [{"name": "a.txt"}, {"name": "b.pdf"}]}])
    assert g == [{"requested": "2026-01-01T10:00:00", "status": "✅ completed",
                  "engine": "direct", "model": "—", "generated": "3 of 4", "failed": 1,
                  "documents": "a.txt, b.pdf", "why": ""}]


def test_generations_that_can_be_cancelled_and_why_one_ended():
    from services.studio.views import review

    gens = [{"id": "q", "status": "queued", "generated": 0, "requested": 5,
             "documents": [{"name": "a.txt"}]},
            {"id": "r", "status": "running", "generated": 10, "requested": 50,
             "documents": [{"name": "a.txt"}, {"name": "b.pdf"}]},
            {"id": "c", "status": "cancelled", "generated": 20, "requested": 50,
             "cancelled_by": "ana", "reason": "wrong files", "documents": []},
            {"id": "x", "status": "cancelled", "cancelled_by": None, "reason": None},
            {"id": "f", "status": "failed", "reason": "no usable document: a.txt: empty"},
            {"id": "d", "status": "completed"}]
    assert review.cancellable(gens) == [
        ("q", "Cancel the generation from a.txt (0 of 5 made)"),
        ("r", "Cancel the generation from a.txt, b.pdf (10 of 50 made)")]
    assert [r["why"] for r in review.generation_rows(gens)] == [
        "", "", "cancelled by ana: wrong files", "cancelled by someone",
        "no usable document: a.txt: empty", ""]
    assert [r["status"] for r in review.generation_rows(gens)][2] == "⛔ cancelled"


def test_rejected_rows_say_who_turned_a_case_down_and_why():
    from services.studio.views import review

    rejected = [{"id": "g1", "input": {"question": "Q1?"}, "expected_output": "A1",
                 "metadata": {"question_kind": "reasoning",
                              "sources": [{"document": "faq.csv"}]},
                 "review_status": "rejected", "review_note": "duplicate",
                 "reviewed_by": "ana", "reviewed_at": "2026-01-02T09:30:00.5+00:00"},
                {"id": "g2", "input": {"question": "Q2?"}, "expected_output": None,
                 "metadata": {}, "review_note": "", "reviewed_by": None,
                 "reviewed_at": None}]
    assert review.rejected_rows(rejected) == [
        {"question": "Q1?", "expected_output": "A1", "note": "duplicate", "rejected_by": "ana",
         "rejected_at": "2026-01-02T09:30:00", "kind": "reasoning", "source": "faq.csv"},
        {"question": "Q2?", "expected_output": "", "note": "", "rejected_by": "—",
         "rejected_at": "", "kind": "", "source": ""}]
