"""The studio's client of the registry (and gateway) REST APIs.

The studio talks to the platform only through HTTP: nothing here imports the registry.
Every failure becomes an :class:`ApiError` subclass whose ``message`` is a sentence a
person can act on (what failed, where, and the registry's own explanation), built from
the RFC 9457 problem document the registry answers with.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

PAGE_MAX = 500  # the registry's largest page


class ApiError(Exception):
    """Base class: ``message`` is readable; ``status``/``problem`` keep the raw answer."""

    def __init__(self, message: str, *, status: int | None = None,
                 problem: dict[str, Any] | None = None, action: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.problem = problem or {}
        self.action = action

    @property
    def kind(self) -> str:
        """The problem's stable slug (``not-found``, ``validation-error``, ...)."""
        return str(self.problem.get("type", "")).rsplit(":", 1)[-1]

    @property
    def row_errors(self) -> list[dict[str, Any]]:
        """Per-row/per-field errors of an import or a validation error."""
        return list(self.problem.get("errors") or [])


class Unreachable(ApiError):
    """No answer: the server is down, the URL is wrong, or it timed out."""


class Unauthorized(ApiError):
    """401/403: no key, a wrong key, or a role that may not do this."""


class NotFound(ApiError):
    """404 for a thing (prompt, run, ...) that does not exist."""


class EndpointMissing(ApiError):
    """404 for the route itself: this server does not offer the feature (yet)."""


class InvalidInput(ApiError):
    """400/415/422: the request was refused; ``row_errors`` say where."""


class Conflict(ApiError):
    """409: someone changed it meanwhile, or a policy refuses the change."""


class ServerError(ApiError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[ApiError]] = {400: InvalidInput, 401: Unauthorized,
                                         403: Unauthorized, 404: NotFound, 409: Conflict,
                                         412: Conflict, 413: InvalidInput, 415: InvalidInput,
                                         422: InvalidInput}


def error_from_response(resp: httpx.Response, action: str) -> ApiError:
    """Turn a non-2xx answer into a typed error with a readable message."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    problem = body if isinstance(body, dict) else {}
    detail = str(problem.get("detail") or "").strip()
    if isinstance(problem.get("detail"), list):  # FastAPI's default validation shape
        detail = "; ".join(str(d.get("msg", d)) for d in problem["detail"])
    status = resp.status_code
    route_missing = status in (404, 405) and (
        not problem.get("type") or detail in ("Not Found", "Method Not Allowed"))
    if route_missing:
        return EndpointMissing(
            f"Could not {action}: this server does not offer {resp.request.method} "
            f"{resp.request.url.path} (HTTP {status}). It may be an older version, or the "
            "feature is not enabled here.", status=status, problem=problem, action=action)
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    if status in (401, 403) and not detail:
        detail = "the server refused the API key or its role"
    if not detail:
        detail = resp.reason_phrase or f"HTTP {status}"
    message = f"Could not {action}: {detail}"
    if status >= 500:
        message += " (server error; try again, or look at the server's log)"
    return cls(message, status=status, problem=problem, action=action)


class StudioAPI:
    """Typed calls to the registry, one method per endpoint the studio uses.

    ``actor`` names the person in open (keyless) local mode (``X-Actor``); with an API key
    the registry records the key's name instead.
    """

    def __init__(self, base_url: str, *, api_key: str | None = None,
                 actor: str | None = None, gateway_url: str | None = None,
                 timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Accept": "application/json", "X-Harness-Source": "studio"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if actor:
            headers["X-Actor"] = actor
        self.base_url = base_url.rstrip("/")
        self.gateway_url = (gateway_url or base_url).rstrip("/")
        # connection attempts are retried (a restarted registry, a stale pooled connection)
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s,
                                  transport=transport or httpx.HTTPTransport(retries=2))

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ plumbing
    def _request(self, method: str, path: str, action: str, *, base: str | None = None,
                 **kwargs: Any) -> httpx.Response:
        url = f"{base}{path}" if base else path
        try:
            resp = self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise Unreachable(f"Could not {action}: {base or self.base_url} did not answer in "
                              "time. Try again in a moment.", action=action) from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"Could not {action}: cannot reach {base or self.base_url} "
                              f"({type(exc).__name__}). Is the registry running (`harness up`)"
                              " and is HARNESS_URL right?", action=action) from exc
        if resp.status_code >= 400:
            raise error_from_response(resp, action)
        return resp

    def _get(self, path: str, action: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._request("GET", path, action, params=clean).json()

    def _send(self, method: str, path: str, action: str, body: Any = None) -> Any:
        resp = self._request(method, path, action, json=body)
        return resp.json() if resp.content else None

    def _all(self, path: str, action: str, **params: Any) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._get(path, action, limit=PAGE_MAX, offset=offset, **params)
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def access(self) -> str:
        """Whether this client may read the registry: ``open`` (no keys exist), ``ok``
        (its key is accepted), ``key_required`` (it has none), ``bad_key`` (unknown or
        revoked) or ``unreachable``."""
        try:
            resp = self._http.get("/prompts", params={"limit": 1}, timeout=5)
        except httpx.HTTPError:
            return "unreachable"
        if resp.status_code == 401:
            return "bad_key" if "authorization" in self._http.headers else "key_required"
        if "authorization" in self._http.headers:
            return "ok"
        return "open"

    def health(self) -> bool:
        try:
            return self._http.get("/healthz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    # ------------------------------------------------------------------ prompts
    def prompts(self, q: str | None = None) -> list[dict[str, Any]]:
        return list(self._all("/prompts", "list the prompts", q=q or None))

    def prompt(self, prompt_id: str) -> dict[str, Any]:
        return self._get(f"/prompts/{prompt_id}", "load the prompt")

    def create_prompt(self, name: str, content: Any, description: str = "",
                      change_note: str = "initial version") -> dict[str, Any]:
        return self._send("POST", "/prompts", f"create the prompt {name!r}",
                          {"name": name, "content": content, "description": description,
                           "change_note": change_note})

    def versions(self, prompt_id: str) -> list[dict[str, Any]]:
        return list(self._all(f"/prompts/{prompt_id}/versions", "list the versions"))

    def version(self, prompt_id: str, version: int) -> dict[str, Any]:
        return self._get(f"/prompts/{prompt_id}/versions/{version}", f"load version {version}")

    def create_version(self, prompt_id: str, content: Any, change_note: str, *,
                       activate: bool = False, derived_from: int | None = None,
                       config: dict[str, Any] | None = None) -> dict[str, Any]:
        """``config`` None: the new version keeps the config of ``derived_from``."""
        body = {"content": content, "change_note": change_note, "activate": activate}
        if derived_from is not None:
            body["derived_from"] = derived_from
        if config is not None:
            body["config"] = config
        return self._send("POST", f"/prompts/{prompt_id}/versions", "save the new version",
                          body)

    def activate(self, prompt_id: str, version: int, reason: str) -> dict[str, Any]:
        return self._send("PUT", f"/prompts/{prompt_id}/versions/{version}/activate",
                          f"activate version {version}", {"reason": reason})

    def history(self, prompt_id: str) -> list[dict[str, Any]]:
        return list(self._all(f"/prompts/{prompt_id}/history", "load the history"))

    def environments(self, prompt_id: str) -> dict[str, Any]:
        """Each environment: its version, what set it and its split (or null)."""
        return self._get(f"/prompts/{prompt_id}/environments",
                         "load the environments")["environments"]

    def render(self, prompt_id: str, variables: dict[str, Any],
               version: int | None = None) -> dict[str, Any]:
        return self._send("POST", f"/prompts/{prompt_id}/render", "render the prompt",
                          {"variables": variables, "version": version})

    def trend(self, prompt_id: str) -> list[dict[str, Any]]:
        return self._get(f"/prompts/{prompt_id}/trend", "load the trend")

    # ------------------------------------------------------------------ applications
    def applications(self) -> list[dict[str, Any]]:
        return list(self._all("/applications", "list the applications"))

    def resolved(self, application_id: str) -> dict[str, Any]:
        return self._get(f"/applications/{application_id}/resolved",
                         "resolve the application")

    # ------------------------------------------------------------------ datasets
    def datasets(self, q: str | None = None,
                 dataset_type: str | None = None) -> list[dict[str, Any]]:
        return list(self._all("/datasets", "list the datasets", q=q or None,
                              dataset_type=dataset_type))

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        return self._get(f"/datasets/{dataset_id}", "load the dataset")

    def create_dataset(self, name: str, description: str = "",
                       dataset_type: str = "evaluation") -> dict[str, Any]:
        return self._send("POST", "/datasets", f"create the dataset {name!r}",
                          {"name": name, "description": description,
                           "dataset_type": dataset_type})

    def update_dataset(self, dataset_id: str, **changes: Any) -> dict[str, Any]:
        return self._send("PATCH", f"/datasets/{dataset_id}", "change the dataset", changes)

    def cases(self, dataset_id: str, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        return self._get(f"/datasets/{dataset_id}/cases", "list the cases", limit=limit,
                         offset=offset)

    def add_cases(self, dataset_id: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._send("POST", f"/datasets/{dataset_id}/cases", "add the cases",
                          {"cases": cases})["items"]

    def update_case(self, dataset_id: str, case_id: str, **changes: Any) -> dict[str, Any]:
        return self._send("PATCH", f"/datasets/{dataset_id}/cases/{case_id}",
                          "save the case", changes)

    def remove_case(self, dataset_id: str, case_id: str) -> None:
        self._send("DELETE", f"/datasets/{dataset_id}/cases/{case_id}", "remove the case")

    def import_file(self, dataset_id: str, filename: str, data: bytes) -> dict[str, Any]:
        resp = self._request("POST", f"/datasets/{dataset_id}/import", f"import {filename}",
                             files={"file": (filename, data)})
        return resp.json()

    def verify(self, dataset_id: str, note: str) -> dict[str, Any]:
        return self._send("POST", f"/datasets/{dataset_id}/verify", "verify the dataset",
                          {"note": note})

    def review_queue(self, dataset_id: str, status: str = "pending", *, limit: int = 100,
                     offset: int = 0) -> dict[str, Any]:
        return self._get(f"/datasets/{dataset_id}/review", "load the cases to review",
                         status=status, limit=limit, offset=offset)

    def review(self, dataset_id: str, decisions: list[dict[str, Any]]) -> dict[str, Any]:
        return self._send("POST", f"/datasets/{dataset_id}/review", "record the review",
                          {"decisions": decisions})

    def promote(self, golden_id: str, source_dataset_id: str,
                case_ids: list[str]) -> dict[str, Any]:
        return self._send("POST", f"/datasets/{golden_id}/promote",
                          "promote the cases into the golden dataset",
                          {"source_dataset_id": source_dataset_id, "case_ids": case_ids})

    def generations(self, dataset_id: str) -> list[dict[str, Any]]:
        return self._get(f"/datasets/{dataset_id}/generations", "list the generations",
                         limit=50)["items"]

    def cancel_generation(self, generation_id: str, reason: str = "") -> dict[str, Any]:
        return self._send("POST", f"/generations/{generation_id}/cancel",
                          "cancel the generation", {"reason": reason})

    # ------------------------------------------------------------------ runs
    def start_run(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/runs", "start the run", body)

    def runs(self, *, dataset_id: str | None = None, status: str | None = None,
             limit: int = 50) -> list[dict[str, Any]]:
        return self._get("/runs", "list the runs", dataset_id=dataset_id, status=status,
                         limit=limit)["items"]

    def run(self, run_id: str) -> dict[str, Any]:
        return self._get(f"/runs/{run_id}", "load the run")

    def results(self, run_id: str, *, status: str | None = None,
                target_id: str | None = None, limit: int = 100,
                offset: int = 0) -> dict[str, Any]:
        return self._get(f"/runs/{run_id}/results", "load the results", status=status,
                         target_id=target_id, limit=limit, offset=offset)

    def summary(self, run_id: str) -> dict[str, Any]:
        return self._get(f"/runs/{run_id}/summary", "load the run summary")

    def pivot(self, run_id: str) -> dict[str, Any]:
        return self._get(f"/runs/{run_id}/pivot", "load the pivot")

    def compare(self, before: str, after: str, pair: str | None = None) -> dict[str, Any]:
        return self._get("/runs/compare", "compare the runs", ids=f"{before},{after}",
                         pair=pair)

    def cancel_run(self, run_id: str, reason: str = "") -> dict[str, Any]:
        return self._send("POST", f"/runs/{run_id}/cancel", "cancel the run",
                          {"reason": reason})

    # ------------------------------------------------------------------ traces
    def traces(self, *, cursor: str | None = None, limit: int = 50,
               **filters: Any) -> dict[str, Any]:
        """One page of trace summaries (``items``, ``next_cursor``), newest first."""
        return self._get("/traces", "load the traces", cursor=cursor, limit=limit,
                         **{k: v for k, v in filters.items() if v not in (None, "")})

    def trace(self, trace_id: str) -> dict[str, Any]:
        return self._get(f"/traces/{trace_id}", "load the trace")

    def cases_from_traces(self, dataset_id: str, trace_ids: list[str], *,
                          answer_as_expected: bool = False,
                          skip_duplicates: bool = True) -> dict[str, Any]:
        """Traces become cases of the dataset (``added``, ``skipped_trace_ids``)."""
        return self._send("POST", f"/datasets/{dataset_id}/cases/from-traces",
                          "add the traces to the dataset",
                          {"trace_ids": trace_ids, "answer_as_expected": answer_as_expected,
                           "skip_duplicates": skip_duplicates})

    # ------------------------------------------------------------------ human feedback
    def score_configs(self) -> list[dict[str, Any]]:
        return self._get("/score-configs", "list the score configs")

    def score_trace(self, trace_id: str, name: str, value: Any,
                    comment: str = "") -> dict[str, Any]:
        return self._send("POST", f"/traces/{trace_id}/scores", f"save the score {name!r}",
                          {"name": name, "value": value, "comment": comment})

    def score_result(self, run_id: str, result_id: str, name: str, value: Any,
                     comment: str = "") -> dict[str, Any]:
        return self._send("POST", f"/runs/{run_id}/results/{result_id}/scores",
                          f"save the score {name!r}",
                          {"name": name, "value": value, "comment": comment})

    def queues(self) -> list[dict[str, Any]]:
        return self._get("/queues", "list the annotation queues")

    def next_item(self, queue_id: str) -> dict[str, Any] | None:
        """The queue and its next pending item; ``None`` when every item is done."""
        resp = self._request("GET", f"/queues/{queue_id}/next", "load the next item")
        return resp.json() if resp.status_code == 200 else None

    def complete_item(self, queue_id: str, item_id: str) -> dict[str, Any]:
        return self._send("POST", f"/queues/{queue_id}/items/{item_id}/complete",
                          "complete the item")

    # ------------------------------------------------------------------ online evaluation
    def evaluators(self) -> list[dict[str, Any]]:
        return self._get("/evaluators", "list the evaluators")

    def create_evaluator(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/evaluators", f"create the evaluator {body.get('name')!r}",
                          body)

    def change_evaluator(self, evaluator_id: str, **changes: Any) -> dict[str, Any]:
        return self._send("PATCH", f"/evaluators/{evaluator_id}", "change the evaluator",
                          changes)

    def agreement(self, evaluator_id: str, human_score: str | None = None) -> dict[str, Any]:
        return self._get(f"/evaluators/{evaluator_id}/agreement",
                         "measure the agreement with people", human_score=human_score or None)

    def score_alerts(self) -> list[dict[str, Any]]:
        return self._get("/score-alerts", "list the score alerts")

    def score_alert_firings(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._get("/score-alerts/firings", "load the fired score alerts", limit=limit)

    def create_score_alert(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/score-alerts", "create the score alert",
                          {k: v for k, v in body.items() if v not in (None, "")})

    def delete_score_alert(self, alert_id: str) -> None:
        self._send("DELETE", f"/score-alerts/{alert_id}", "delete the score alert")

    # ------------------------------------------------------------------ gateway
    def usage(self, *, group_by: str = "model", interval: str = "hour",
              since: str | None = None) -> dict[str, Any]:
        params = {"group_by": group_by, "interval": interval, "since": since}
        return self._request("GET", "/metrics/usage", "load the gateway's usage metrics",
                             base=self.gateway_url,
                             params={k: v for k, v in params.items() if v}).json()

    def alerts(self) -> list[dict[str, Any]]:
        return self._request("GET", "/gateway/alerts", "load the gateway's cost alerts",
                             base=self.gateway_url).json()["items"]

    def alert_firings(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._request("GET", "/gateway/alerts/firings", "load the fired alerts",
                             base=self.gateway_url, params={"limit": limit}).json()["items"]

    def create_alert(self, *, scope: str, period: str, threshold_usd: float,
                     target: str | None = None, name: str | None = None,
                     webhook_url: str | None = None) -> dict[str, Any]:
        body = {"scope": scope, "period": period, "threshold_usd": threshold_usd,
                "target": target or None, "name": name or None,
                "webhook_url": webhook_url or None}
        return self._request("POST", "/gateway/alerts", "create the cost alert",
                             base=self.gateway_url, json=body).json()
