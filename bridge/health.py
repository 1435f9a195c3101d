"""``/metrics`` (Prometheus text) and ``/healthz`` (JSON) for the keeper and the watchtower.

``/healthz`` answers 200 while the process's loop has ticked within ``stale_after`` seconds (its
``last_tick`` gauge), 503 otherwise, with ``status`` entries merged into the JSON.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import Gauge
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Rendered(Protocol):
    """What the server needs: the registry rendered, and the loop's last good tick."""

    last_tick: Gauge

    def render(self) -> bytes: ...


class HealthServer:
    """Serves ``/metrics`` and ``/healthz`` on a background thread until :meth:`stop`."""

    def __init__(self, metrics: Rendered, host: str, port: int,
                 stale_after: float = 60.0) -> None:
        self.metrics = metrics
        self.stale_after = stale_after
        self.status: dict[str, Any] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    body, ctype, code = outer.metrics.render(), CONTENT_TYPE_LATEST, 200
                elif self.path.startswith("/healthz"):
                    ok, info = outer.health()
                    body = json.dumps(info).encode()
                    ctype, code = "application/json", 200 if ok else 503
                else:
                    body, ctype, code = b"not found\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            from bridge.errors import ConfigError

            raise ConfigError(f"cannot serve metrics on {host}:{port} ({exc.strerror}): pick "
                              "another metrics_port (--metrics-port), or 0 to turn the endpoint "
                              "off") from None
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="metrics-http")

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the loop ticked recently, with details."""
        last = self.metrics.last_tick._value.get()
        age = time.time() - last if last else None
        ok = age is not None and age <= self.stale_after
        return ok, {"ok": ok, "last_tick_age_s": age, **self.status}

    def start(self) -> HealthServer:
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
