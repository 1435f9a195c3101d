"""Prometheus metrics for the keeper (served with ``/healthz`` by :mod:`bridge.health`).

Each keeper instance owns a registry (so in-process restarts in tests do not collide).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bridge.health import HealthServer

__all__ = ["HealthServer", "KeeperMetrics"]


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
