"""The multi-service stack on one machine, as on Cloud Run: PostgreSQL (DATABASE_URL or the
embedded one), Google's Pub/Sub fake, a GCS emulator, and each service as its own process
talking over Pub/Sub (pull delivery) and GCS.

``python -m harness.devstack`` (``make stack``) starts everything and waits; the e2e tests
start the same ``ServiceProcess``es against emulators they own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.net import free_port

ROOT = Path(__file__).resolve().parents[2]
FAKE_BIN = Path(os.environ.get("PUBSUB_FAKE_BIN", ROOT / ".harness" / "bin" / "pubsub-fake"))
PROJECT = "harness-local"


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def wait_tcp(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{host}:{port} did not open within {timeout:.0f}s")


@dataclass
class ServiceProcess:
    """One service (``python -m services.<name>``) on its own port."""

    name: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path | None = None) -> ServiceProcess:
        # this checkout's library first (a git worktree shares a venv installed elsewhere)
        env = {**os.environ, **self.env, "PORT": str(self.port), "HARNESS_HOST": "127.0.0.1",
               "HARNESS_SERVICE": self.name,
               "PYTHONPATH": os.pathsep.join([str(ROOT / "libs"), str(ROOT)])}
        out = subprocess.DEVNULL
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self.log_path = log_dir / f"{self.name}.log"
            out = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        # its own process group, so stopping it also stops anything it started
        self.proc = subprocess.Popen([sys.executable, "-m", f"services.{self.name}"], env=env,
                                     stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                     start_new_session=True)
        wait_http(f"{self.url}/healthz", proc=self.proc)
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, as Cloud Run does; SIGKILL if it does not finish in time. (uvicorn
        re-raises the signal after its graceful shutdown, so a clean stop exits -15.)"""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._kill_group()
        return self.proc.returncode

    def stopped_cleanly(self) -> bool:
        """The service's lifespan ran to its end (it logs ``service_stopped``)."""
        return self.log_path is not None and b'"service_stopped"' in self.log_path.read_bytes()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._kill_group()

    def _kill_group(self) -> None:
        """Whatever the service started and left behind goes with it."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def service_env(*, database_url: str, pubsub_host: str, storage_host: str | None,
                artifacts_uri: str, data_dir: Path, registry_url: str | None = None,
                project: str = PROJECT, prefix: str = "harness-") -> dict[str, str]:
    env = {
        "HARNESS_BUS": "pubsub", "HARNESS_DELIVERY": "pull",
        "HARNESS_PUBSUB_ENSURE_TOPOLOGY": "true", "GOOGLE_CLOUD_PROJECT": project,
        "PUBSUB_EMULATOR_HOST": pubsub_host, "HARNESS_TOPIC_PREFIX": prefix,
        "HARNESS_ARTIFACTS_URI": artifacts_uri, "HARNESS_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url, "HARNESS_LOG_LEVEL": "INFO",
    }
    if storage_host:
        env["STORAGE_EMULATOR_HOST"] = storage_host
    if registry_url:
        env["HARNESS_URL"] = registry_url
    return env


def start_services(env: dict[str, str], log_dir: Path | None = None
                   ) -> tuple[ServiceProcess, ServiceProcess]:
    """The registry first (it creates the topology), then the runner pointed at it."""
    from harness.bus.pubsub import ensure_topology

    os.environ.setdefault("PUBSUB_EMULATOR_HOST", env["PUBSUB_EMULATOR_HOST"])
    ensure_topology(env["GOOGLE_CLOUD_PROJECT"], env["HARNESS_TOPIC_PREFIX"],
                    ack_deadline_seconds=int(env.get("HARNESS_PUBSUB_ACK_DEADLINE_S", "60")))
    registry = ServiceProcess("registry", dict(env)).start(log_dir)
    runner = start_worker("runner", env, registry, log_dir)
    return registry, runner


def start_worker(name: str, env: dict[str, str], registry: ServiceProcess,
                 log_dir: Path | None = None) -> ServiceProcess:
    """A worker service (runner, scorer, ...) pointed at ``registry``."""
    return ServiceProcess(name, {**env, "HARNESS_URL": registry.url}).start(log_dir)


def main() -> None:  # pragma: no cover - interactive
    from harness.config import get_settings
    from harness.db import resolve_database_url

    s = get_settings()
    data_dir = s.data_dir.resolve() / "stack"
    data_dir.mkdir(parents=True, exist_ok=True)
    db = resolve_database_url(s.database_url, s.pgdata_dir)
    if not FAKE_BIN.exists():
        sys.exit(f"{FAKE_BIN} is missing: run `make pubsub-fake`")
    fake_port, gcs_port = free_port(), free_port()
    fake = subprocess.Popen([str(FAKE_BIN), "-host", "127.0.0.1", "-port", str(fake_port)],
                            stdout=subprocess.DEVNULL)
    gcs = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "-H",
                            "127.0.0.1", "--port", str(gcs_port), "--in-memory",
                            "--default-bucket", "harness", "-q"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    wait_tcp("127.0.0.1", fake_port)
    wait_tcp("127.0.0.1", gcs_port)
    env = service_env(database_url=db, pubsub_host=f"127.0.0.1:{fake_port}",
                      storage_host=f"http://127.0.0.1:{gcs_port}",
                      artifacts_uri="gs://harness/artifacts", data_dir=data_dir)
    registry, runner = start_services(env, log_dir=data_dir / "logs")
    scorer = start_worker("scorer", env, registry, log_dir=data_dir / "logs")
    generator = start_worker("generator", env, registry, log_dir=data_dir / "logs")
    gateway = start_worker("gateway", env, registry, log_dir=data_dir / "logs")
    print(f"registry  {registry.url}  (API docs {registry.url}/docs)")
    print(f"runner    {runner.url}")
    print(f"scorer    {scorer.url}")
    print(f"generator {generator.url}")
    print(f"gateway   {gateway.url}/v1  (OpenAI-compatible; keys: POST /gateway/keys)")
    print(f"pubsub    PUBSUB_EMULATOR_HOST=127.0.0.1:{fake_port}  project {PROJECT}")
    print(f"gcs       STORAGE_EMULATOR_HOST=http://127.0.0.1:{gcs_port}  bucket harness")
    print(f"logs      {data_dir / 'logs'}   (Ctrl-C stops everything)")
    def _stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for svc in (gateway, generator, scorer, runner, registry):
            svc.stop()
        for p in (gcs, fake):
            p.terminate()


if __name__ == "__main__":  # pragma: no cover
    main()
