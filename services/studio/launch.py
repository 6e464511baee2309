"""Starting the studio as a child process (``harness up``, ``python -m services.studio``).

The studio is a separate Streamlit server pointed at the registry's URL; it needs the
``studio`` extra. Without it, ``harness up`` prints how to install it and carries on.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
INSTALL_HINT = "pip install -e '.[studio]'  (or `make studio`)"


def installed() -> bool:
    return importlib.util.find_spec("streamlit") is not None


def command(host: str, port: int) -> list[str]:
    """``streamlit run`` without a browser, usage stats, file watching or dev toolbar;
    an unexpected bug shows its type in the page, its traceback only in the log."""
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.headless=true", f"--server.address={host}", f"--server.port={port}",
            "--server.fileWatcherType=none", "--server.runOnSave=false",
            "--browser.gatherUsageStats=false", "--client.toolbarMode=viewer",
            "--client.showErrorDetails=type", "--global.developmentMode=false"]


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def local_url(host: str, port: int) -> str:
    """Where a server bound to ``host`` is reached from this machine."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}"


def start(host: str, port: int, registry_url: str, *,
          env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the studio; ``RuntimeError`` says why it cannot (extra missing, port taken)."""
    if not installed():
        raise RuntimeError(f"the studio is not installed: {INSTALL_HINT}")
    if not port_free(host, port):
        raise RuntimeError(f"port {port} on {host} is taken; pass --studio-port")
    child_env = {**os.environ, **(env or {}), "HARNESS_URL": registry_url}
    return subprocess.Popen(command(host, port), env=child_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=None,
                            preexec_fn=_die_with_parent())


def _die_with_parent():
    """On Linux, have the kernel send the studio SIGTERM when its parent dies, so a
    ``harness up`` killed with SIGKILL (or by the OOM killer) does not leave the studio
    holding its port; ``None`` elsewhere."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not after
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit`` so the caller's ``finally`` stops the studio.

    uvicorn handles SIGTERM, shuts down, then raises the signal again with the handler it
    found at start; left at the default, that kills the process on the spot and the studio
    would outlive the registry."""
    def _exit(signum: int, _frame) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def stop(proc: subprocess.Popen | None, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not stop within ``timeout_s``."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)
