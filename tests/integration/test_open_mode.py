"""Auth never fails open: every entry point (``harness up``, ``python -m services.<name>``)
refuses a non-loopback bind without authentication, with one message and one opt-out
(``--insecure`` / ``HARNESS_INSECURE=1``); a server that has had keys stays closed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from harness import open_mode
from harness.net import free_port
from tests.support import processes

HARNESS = [sys.executable, "-m", "services.cli"]
HINT = "pass --insecure (or set HARNESS_INSECURE=1) to run open anyway"


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HARNESS_INSECURE", "HARNESS_PUSH_AUDIENCE",
                        "HARNESS_BOOTSTRAP_KEY_SHA256")}
    return {**env, "DATABASE_URL": db_url, "HARNESS_LOG_JSON": "false",
            "HARNESS_HOST": "0.0.0.0", "PORT": str(free_port()),
            "HARNESS_URL": "http://127.0.0.1:9", **extra}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return processes.run(args, env=env, capture_output=True, text=True, timeout=120)


def test_the_rule_in_one_place():
    assert open_mode.refusal("127.0.0.1", protected=False, insecure=False) is None
    assert open_mode.refusal("::1", protected=False, insecure=False) is None
    assert open_mode.refusal("localhost", protected=False, insecure=False) is None
    assert open_mode.refusal("0.0.0.0", protected=True, insecure=False) is None
    assert open_mode.refusal("0.0.0.0", protected=False, insecure=True) is None
    message = open_mode.refusal("10.0.0.5", protected=False, insecure=False)
    assert message.startswith("refusing to bind 10.0.0.5 without API keys") and HINT in message


@pytest.mark.parametrize("service", ["registry", "gateway"])
def test_services_with_api_keys_refuse_a_public_bind_without_keys(db_url, service):
    r = _run([sys.executable, "-m", f"services.{service}"], _env(db_url))
    assert r.returncode == 2, r.stderr[-2000:]
    assert "refusing to bind 0.0.0.0 without API keys" in r.stderr and HINT in r.stderr


@pytest.mark.parametrize("service", ["runner", "scorer", "generator"])
def test_workers_refuse_a_public_bind_without_push_token_checks(db_url, service):
    r = _run([sys.executable, "-m", f"services.{service}"], _env(db_url))
    assert r.returncode == 2, r.stderr[-2000:]
    assert "refusing to bind 0.0.0.0 without verifying Pub/Sub push tokens" in r.stderr
    assert "HARNESS_PUSH_AUDIENCE" in r.stderr and HINT in r.stderr


def test_harness_up_says_the_same(db_url):
    r = _run([*HARNESS, "up", "--host", "0.0.0.0", "--port", str(free_port())], _env(db_url))
    assert r.returncode == 2
    assert "refusing to bind 0.0.0.0 without API keys" in r.stderr and HINT in r.stderr


def _serves(args: list[str], env: dict[str, str]) -> bool:
    """Start, wait for /readyz on loopback (a hang guard, not a timing), stop."""
    proc = processes.spawn(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    try:
        for _ in range(600):
            if proc.poll() is not None:
                return False
            try:
                if httpx.get(f"http://127.0.0.1:{env['PORT']}/readyz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        return False
    finally:
        processes.stop(proc)


def test_the_opt_out_and_a_server_whose_keys_are_all_revoked(db_url):
    registry = [sys.executable, "-m", "services.registry"]
    assert _serves([*registry, "--insecure"], _env(db_url))
    assert _serves(registry, _env(db_url, HARNESS_INSECURE="1"))
    bad = _run([*registry, "--port", "1"], _env(db_url))
    assert bad.returncode != 0 and "the only option is --insecure" in bad.stderr

    created = _run([*HARNESS, "keys", "create", "--name", "ops", "--role", "admin"],
                   _env(db_url))
    assert created.returncode == 0, created.stderr
    listed = _run([*HARNESS, "keys", "list"], _env(db_url))
    assert listed.returncode == 0 and "ops" in listed.stdout and "active" in listed.stdout
    key = created.stdout.strip().splitlines()[-1]
    assert key not in listed.stdout  # never the secret
    revoked = _run([*HARNESS, "keys", "revoke", key[:7]], _env(db_url))
    assert revoked.returncode == 0 and "revoked ops" in revoked.stdout, revoked.stderr
    again = _run([*HARNESS, "keys", "revoke", key[:7]], _env(db_url))
    assert again.returncode == 1 and "no active key matches" in again.stderr
    assert "revoked 20" in _run([*HARNESS, "keys", "list"], _env(db_url)).stdout

    # no active key left, but the server had keys: it stays closed, so it may bind
    env = _env(db_url)
    proc = processes.spawn(registry, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{env['PORT']}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.get(f"{url}/prompts")
        assert r.status_code == 401  # not anonymous admin
        assert httpx.get(f"{url}/prompts", headers={"X-API-Key": key}).status_code == 401
        assert httpx.get(f"{url}/metrics").status_code == 401  # Prometheus text needs a key
    finally:
        processes.stop(proc)
