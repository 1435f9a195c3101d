"""The watchtower: audit every round as it settles (``bridge audit --follow``).

Any participant can run it: it needs only a node and the market's address. Each poll reads the
settlement logs of new blocks (``SettlementBegun``, ``BidsSettled``, ``RoundSettled``), checks the
invalid marks and valid reveals of every page as soon as it lands (:func:`check_pages`: a keeper
that censors a valid bid is flagged at that page, within the round), and once a round has settled,
recomputes its outcome (:func:`check_outcome`). Every discrepancy is logged as one ``ALERT`` line,
counted by kind, and handed to ``on_discrepancy``; the Prometheus metrics and ``/healthz`` come from
:mod:`bridge.health`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from bridge.chain.market import Market, RoundStatus
from bridge.client.participant import LOG_RANGE
from bridge.client.round_audit import (
    KINDS,
    Discrepancy,
    RoundAudit,
    check_outcome,
    check_pages,
)
from bridge.errors import BridgeError

log = logging.getLogger(__name__)

EVENTS = ("SettlementBegun", "BidsSettled", "RoundSettled")


class WatchMetrics:
    """The watchtower's counters and gauges, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rounds_audited = Counter("bridge_watch_rounds_audited",
                                      "Settled rounds whose outcome was recomputed", registry=r)
        self.pages_checked = Counter("bridge_watch_pages_checked",
                                     "Settlement transactions (begin and pages) checked",
                                     registry=r)
        self.marks_checked = Counter("bridge_watch_marks_checked",
                                     "Invalid marks whose evidence was checked", registry=r)
        self.discrepancies = Counter("bridge_watch_discrepancies",
                                     "Keeper decisions contradicted by public data", ["kind"],
                                     registry=r)
        for kind in KINDS:
            self.discrepancies.labels(kind=kind)
        self.lag_blocks = Gauge("bridge_watch_lag_blocks",
                                "Chain head minus the last block audited", registry=r)
        self.last_tick = Gauge("bridge_watch_last_poll_timestamp",
                               "Unix time of the last complete poll", registry=r)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class Watchtower:
    """Follows one market from ``from_block``; call :meth:`poll` or :meth:`run`."""

    def __init__(self, market: Market, from_block: int, *,
                 metrics: WatchMetrics | None = None,
                 on_discrepancy: Callable[[Discrepancy], None] | None = None,
                 step: int = LOG_RANGE) -> None:
        self.market = market
        self.from_block = from_block
        self.cursor = from_block
        self.metrics = metrics or WatchMetrics()
        self.on_discrepancy = on_discrepancy
        self.step = step
        self.found: list[Discrepancy] = []
        self._checked: dict[int, set[tuple[int, int]]] = {}
        self._pending: set[int] = set()  # rounds with settlement activity not yet fully audited
        self._audited: set[int] = set()
        self._stop = threading.Event()

    def _touched(self, head: int) -> set[int]:
        rounds: set[int] = set()
        while self.cursor <= head:
            end = min(self.cursor + self.step - 1, head)
            for name in EVENTS:
                for e in getattr(self.market.contract.events, name)().get_logs(
                        from_block=self.cursor, to_block=end):
                    rounds.add(int(e["args"]["round"]))
                    if name != "RoundSettled":
                        self.metrics.pages_checked.inc()
            self.cursor = end + 1
        return rounds

    def _report(self, found: list[Discrepancy]) -> None:
        for d in found:
            self.found.append(d)
            self.metrics.discrepancies.labels(kind=d.kind).inc()
            log.error("ALERT %s", d.line())
            if self.on_discrepancy is not None:
                self.on_discrepancy(d)

    def poll(self) -> list[Discrepancy]:
        """Audit what landed since the last poll; returns the new discrepancies."""
        before = len(self.found)
        head = int(self.market.w3.eth.block_number)
        self._pending |= self._touched(head) - self._audited
        for r in sorted(self._pending):
            done = self._checked.setdefault(r, set())
            marks_before = len(done)
            result = check_pages(self.market, r, self.from_block, done=done)
            self.metrics.marks_checked.inc(len(result.marks))
            if len(done) != marks_before:
                log.info("round %s: %s more orders checked", r, len(done) - marks_before)
            self._report(result.differences)
            if self.market.round_info(r).status is RoundStatus.SETTLED:
                outcome = RoundAudit(r, result.mechanism)
                check_outcome(self.market, r, self.from_block, outcome)
                self._report(outcome.differences)
                self.metrics.rounds_audited.inc()
                self._audited.add(r)
                bad = [d for d in self.found if d.round == r]
                log.info("round %s audited: %s", r, f"{len(bad)} discrepancies" if bad else "ok")
        self._pending -= self._audited
        self.metrics.lag_blocks.set(max(0, head + 1 - self.cursor))
        self.metrics.last_tick.set(time.time())
        return self.found[before:]

    def run(self, interval: float, fail_fast: bool = False) -> int:
        """Poll every ``interval`` seconds until :meth:`stop`; with ``fail_fast`` return 1 at the
        first discrepancy. Node errors are logged and retried."""
        while not self._stop.is_set():
            try:
                new = self.poll()
            except (ConnectionError, OSError, TimeoutError, BridgeError) as exc:
                log.warning("poll failed (%s); retrying in %.1fs", exc, interval)
                new = []
            if new and fail_fast:
                return 1
            self._stop.wait(interval)
        return 0

    def stop(self) -> None:
        """Make :meth:`run` return after the current poll."""
        self._stop.set()
