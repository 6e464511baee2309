"""A tiny HTTP server on loopback that records what it receives (webhooks, OTLP exports).

    with HttpReceiver() as rx:
        post_somewhere(rx.url + "/hook")
        await rx.wait_for(1)
        assert rx.requests[0].json() == {...}

``fail_next(n, status)`` answers the next ``n`` requests with ``status`` (retry tests).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    def json(self):
        return json.loads(self.body)


class HttpReceiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._failures: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    status = receiver._failures.pop(0) if receiver._failures else 200
                    receiver.requests.append(Received(
                        "POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                        body, status))
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, times: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def ok(self) -> list[Received]:
        return [r for r in self.requests if r.status < 300]

    async def wait_for(self, n: int, timeout_s: float = 10.0, *, ok_only: bool = True) -> None:
        """Wait (without blocking the event loop) until ``n`` requests were received."""
        deadline = time.monotonic() + timeout_s
        while len(self.ok() if ok_only else self.requests) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {n} requests, got {len(self.requests)}")
            await asyncio.sleep(0.02)

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
