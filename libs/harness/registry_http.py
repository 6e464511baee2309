"""How the CLI and ``harness demo`` talk to a registry over HTTP.

One place reads the API key (``HARNESS_API_KEY``) for them, and turns a 401 into what to
do about it: once ``harness keys create`` has made the registry require keys, a command
without one would otherwise end in a bare "401 Unauthorized".
"""

from __future__ import annotations

import httpx

KEY_HINT = ("create one with `harness keys create --name YOU --role editor`, then "
            "`export HARNESS_API_KEY=<the key>`")


class ApiKeyProblem(SystemExit):
    """The registry refused the call for want of a valid key: exits with a message that
    says how to fix it (a ``SystemExit``, so no handler turns it into a traceback)."""


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _explain_401(response: httpx.Response) -> None:
    if response.status_code != 401:
        return
    if "authorization" in response.request.headers:
        raise ApiKeyProblem("the registry refused HARNESS_API_KEY (unknown or revoked key): "
                            + KEY_HINT)
    raise ApiKeyProblem("this registry requires an API key and HARNESS_API_KEY is not set: "
                        + KEY_HINT)


def registry_client(base_url: str, api_key: str | None, *,
                    headers: dict[str, str] | None = None, timeout: float = 60) -> httpx.Client:
    """An ``httpx.Client`` for the registry at ``base_url`` that sends ``api_key`` and
    exits with advice on a 401."""
    return httpx.Client(base_url=base_url, headers={**(headers or {}), **auth_headers(api_key)},
                        timeout=timeout, event_hooks={"response": [_explain_401]})
