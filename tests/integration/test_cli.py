import os
import subprocess
import sys
import time

import httpx

from harness.net import free_port
from tests.support import processes

HARNESS = [sys.executable, "-m", "services.cli"]


def env_for(db_url, **extra):
    return {**os.environ, "DATABASE_URL": db_url, "HARNESS_LOG_JSON": "false", **extra}


def test_up_refuses_public_bind_without_keys(db_url):
    r = processes.run([*HARNESS, "up", "--host", "0.0.0.0", "--port", str(free_port())],
                       env=env_for(db_url), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "refusing to bind 0.0.0.0 without API keys" in r.stderr


def test_up_serves_and_keys_are_enforced(db_url):
    r = processes.run([*HARNESS, "keys", "create", "--name", "ci", "--role", "admin"],
                       env=env_for(db_url), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("hk_")
    bad = processes.run([*HARNESS, "keys", "create", "--name", "x", "--role", "god"],
                         env=env_for(db_url), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "role must be one of" in bad.stderr
    port = free_port()
    proc = processes.spawn([*HARNESS, "up", "--port", str(port), "--no-studio"],
                           env=env_for(db_url, COLUMNS="80"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"{url}/prompts").status_code == 401
        r = httpx.post(f"{url}/prompts", json={"name": "cli", "content": "x"},
                       headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 201
    finally:
        processes.stop(proc)
    out = proc.output
    # at 80 columns each address stays on one line with its label
    lines = out.splitlines()
    assert f"  API docs: http://127.0.0.1:{port}/docs" in lines
    assert any(line.endswith(f"gateway at http://127.0.0.1:{port}/v1") for line in lines)
    assert f"http://127.0.0.1:{port}/docs" in out


def test_projections_rebuild_command(db_url):
    r = processes.run([*HARNESS, "projections", "rebuild"], env=env_for(db_url),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "replayed 0 events" in r.stdout


def test_demo_runs_end_to_end(db_url, tmp_path):
    r = processes.run([*HARNESS, "demo"], env=env_for(db_url, HARNESS_DATA_DIR=str(tmp_path),
                                                       COLUMNS="160"),
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "activated v2: support-bot now resolves v2 (was v1)" in out
    assert "rolled back: support-bot resolves v1" in out
    assert "per-case changes" in out and "fixed" in out


def test_keys_create_says_how_to_use_the_key_and_the_demo_reads_it(db_url, tmp_path):
    """After `harness keys create` the demo is not locked out: without HARNESS_API_KEY it
    says what to do (not a bare 401); with it, it runs."""
    env = env_for(db_url, HARNESS_DATA_DIR=str(tmp_path), COLUMNS="160")
    env.pop("HARNESS_API_KEY", None)
    r = processes.run([*HARNESS, "keys", "create", "--name", "ana", "--role", "editor"],
                      env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert f"export HARNESS_API_KEY={key}" in r.stderr
    assert "studio" in r.stderr

    locked = processes.run([*HARNESS, "demo"], env=env, capture_output=True, text=True,
                           timeout=180)
    assert locked.returncode == 1
    assert "requires an API key and HARNESS_API_KEY is not set" in locked.stderr
    assert "export HARNESS_API_KEY=" in locked.stderr and "Traceback" not in locked.stderr

    wrong = processes.run([*HARNESS, "demo"], env={**env, "HARNESS_API_KEY": "hk_nope"},
                          capture_output=True, text=True, timeout=180)
    assert wrong.returncode == 1 and "unknown or revoked key" in wrong.stderr

    ok = processes.run([*HARNESS, "demo"], env={**env, "HARNESS_API_KEY": key},
                       capture_output=True, text=True, timeout=180)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "rolled back: support-bot resolves v1" in ok.stdout
