"""promptfoo's results file (``promptfoo eval -o results.json``), both ways.

:func:`to_promptfoo_json` writes the ``OutputFile`` shape promptfoo writes (``evalId``,
``results`` = an ``EvaluateSummaryV3`` with ``version: 3``, ``timestamp``, ``prompts``
with per-column ``metrics``, ``results`` rows and ``stats``; ``config``;
``shareableUrl: null``; ``metadata``) so tools that read promptfoo output keep working.
:func:`from_promptfoo_json` reads such a file (promptfoo's own, or ours) back into
targets, cases and results.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import importlib.metadata
import io
import json
import platform
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from harness.assertions.assert_set import flatten
from harness.assertions.more_types import is_comparison
from harness.evaluation.models import CaseResult, Target, TestCaseSnapshot
from harness.evaluation.providers import UnknownProvider, to_litellm_model, to_litellm_params

from .config import EvalPlan, target_label
from .run import EvalOutcome

RESULTS_VERSION = 3
_NAMESPACE = uuid.UUID("6f0c7a36-56f7-4f4e-9d3c-2b1f0a4c9e11")
_SECRET_KEYS = {"apikey", "secret", "password", "token", "accesstoken", "authtoken",
                "authorization", "clientsecret", "secretkey", "awssecretaccesskey",
                "sessiontoken", "bearer", "privatekey"}
REDACTED = "[REDACTED]"

# promptfoo's ResultFailureReason
FAILURE_NONE, FAILURE_ASSERT, FAILURE_ERROR = 0, 1, 2


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def redact(value: Any) -> Any:
    """A copy with credentials (``apiKey``, ``api_key``, ``Authorization``, ...) masked."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            norm = str(key).lower().replace("_", "").replace("-", "")
            out[key] = REDACTED if norm in _SECRET_KEYS and item else redact(item)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _harness_version() -> str:
    try:
        return importlib.metadata.version("harness")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _empty_usage() -> dict[str, Any]:
    return {"prompt": 0, "completion": 0, "cached": 0, "total": 0, "numRequests": 0,
            "completionDetails": {"reasoning": 0, "acceptedPrediction": 0,
                                  "rejectedPrediction": 0},
            "assertions": {"total": 0, "prompt": 0, "completion": 0, "cached": 0,
                           "numRequests": 0,
                           "completionDetails": {"reasoning": 0, "acceptedPrediction": 0,
                                                 "rejectedPrediction": 0}}}


def _response_usage(r: CaseResult) -> dict[str, int]:
    prompt, completion = r.prompt_tokens or 0, r.completion_tokens or 0
    total = r.total_tokens if r.total_tokens is not None else prompt + completion
    return {"total": total, "prompt": prompt, "completion": completion,
            "cached": total if r.cached else 0, "numRequests": 1}


def _add_usage(into: dict[str, Any], usage: dict[str, int]) -> None:
    for key in ("total", "prompt", "completion", "cached", "numRequests"):
        into[key] = into.get(key, 0) + usage.get(key, 0)


def test_indices(plan: EvalPlan, repeat: int) -> dict[tuple[str, int], int]:
    """promptfoo's ``testIdx`` of each (case id, repeat): per source test, every repeat
    of all its var combinations in turn."""
    groups: OrderedDict[int, list[TestCaseSnapshot]] = OrderedDict()
    for case in plan.cases:
        groups.setdefault(case.metadata["promptfoo"]["test_index"], []).append(case)
    out: dict[tuple[str, int], int] = {}
    for cases in groups.values():
        for r in range(repeat):
            for case in cases:
                out[(case.id, r)] = len(out)
    return out


def _status_fields(r: CaseResult) -> tuple[bool, int, str | None]:
    if r.status == "pass":
        return True, FAILURE_NONE, None
    if r.status == "fail":
        return False, FAILURE_ASSERT, r.reason or "Assertion failed"
    return False, FAILURE_ERROR, r.error or r.reason or "Error"


def _compared(a: Any) -> bool:
    return isinstance(a, dict) and is_comparison(str(a.get("type", "")))


def _grading_result(r: CaseResult, assertions: list[dict]) -> dict[str, Any] | None:
    if r.output is None or r.status == "error":
        return None  # no response, or an assertion could not run: the row is an error
    # select-best / max-score are graded last (harness.promptfoo.compare), as promptfoo
    # appends them: their components come after the others'
    assertions = flatten([a for a in assertions if not _compared(a)]) + \
        [a for a in assertions if _compared(a)]  # an assert-set is followed by its children
    components = []
    for i, comp in enumerate(r.assertions):
        item: dict[str, Any] = {
            "pass": bool(comp.get("passed")), "score": comp.get("score", 0.0),
            "reason": comp.get("reason", ""),
            "assertion": redact(assertions[i]) if i < len(assertions)
            else {"type": comp.get("type")},
        }
        if comp.get("metric"):
            item["namedScores"] = {comp["metric"]: comp.get("score", 0.0)}
        if comp.get("error"):
            item["metadata"] = {"error": True}
        components.append(item)
    return {
        "pass": r.status == "pass", "score": r.score if r.score is not None else 0.0,
        "reason": r.reason, "namedScores": dict(r.named_scores),
        "tokensUsed": {"total": 0, "prompt": 0, "completion": 0, "cached": 0,
                       "numRequests": 0},
        "componentResults": components, "assertion": None,
    }


def _new_metrics() -> dict[str, Any]:
    return {"score": 0.0, "testPassCount": 0, "testFailCount": 0, "testErrorCount": 0,
            "assertPassCount": 0, "assertFailCount": 0, "totalLatencyMs": 0,
            "tokenUsage": _empty_usage(), "namedScores": {}, "namedScoresCount": {},
            "namedScoreWeights": {}, "cost": 0.0}


def to_promptfoo_json(plan: EvalPlan, outcome: EvalOutcome) -> dict[str, Any]:
    """The results file promptfoo writes for ``-o results.json``."""
    index_of_case = test_indices(plan, outcome.repeat)
    cases = {c.id: c for c in plan.cases}
    target_index = {t.target_id: i for i, t in enumerate(plan.targets)}
    metrics = [_new_metrics() for _ in plan.targets]
    stats_usage = _empty_usage()
    counts = {"pass": 0, "fail": 0, "error": 0}
    rows: list[dict[str, Any]] = []

    for r in outcome.results:
        case = cases[r.case_id]
        t = target_index[r.target_id]
        prompt, provider = plan.prompt_of(t), plan.provider_of(t)
        info = case.metadata.get("promptfoo", {})
        test_case = redact(copy.deepcopy(info.get("testCase") or {}))
        test_idx = index_of_case[(r.case_id, r.repeat)]
        success, failure_reason, error = _status_fields(r)
        latency = int(round(r.latency_ms or 0))
        usage = _empty_usage()
        response = None
        if r.output is not None:
            response_usage = _response_usage(r)
            _add_usage(usage, response_usage)
            response = {"output": r.output, "tokenUsage": response_usage,
                        "cached": r.cached}
            if r.cost_usd is not None:
                response["cost"] = r.cost_usd
        rendered = r.rendered_prompt
        raw = rendered if isinstance(rendered, str) else (
            json.dumps(rendered, ensure_ascii=False) if rendered is not None else "")
        row: dict[str, Any] = {
            "id": str(uuid.uuid5(_NAMESPACE, f"{outcome.eval_id}:{r.case_id}:{r.target_id}:"
                                              f"{r.repeat}")),
            "promptIdx": t,
            "testIdx": test_idx,
            "testCase": test_case,
            "promptId": sha256(prompt.label),
            "provider": {"id": provider.id, **({"label": provider.label}
                                               if provider.label else {})},
            "prompt": {"raw": raw, "label": prompt.label,
                       "config": redact({**prompt.config, **(test_case.get("options") or {})})},
            "vars": copy.deepcopy(case.input),
            "response": response,
            "error": error,
            "failureReason": failure_reason,
            "success": success,
            "score": r.score if r.score is not None and r.status != "error" else 0.0,
            "latencyMs": latency,
            "gradingResult": _grading_result(r, test_case.get("assert") or []),
            "namedScores": dict(r.named_scores),
            "metadata": {**redact(case.metadata.get("metadata") or {}),
                         "harness": {"run_id": r.run_id, "case_id": r.case_id,
                                     "target_id": r.target_id, "repeat": r.repeat,
                                     "status": r.status, "model": r.model}},
            "tokenUsage": usage,
        }
        if r.cost_usd is not None:
            row["cost"] = r.cost_usd
        description = case.metadata.get("description")
        if description:
            row["description"] = description
        rows.append(row)

        counts[r.status] += 1
        m = metrics[t]
        m["score"] += row["score"]
        m["testPassCount" if r.status == "pass" else
          "testFailCount" if r.status == "fail" else "testErrorCount"] += 1
        for comp in (row["gradingResult"] or {}).get("componentResults", []):
            m["assertPassCount" if comp["pass"] else "assertFailCount"] += 1
        m["totalLatencyMs"] += latency
        _add_usage(m["tokenUsage"], usage)
        _add_usage(stats_usage, usage)
        m["cost"] += r.cost_usd or 0.0
        for name, value in r.named_scores.items():
            m["namedScores"][name] = m["namedScores"].get(name, 0.0) + value
            m["namedScoresCount"][name] = m["namedScoresCount"].get(name, 0) + 1
            m["namedScoreWeights"][name] = m["namedScoreWeights"].get(name, 0.0) + 1.0

    rows.sort(key=lambda row: (row["testIdx"], row["promptIdx"]))
    prompts = []
    for t in range(len(plan.targets)):
        prompt, provider = plan.prompt_of(t), plan.provider_of(t)
        entry: dict[str, Any] = {"raw": prompt.raw, "label": prompt.label,
                                 "id": sha256(prompt.label), "provider": provider.key,
                                 "metrics": metrics[t]}
        if prompt.config:
            entry["config"] = redact(prompt.config)
        prompts.append(entry)

    return {
        "evalId": outcome.eval_id,
        "results": {
            "version": RESULTS_VERSION,
            "timestamp": _iso(outcome.started_at),
            "prompts": prompts,
            "results": rows,
            "stats": {"successes": counts["pass"], "failures": counts["fail"],
                      "errors": counts["error"], "tokenUsage": stats_usage,
                      "durationMs": int(round(outcome.duration_ms))},
        },
        "config": redact(copy.deepcopy(plan.raw_config)),
        "shareableUrl": None,
        "metadata": {
            "harnessVersion": _harness_version(),
            "platform": platform.system().lower(),
            "arch": platform.machine(),
            "exportedAt": _iso(datetime.now(UTC)),
            "evaluationCreatedAt": _iso(outcome.started_at),
        },
    }


def to_promptfoo_csv(plan: EvalPlan, outcome: EvalOutcome) -> str:
    """promptfoo's CSV export: one row per test; a column per variable, then one per
    prompt column headed ``[provider] prompt label``."""
    index_of_case = test_indices(plan, outcome.repeat)
    cases = {c.id: c for c in plan.cases}
    target_index = {t.target_id: i for i, t in enumerate(plan.targets)}
    var_names: list[str] = []
    for case in plan.cases:
        for name in case.input:
            if name not in var_names:
                var_names.append(name)
    by_row: dict[int, dict[int, CaseResult]] = {}
    row_case: dict[int, TestCaseSnapshot] = {}
    for r in outcome.results:
        idx = index_of_case[(r.case_id, r.repeat)]
        by_row.setdefault(idx, {})[target_index[r.target_id]] = r
        row_case[idx] = cases[r.case_id]

    def cell(r: CaseResult | None) -> str:
        if r is None:
            return ""
        score = f"({(r.score or 0.0):.2f})"
        if r.status == "pass":
            return f"[PASS] {score} {r.output or ''}".rstrip()
        if r.status == "fail":
            return f"[FAIL] {score} {r.output or ''}\n\nFail Reason: {r.reason}".strip()
        return f"[ERROR] {r.error or r.reason}"

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*var_names, *(f"[{plan.provider_of(t).key}] {plan.prompt_of(t).label}"
                                   for t in range(len(plan.targets)))])
    for idx in sorted(by_row):
        case = row_case[idx]
        values = [case.input.get(n, "") for n in var_names]
        writer.writerow([*(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                           for v in values),
                         *(cell(by_row[idx].get(t)) for t in range(len(plan.targets)))])
    return buf.getvalue()


# ------------------------------------------------------------------------- reading
def _summary(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    if not isinstance(data, dict):
        raise ValueError("not a promptfoo results file: expected a JSON object")
    inner = data.get("results")
    if isinstance(inner, dict) and isinstance(inner.get("results"), list):
        return inner, data.get("config") or {}, data.get("evalId")
    if isinstance(inner, list):  # a bare EvaluateSummary
        return data, {}, data.get("evalId")
    raise ValueError("not a promptfoo results file: no 'results.results' list")


def _maybe_messages(raw: Any) -> str | list[dict[str, Any]]:
    if isinstance(raw, list):
        return raw
    if not isinstance(raw, str):
        return json.dumps(raw, ensure_ascii=False)
    text = raw.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            return raw
        if parsed and all(isinstance(m, dict) and "role" in m and "content" in m
                          for m in parsed):
            return parsed
    return raw


def _config_providers(config: dict[str, Any]) -> list[dict[str, Any]]:
    raw = config.get("providers", config.get("targets"))
    items = [raw] if isinstance(raw, str | dict) else (raw or [])
    out = []
    for item in items:
        if isinstance(item, str):
            out.append({"id": item})
        elif isinstance(item, dict) and "id" in item:
            out.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            (pid, opts), = item.items()
            out.append({"id": pid, **(opts or {})})
    return out


def _status_of(row: dict[str, Any]) -> str:
    reason = row.get("failureReason")
    if reason == FAILURE_ERROR:
        return "error"
    if row.get("success"):
        return "pass"
    if reason == FAILURE_ASSERT or (reason is None and row.get("gradingResult")):
        return "fail"
    return "error"


def from_promptfoo_json(
    data: dict[str, Any],
) -> tuple[list[Target], list[TestCaseSnapshot], list[CaseResult]]:
    """Targets (one per promptfoo prompt column), cases (one per test row; our own files
    keep their case ids and repeats) and results from a promptfoo results file."""
    summary, config, eval_id = _summary(data)
    rows = [r for r in summary["results"] if isinstance(r, dict)]
    prompts = summary.get("prompts")
    if prompts is None:
        prompts = ((summary.get("table") or {}).get("head") or {}).get("prompts") or []
    run_id = eval_id or "promptfoo"
    configured = _config_providers(config)

    n_targets = max([len(prompts), *(int(r.get("promptIdx", 0)) + 1 for r in rows)] or [0])
    targets: list[Target] = []
    for i in range(n_targets):
        prompt = prompts[i] if i < len(prompts) and isinstance(prompts[i], dict) else {}
        first = next((r for r in rows if r.get("promptIdx") == i), {})
        provider = first.get("provider") or {}
        if isinstance(provider, str):
            provider = {"id": provider}
        pid = provider.get("id") or prompt.get("provider") or "unknown"
        plabel = provider.get("label") or prompt.get("provider") or pid
        try:
            model = to_litellm_model(pid)
        except UnknownProvider:
            model = pid
        match = next((p for p in configured if p.get("id") == pid
                      and p.get("label") in (None, provider.get("label"))), None)
        params = to_litellm_params(pid, match.get("config"))[0] if match and \
            isinstance(match.get("config"), dict) else {}
        params = {k: v for k, v in params.items() if v != REDACTED}
        label = prompt.get("label") or (first.get("prompt") or {}).get("label") or f"prompt {i}"
        raw = prompt.get("raw", (first.get("prompt") or {}).get("raw", ""))
        targets.append(Target(target_id=f"t{i}", label=target_label(label, plabel),
                              prompt_name=label, content=_maybe_messages(raw), model=model,
                              params=params))

    cases: dict[str, TestCaseSnapshot] = {}
    results: list[CaseResult] = []
    for row in sorted(rows, key=lambda r: (r.get("testIdx", 0), r.get("promptIdx", 0))):
        meta = (row.get("metadata") or {}).get("harness") or {}
        test_idx = int(row.get("testIdx", 0))
        case_id = meta.get("case_id") or f"case-{test_idx + 1:04d}"
        repeat = int(meta.get("repeat", 0))
        test_case = row.get("testCase") or {}
        if case_id not in cases:
            metadata = {k: v for k, v in (row.get("metadata") or {}).items() if k != "harness"}
            cases[case_id] = TestCaseSnapshot(
                id=case_id,
                input=dict(row.get("vars") or test_case.get("vars") or {}),
                assert_=list(test_case.get("assert") or []),
                threshold=test_case.get("threshold"),
                metadata={
                    "description": test_case.get("description") or row.get("description"),
                    "options": test_case.get("options") or {},
                    "metadata": test_case.get("metadata") or metadata,
                    "promptfoo": {"testIdx": test_idx, "testCase": test_case},
                },
            )
        t = int(row.get("promptIdx", 0))
        status = _status_of(row)
        grading = row.get("gradingResult") or None
        response = row.get("response") or None
        output = None
        usage: dict[str, Any] = {}
        cached = False
        if isinstance(response, dict) and response.get("output") is not None:
            out = response["output"]
            output = out if isinstance(out, str) else json.dumps(out, ensure_ascii=False)
            usage = response.get("tokenUsage") or {}
            cached = bool(response.get("cached"))
        if not usage:
            usage = row.get("tokenUsage") or {}
        assertions = []
        for comp in (grading or {}).get("componentResults") or []:
            assertion = comp.get("assertion") or {}
            assertions.append({
                "type": assertion.get("type", "unknown"), "passed": bool(comp.get("pass")),
                "score": float(comp.get("score") or 0.0), "reason": comp.get("reason", ""),
                "weight": float(assertion.get("weight", 1.0) if assertion.get("weight")
                                is not None else 1.0),
                "metric": assertion.get("metric"),
                "error": bool((comp.get("metadata") or {}).get("error")),
            })
        prompt_raw = (row.get("prompt") or {}).get("raw")
        cost = row.get("cost", (response or {}).get("cost") if response else None)
        results.append(CaseResult(
            run_id=meta.get("run_id") or run_id, case_id=case_id,
            target_id=f"t{t}", repeat=repeat, status=status,
            score=float(row.get("score") or 0.0),
            reason=(grading or {}).get("reason") or row.get("error") or "",
            output=output,
            rendered_prompt=_maybe_messages(prompt_raw) if prompt_raw else None,
            assertions=assertions,
            named_scores=dict(row.get("namedScores") or {}),
            latency_ms=float(row["latencyMs"]) if row.get("latencyMs") is not None else None,
            prompt_tokens=usage.get("prompt"), completion_tokens=usage.get("completion"),
            total_tokens=usage.get("total"),
            cost_usd=float(cost) if cost is not None else None,
            model=meta.get("model") or (targets[t].model if t < len(targets) else None),
            cached=cached,
            error=(row.get("error") or (grading or {}).get("reason")) if status == "error"
            else None,
        ))
    return targets, list(cases.values()), results
