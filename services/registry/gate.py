"""The eval gate's evidence: a completed run of the candidate version on the policy's
verified golden dataset, its pass rate, and a paired comparison with the version the
environment points at now (McNemar on pass/fail, bootstrap interval on scores)."""

from __future__ import annotations

from typing import Any

import asyncpg

from harness.evaluation import analysis
from harness.evaluation.models import CaseResult


async def _latest_run_with(conn: asyncpg.Connection, dataset_id: str, prompt_id: str,
                           version: int, run_id: str | None = None):
    if run_id:
        row = await conn.fetchrow("SELECT * FROM runs WHERE id = $1 AND status = 'completed'",
                                  run_id)
    else:
        row = await conn.fetchrow(
            "SELECT * FROM runs WHERE dataset_id = $1 AND status = 'completed' "
            "AND targets @> $2 ORDER BY requested_at DESC LIMIT 1",
            dataset_id, [{"prompt_id": prompt_id, "prompt_version": version}])
    if row is None:
        return None, None
    target = next((t for t in row["targets"] if t.get("prompt_id") == prompt_id
                   and t.get("prompt_version") == version), None)
    return (row, target["target_id"]) if target else (None, None)


async def _results(conn, run_id: str, target_id: str) -> list[CaseResult]:
    rows = await conn.fetch(
        "SELECT result FROM run_results WHERE run_id = $1 AND target_id = $2", run_id, target_id)
    return [CaseResult.model_validate(r["result"]) for r in rows]


async def gate_evidence(conn: asyncpg.Connection, *, prompt_id: str, version: int,
                        incumbent: int | None, gate: dict[str, Any],
                        run_id: str | None = None) -> dict[str, Any]:
    min_rate = float(gate.get("min_pass_rate", 1.0))
    alpha = float(gate.get("alpha", 0.05))
    out: dict[str, Any] = {"passed": False, "reasons": [], "version": version,
                           "incumbent_version": incumbent, "min_pass_rate": min_rate,
                           "dataset_id": gate.get("dataset_id")}
    ds = await conn.fetchrow("SELECT dataset_type, is_verified, name FROM datasets WHERE id = $1",
                             gate.get("dataset_id"))
    if ds is None:
        out["reasons"].append(f"gate dataset {gate.get('dataset_id')} not found")
        return out
    if ds["dataset_type"] != "golden" or not ds["is_verified"]:
        out["reasons"].append(f"gate dataset {ds['name']!r} must be a verified golden dataset")
        return out
    run, tid = await _latest_run_with(conn, gate["dataset_id"], prompt_id, version, run_id)
    if run is None:
        out["reasons"].append(
            f"no completed run of v{version} on {ds['name']!r}: request one "
            "(POST /prompts/{id}/promotions with run_gate)")
        return out
    candidate = await _results(conn, run["id"], tid)
    summary = analysis.summarize(candidate, case_threshold=run["config"].get("case_threshold",
                                                                             1.0))
    rate = summary.total.case_pass_rate or 0.0
    out.update(run_id=run["id"], target_id=tid, pass_rate=rate)
    reasons: list[str] = []
    if rate < min_rate:
        reasons.append(f"v{version} passed {rate:.1%} of cases on {ds['name']!r}, below "
                       f"{min_rate:.1%}")
    if incumbent is not None and incumbent != version:
        inc_run, inc_tid = await _latest_run_with(conn, gate["dataset_id"], prompt_id, incumbent)
        if inc_run is None:
            reasons.append(f"no completed run of the current v{incumbent} on {ds['name']!r} "
                           "to compare with")
        else:
            before = await _results(conn, inc_run["id"], inc_tid)
            cmp_ = analysis.compare_runs(before, candidate, pair_targets={inc_tid: tid},
                                         alpha=alpha)
            t = cmp_.targets[0] if cmp_.targets else None
            regressed = [c.case_id for c in cmp_.changes if c.change == "regressed"]
            out.update(incumbent_run_id=inc_run["id"], regressed_cases=regressed)
            if t is not None:
                out["mcnemar"] = t.pass_fail.model_dump()
                out["bootstrap"] = t.score.model_dump()
                worse_pf = t.pass_fail.significant and (t.pass_rate_delta or 0) < 0
                worse_score = t.score.significant and (t.score.ci_high or 0) < 0
                if worse_pf or worse_score:
                    cases = await conn.fetch("SELECT id, input FROM test_cases WHERE id = ANY($1)",
                                             regressed)
                    out["regressed"] = [{"case_id": r["id"], "input": r["input"]} for r in cases]
                    reasons.append(
                        f"significant regression against v{incumbent}: "
                        f"{len(regressed)} case(s) regressed ({', '.join(regressed[:10])})"
                        + (f"; McNemar p={t.pass_fail.p_value:.3g}" if worse_pf else "")
                        + (f"; score interval [{t.score.ci_low:.3f}, {t.score.ci_high:.3f}]"
                           if worse_score else ""))
    out["reasons"] = reasons
    out["passed"] = not reasons
    return out
