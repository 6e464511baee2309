import os
import subprocess
import sys
import time

import httpx

from harness.net import free_port

HARNESS = [sys.executable, "-m", "harness.cli"]


def env_for(db_url, **extra):
    return {**os.environ, "DATABASE_URL": db_url, "HARNESS_LOG_JSON": "false", **extra}


def test_up_refuses_public_bind_without_keys(db_url):
    r = subprocess.run([*HARNESS, "up", "--host", "0.0.0.0", "--port", str(free_port())],
                       env=env_for(db_url), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "refusing to bind 0.0.0.0 without API keys" in r.stderr


def test_up_serves_and_keys_are_enforced(db_url):
    r = subprocess.run([*HARNESS, "keys", "create", "--name", "ci", "--role", "admin"],
                       env=env_for(db_url), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("hk_")
    bad = subprocess.run([*HARNESS, "keys", "create", "--name", "x", "--role", "god"],
                         env=env_for(db_url), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "role must be one of" in bad.stderr
    port = free_port()
    proc = subprocess.Popen([*HARNESS, "up", "--port", str(port)], env=env_for(db_url),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/docs" in out


def test_projections_rebuild_command(db_url):
    r = subprocess.run([*HARNESS, "projections", "rebuild"], env=env_for(db_url),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "replayed 0 events" in r.stdout


def test_demo_runs_end_to_end(db_url, tmp_path):
    r = subprocess.run([*HARNESS, "demo"], env=env_for(db_url, HARNESS_DATA_DIR=str(tmp_path),
                                                       COLUMNS="160"),
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "activated v2: support-bot now resolves v2 (was v1)" in out
    assert "rolled back: support-bot resolves v1" in out
    assert "per-case changes" in out and "fixed" in out
