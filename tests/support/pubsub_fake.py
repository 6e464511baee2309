"""Google's Pub/Sub fake (``tools/pubsub-fake``) for tests: build if needed, start, stop.

::

    fake = shared_fake()            # one per test process, started on a free port
    fake.host                       # "127.0.0.1:<port>", for PUBSUB_EMULATOR_HOST

    @pytest.fixture
    def emulator(monkeypatch):      # in a test module
        return use_fake(monkeypatch)  # sets PUBSUB_EMULATOR_HOST for one test

    with PubSubFake() as other:     # a private instance (e.g. one a test kills)
        ...

The binary is built into ``.harness/bin/pubsub-fake`` when missing or older than its
source. Building needs Debian's ``golang-go`` and ``golang-google-cloud-dev``; without
them the tests fail (never skip) with a message naming ``make pubsub-fake``, which
installs both.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from harness.net import free_port
from tests.support import processes

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIR = ROOT / "tools" / "pubsub-fake"
BINARY = Path(os.environ.get("PUBSUB_FAKE_BIN", ROOT / ".harness" / "bin" / "pubsub-fake"))
PROJECT = "harness-test"

_build_lock = threading.Lock()


class PubSubFakeUnavailable(RuntimeError):
    pass


def ensure_binary() -> Path:
    """The fake's binary, built first when missing or stale."""
    with _build_lock:
        sources = [SOURCE_DIR / "main.go", SOURCE_DIR / "build.sh"]
        if BINARY.exists() and all(BINARY.stat().st_mtime >= s.stat().st_mtime
                                   for s in sources):
            return BINARY
        if shutil.which("go") is None:
            raise PubSubFakeUnavailable(
                f"the Pub/Sub fake is not built ({BINARY}) and the Go toolchain is missing: "
                "run `make pubsub-fake` (installs golang-go and golang-google-cloud-dev, "
                "then builds it)")
        proc = subprocess.run([str(SOURCE_DIR / "build.sh"), str(BINARY)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise PubSubFakeUnavailable(
                f"building the Pub/Sub fake failed (run `make pubsub-fake`):\n"
                f"{proc.stdout}{proc.stderr}")
        return BINARY


class PubSubFake:
    """One fake server process on 127.0.0.1 (a free port unless given)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> PubSubFake:
        binary = ensure_binary()
        self.proc = processes.spawn(
            [str(binary), "-host", "127.0.0.1", "-port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "pubsub-fake listening on HOST:PORT"
        if "listening on" not in line:
            self.stop()
            raise PubSubFakeUnavailable(f"the Pub/Sub fake did not start: {line!r}")
        # drain further output so the pipe never fills
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise PubSubFakeUnavailable(f"the Pub/Sub fake is not answering on {self.host}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.stdout = None  # a thread drains it; do not read it here too
        processes.stop(proc, timeout=10)

    def restart(self) -> PubSubFake:
        """Stop and start again on the same port (all topics and messages are lost)."""
        self.stop()
        return self.start()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> PubSubFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: PubSubFake | None = None


def shared_fake() -> PubSubFake:
    """The fake shared by this test process (started once, stopped at exit)."""
    global _shared
    if _shared is None or not _shared.alive:
        _shared = PubSubFake().start()
        atexit.register(_shared.stop)
        processes.on_session_end(_shared.stop)
    return _shared


def use_fake(monkeypatch, fake: PubSubFake | None = None) -> PubSubFake:
    """Point the Google clients at ``fake`` (default: the shared one) for one test."""
    fake = fake or shared_fake()
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", fake.host)
    return fake
