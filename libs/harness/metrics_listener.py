"""The loopback metrics listener (``HARNESS_METRICS_PORT``): a second, tiny HTTP server
on 127.0.0.1 that serves this process's ``/metrics`` without an API key.

On Cloud Run the Managed Service for Prometheus sidecar shares the instance's localhost
but cannot send a key; nothing off the instance reaches 127.0.0.1, so the public
``/metrics`` keeps its auth rule while the sidecar scrapes this one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import metrics

LOOPBACK = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404)
            return
        body = metrics.scrape()
        self.send_response(200)
        self.send_header("Content-Type", metrics.CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # one scrape a minute needs no access log


def start(port: int) -> ThreadingHTTPServer:
    """Serve ``/metrics`` on 127.0.0.1:``port`` from a daemon thread (it ends with the
    process); ``shutdown()`` and ``server_close()`` stop it earlier."""
    server = ThreadingHTTPServer((LOOPBACK, port), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-listener",
                     daemon=True).start()
    return server
