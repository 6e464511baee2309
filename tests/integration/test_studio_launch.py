"""``harness up`` starts the studio beside the registry, prints its URL, and stops it with
the registry; without the studio (flag, taken port, extra not installed) the registry
still starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from harness.net import free_port
from tests.support import processes

HARNESS = [sys.executable, "-m", "services.cli"]
# `harness up` in an interpreter where the studio extra looks uninstalled
WITHOUT_STREAMLIT = [sys.executable, "-c", (
    "import importlib.util as u, sys; real = u.find_spec; "
    "u.find_spec = lambda name, *a: None if name == 'streamlit' else real(name, *a); "
    "sys.argv = ['harness', *sys.argv[1:]]; from services.cli import app; app()")]


def env_for(db_url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": db_url, "HARNESS_LOG_JSON": "false"}
    env.pop("HARNESS_API_KEY", None)
    return env


def wait_ok(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.1)


def up(cmd: list[str], db_url: str, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = processes.spawn([*cmd, "up", "--port", str(port), *args], env=env_for(db_url),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ok(f"http://127.0.0.1:{port}/readyz")
    except BaseException:
        processes.kill(proc)
        raise
    return proc, port


def stop(proc: subprocess.Popen) -> str:
    """SIGTERM ``harness up``; it must stop its studio itself (nothing left in its group)."""
    left = processes.stop(proc)
    assert not left, f"`harness up` left running: {[str(p) for p in left]}"
    return proc.output


def test_up_serves_the_studio_and_stops_it_with_the_registry(db_url):
    studio_port = free_port()
    proc, port = up(HARNESS, db_url, "--studio-port", str(studio_port))
    studio = f"http://127.0.0.1:{studio_port}"
    try:
        wait_ok(f"{studio}/_stcore/health")
        assert "<title>Streamlit</title>" in httpx.get(studio).text
    finally:
        out = stop(proc)
    assert f"studio on {studio}" in out
    assert proc.returncode is not None
    with pytest.raises(httpx.TransportError):  # the studio went with the registry
        httpx.get(f"{studio}/_stcore/health", timeout=2)


def test_up_without_the_studio_still_serves_the_registry(db_url):
    proc, _ = up(HARNESS, db_url, "--no-studio")
    assert "studio" not in stop(proc)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        proc, _ = up(HARNESS, db_url, "--studio-port", str(busy))
        assert f"studio not started: port {busy} on 127.0.0.1 is taken" in stop(proc)

    proc, _ = up(WITHOUT_STREAMLIT, db_url, "--studio-port", str(free_port()))
    out = stop(proc)
    assert "studio not started: the studio is not installed: pip install -e '.[studio]'" \
        in " ".join(out.split())


def test_a_killed_up_takes_its_studio_with_it(db_url):
    """SIGKILL gives ``harness up`` no chance to stop its studio: the studio must notice
    its parent died and exit by itself instead of keeping the port."""
    studio_port = free_port()
    proc, _ = up(HARNESS, db_url, "--studio-port", str(studio_port))
    try:
        wait_ok(f"http://127.0.0.1:{studio_port}/_stcore/health")
        proc.kill()
        proc.wait(30)
        for _ in range(600):  # a hang guard, not a threshold
            if not (alive := processes.members(proc.pid)):
                break
            time.sleep(0.05)
        assert not alive, [str(p) for p in alive]
    finally:
        processes.stop(proc)
