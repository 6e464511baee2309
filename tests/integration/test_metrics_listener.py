"""``HARNESS_METRICS_PORT``: a service started as on Cloud Run also serves ``/metrics`` on
127.0.0.1 only, without a key (the Prometheus sidecar sends none), while its public
``/metrics`` still needs one."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

import httpx
import pytest

from harness.net import free_port
from tests.support import processes

KEY = "hk_metrics_listener_test_key"


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HARNESS_INSECURE", "HARNESS_PUSH_AUDIENCE",
                        "HARNESS_GATEWAY_METRICS_PUBLIC")}
    return {**env, "DATABASE_URL": db_url, "HARNESS_LOG_JSON": "false",
            "HARNESS_HOST": "127.0.0.1", "PORT": str(free_port()),
            "HARNESS_URL": "http://127.0.0.1:9",
            # closed from the start, as on Cloud Run: the services' key hash
            "HARNESS_BOOTSTRAP_KEY_SHA256": hashlib.sha256(KEY.encode()).hexdigest(),
            **extra}


def _ready(proc: subprocess.Popen, url: str) -> None:
    for _ in range(600):  # a hang guard, not a timing
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the service never became ready")


@pytest.mark.parametrize("service", ["registry", "gateway"])
def test_the_loopback_listener_serves_metrics_without_a_key(db_url, service):
    metrics_port = free_port()
    env = _env(db_url, HARNESS_METRICS_PORT=str(metrics_port))
    proc = processes.spawn([sys.executable, "-m", f"services.{service}"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        public = f"http://127.0.0.1:{env['PORT']}"
        _ready(proc, public)

        assert httpx.get(f"{public}/metrics").status_code == 401  # the public rule holds
        keyed = httpx.get(f"{public}/metrics", headers={"X-API-Key": KEY})
        assert keyed.status_code == 200

        local = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert local.status_code == 200, local.text[:500]
        assert local.headers["content-type"].startswith("text/plain")
        assert f"harness_{service}_" in local.text
        # the same families as the public endpoint (values may have moved in between)
        families = {line.split()[2] for line in keyed.text.splitlines()
                    if line.startswith("# TYPE")}
        assert families and families == {line.split()[2] for line in local.text.splitlines()
                                         if line.startswith("# TYPE")}
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/prompts").status_code == 404

        sockets = processes.listening_sockets([proc.pid])[proc.pid]
        assert {addr for addr, port in sockets if port == metrics_port} == {"127.0.0.1"}
        assert ("127.0.0.1", int(env["PORT"])) in sockets
    finally:
        processes.stop(proc)


def test_the_metrics_port_may_not_be_the_service_port(db_url):
    env = _env(db_url)
    env["HARNESS_METRICS_PORT"] = env["PORT"]
    r = processes.run([sys.executable, "-m", "services.registry"], env=env,
                      capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "is the service's PORT too" in r.stderr
