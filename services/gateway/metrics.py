"""Usage from the trace table, and in-process Prometheus counters."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime

# a failed call has no answering model: it counts under the model that was asked for
GROUPS = {"app": "application", "model": "coalesce(model_answered, model_requested)",
          "key": "key_name",
          # the prompt version that served (a split's variant): "support-app v4"
          "version": "coalesce(application, prompt_id) || ' v' || prompt_version"}
INTERVALS = ("hour", "day")

_USAGE_SQL = """
SELECT date_trunc('{interval}', created_at) AS bucket, {column} AS grp,
       count(*) AS requests,
       count(*) FILTER (WHERE status >= 400) AS errors,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99,
       coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
       coalesce(sum(completion_tokens), 0) AS completion_tokens,
       sum(cost_usd) AS cost_usd,
       count(*) FILTER (WHERE status < 400 AND cost_usd IS NULL) AS cost_unknown
  FROM gateway_traces
 WHERE created_at >= $1 AND created_at < $2 AND ($3::text IS NULL OR source = $3)
 GROUP BY 1, 2 ORDER BY 1, 2
"""


async def usage(pool, group_by: str, interval: str, since: datetime,
                until: datetime, source: str | None = None) -> list[dict]:
    """Per bucket and group; ``source`` = gateway | runner | ... (None: every call)."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")
    rows = await pool.fetch(_USAGE_SQL.format(interval=interval, column=GROUPS[group_by]),
                            since, until, source)
    out = []
    for r in rows:
        n = r["requests"]
        out.append({
            "bucket": r["bucket"].isoformat(), group_by: r["grp"], "requests": n,
            "errors": r["errors"], "error_rate": (r["errors"] / n) if n else 0.0,
            "latency_ms": {"p50": r["p50"], "p95": r["p95"], "p99": r["p99"]},
            "prompt_tokens": int(r["prompt_tokens"]),
            "completion_tokens": int(r["completion_tokens"]),
            "cost_usd": None if r["cost_usd"] is None else float(r["cost_usd"]),
            "calls_with_unknown_cost": r["cost_unknown"],
        })
    return out


_SCORES_SQL = """
SELECT date_trunc('{interval}', t.created_at) AS bucket, t.prompt_id, t.prompt_version,
       coalesce(t.model_answered, t.model_requested) AS model, s.name, s.source,
       avg(s.value) AS mean, count(*) AS n
  FROM gateway_traces t JOIN trace_scores s ON s.trace_id = t.id
 WHERE t.created_at >= $1 AND t.created_at < $2 AND ($3::text IS NULL OR t.source = $3)
 GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
"""


async def score_series(pool, interval: str, since: datetime, until: datetime,
                       source: str | None = None) -> list[dict]:
    """The mean score of the traces (people's and online evaluators') per bucket, prompt
    version, model, score name and source."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")
    rows = await pool.fetch(_SCORES_SQL.format(interval=interval), since, until, source)
    return [{"bucket": r["bucket"].isoformat(), "prompt_id": r["prompt_id"],
             "prompt_version": r["prompt_version"], "model": r["model"], "name": r["name"],
             "source": r["source"], "mean": float(r["mean"]), "count": r["n"]} for r in rows]


_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def _labels(d: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in d.items()) + "}"


class Prometheus:
    """Counters and a latency histogram kept in memory, rendered as Prometheus text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple, int] = defaultdict(int)
        self.tokens: dict[tuple, int] = defaultdict(int)
        self.cost: dict[tuple, float] = defaultdict(float)
        self.fallbacks: dict[tuple, int] = defaultdict(int)
        self.hist: dict[tuple, list[int]] = {}
        self.hist_sum: dict[tuple, float] = defaultdict(float)

    def observe(self, *, model: str, app: str | None, status: int, latency_s: float,
                prompt_tokens: int | None, completion_tokens: int | None,
                cost_usd: float | None, attempts: int | None) -> None:
        app = app or ""
        with self._lock:
            self.requests[(model, app, str(status))] += 1
            if prompt_tokens:
                self.tokens[(model, app, "prompt")] += prompt_tokens
            if completion_tokens:
                self.tokens[(model, app, "completion")] += completion_tokens
            if cost_usd:
                self.cost[(model, app)] += cost_usd
            if attempts and attempts > 1:
                self.fallbacks[(model, app)] += attempts - 1
            h = self.hist.setdefault((model, app), [0] * (len(_BUCKETS) + 1))
            for i, b in enumerate(_BUCKETS):
                if latency_s <= b:
                    h[i] += 1
            h[-1] += 1
            self.hist_sum[(model, app)] += latency_s

    def render(self, extra: dict[str, float] | None = None) -> str:
        lines: list[str] = []
        with self._lock:
            lines += ["# HELP harness_gateway_requests_total Gateway calls by model, app and "
                      "status.", "# TYPE harness_gateway_requests_total counter"]
            for (m, a, s), v in sorted(self.requests.items()):
                lines.append(f"harness_gateway_requests_total"
                             f"{_labels({'model': m, 'app': a, 'status': s})} {v}")
            lines += ["# HELP harness_gateway_tokens_total Tokens by model, app and direction.",
                      "# TYPE harness_gateway_tokens_total counter"]
            for (m, a, d), v in sorted(self.tokens.items()):
                lines.append(f"harness_gateway_tokens_total"
                             f"{_labels({'model': m, 'app': a, 'type': d})} {v}")
            lines += ["# HELP harness_gateway_cost_usd_total Known cost in USD.",
                      "# TYPE harness_gateway_cost_usd_total counter"]
            for (m, a), v in sorted(self.cost.items()):
                lines.append(f"harness_gateway_cost_usd_total{_labels({'model': m, 'app': a})}"
                             f" {v:.10f}")
            lines += ["# HELP harness_gateway_fallbacks_total Failed attempts before an answer.",
                      "# TYPE harness_gateway_fallbacks_total counter"]
            for (m, a), v in sorted(self.fallbacks.items()):
                lines.append(f"harness_gateway_fallbacks_total"
                             f"{_labels({'model': m, 'app': a})} {v}")
            lines += ["# HELP harness_gateway_latency_seconds Call latency.",
                      "# TYPE harness_gateway_latency_seconds histogram"]
            for (m, a), h in sorted(self.hist.items()):
                base = {"model": m, "app": a}
                for i, b in enumerate(_BUCKETS):
                    lines.append(f"harness_gateway_latency_seconds_bucket"
                                 f"{_labels({**base, 'le': str(b)})} {h[i]}")
                lines.append(f"harness_gateway_latency_seconds_bucket"
                             f"{_labels({**base, 'le': '+Inf'})} {h[-1]}")
                lines.append(f"harness_gateway_latency_seconds_sum{_labels(base)} "
                             f"{self.hist_sum[(m, a)]:.6f}")
                lines.append(f"harness_gateway_latency_seconds_count{_labels(base)} {h[-1]}")
        for name, value in (extra or {}).items():
            lines += [f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"
