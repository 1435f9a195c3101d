"""Prometheus metrics and a ``/healthz`` endpoint for the keeper.

Each keeper instance owns a registry (so in-process restarts in tests do not collide). The HTTP
server answers ``/metrics`` in the Prometheus text format and ``/healthz`` with JSON: 200 while the
keeper's loop has ticked within ``stale_after`` seconds, 503 otherwise.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class KeeperMetrics:
    """The keeper's counters, gauges and histograms, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rounds_settled = Counter("bridge_rounds_settled", "Rounds settled by this keeper",
                                      registry=r)
        self.rounds_voided = Counter("bridge_rounds_voided", "Rounds seen voided", registry=r)
        self.bids_valid = Counter("bridge_bids_valid", "Valid sealed bids and asks opened",
                                  ["side"], registry=r)
        self.bids_invalid = Counter("bridge_bids_invalid", "Invalid sealed bids and asks",
                                    ["side", "reason"], registry=r)
        self.clearing_seconds = Histogram("bridge_clearing_seconds",
                                          "Time to clear and audit one round", registry=r)
        self.settlement_gas = Histogram(
            "bridge_settlement_gas", "Gas used by each settlement transaction (begin and pages)",
            buckets=(1e5, 3e5, 1e6, 3e6, 1e7, 3e7), registry=r)
        self.slashes = Counter("bridge_slashes", "Slash transactions sent", registry=r)
        self.round_fill = Gauge("bridge_round_fill_ratio",
                                "Commitments of the last closed round over the per-round cap",
                                ["side"], registry=r)
        self.head_lag = Gauge("bridge_head_lag_blocks",
                              "Chain head minus the last block the keeper scanned", registry=r)
        self.tick_errors = Counter("bridge_tick_errors", "Keeper ticks that raised", registry=r)
        self.last_tick = Gauge("bridge_last_tick_timestamp", "Unix time of the last good tick",
                               registry=r)
        self.is_leader = Gauge("bridge_is_leader", "1 while this keeper holds the lock",
                               registry=r)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class HealthServer:
    """Serves ``/metrics`` and ``/healthz`` on a background thread until :meth:`stop`."""

    def __init__(self, metrics: KeeperMetrics, host: str, port: int,
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

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="keeper-http")

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the keeper ticked recently, with details."""
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
