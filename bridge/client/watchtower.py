"""The watchtower: audit every round as it settles (``bridge audit --follow``).

Any participant can run it: it needs only a node and the market's address. Each poll reads the
settlement logs of new blocks (``SettlementBegun``, ``BidsSettled``, ``RoundSettled``), checks the
invalid marks and valid reveals of every page as soon as it lands (:func:`check_pages`: a keeper
that censors a valid bid is flagged at that page, within the round), and once a round has settled,
recomputes its outcome (:func:`check_outcome`). It also alerts when a round is voided (its keeper
missed it), when a settlement is not a direct call on the market (so its calldata cannot be
audited) and when the owner makes itself the keeper. Every discrepancy is logged as one ``ALERT``
line, counted by kind, and handed to ``on_discrepancy``; the Prometheus metrics and ``/healthz``
come from :mod:`bridge.health`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from bridge.chain.logs import LOG_RANGE, LogReader, RememberedBlocks, Reorg, first_block_at
from bridge.chain.market import Market, RoundStatus
from bridge.chain.price_history import PriceHistory, locate_from_node
from bridge.client.round_audit import (
    KINDS,
    Discrepancy,
    RoundAudit,
    check_outcome,
    check_pages,
    check_price,
    pages_so_far,
)
from bridge.errors import BridgeError, UnauditableSettlement
from bridge.sealed import Side

log = logging.getLogger(__name__)

EVENTS = ("SettlementBegun", "BidsSettled", "RoundSettled", "RoundVoided")


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
        self.reorgs = Counter("bridge_watch_reorgs",
                              "Reorganisations deeper than the confirmations (rounds re-audited)",
                              registry=r)
        self.last_tick = Gauge("bridge_watch_last_poll_timestamp",
                               "Unix time of the last complete poll", registry=r)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class Watchtower:
    """Follows one market from ``from_block``; call :meth:`poll` or :meth:`run`.

    ``confirmations``: read only blocks that deep behind the head (on a real network, so that a
    reorganisation does not make the watchtower read pages that then disappear).
    """

    def __init__(self, market: Market, from_block: int, *,
                 metrics: WatchMetrics | None = None,
                 on_discrepancy: Callable[[Discrepancy], None] | None = None,
                 step: int = LOG_RANGE, confirmations: int = 0) -> None:
        self.market = market
        self.from_block = from_block
        self.cursor = from_block
        self.metrics = metrics or WatchMetrics()
        self.on_discrepancy = on_discrepancy
        self.step = step
        self.confirmations = confirmations
        self.found: list[Discrepancy] = []
        self._checked: dict[int, set[tuple[int, int]]] = {}
        self._pending: set[int] = set()  # rounds with settlement activity not yet fully audited
        self._audited: set[int] = set()
        self._begin_tx: dict[int, str | None] = {}
        self._reported: set[str] = set()
        self._stop = threading.Event()
        self._reader = LogReader(market.w3, market.address, market.abi,
                                 start_block=from_block, confirmations=confirmations,
                                 max_range=step)
        self._blocks = RememberedBlocks()
        self._seen: dict[int, int] = {}  # round -> first block with its settlement activity
        self._floors: dict[int, int] = {}  # round -> the block its commit window opens at
        self._prices = PriceHistory(market, self._locate)
        self._price_checked = 0  # fixedprice: rounds below this had their price checked
        self._posts: set[int] = set()  # fixedprice: posted rounds to check as they land

    def _touched(self) -> set[int]:
        """Read the confirmed blocks since the last poll; the rounds with settlement activity.

        The watchtower remembers the hashes of the blocks it read. When one of them is no longer
        on the chain (a reorganisation deeper than ``confirmations``) it says so, rewinds to the
        last block both agree on, and audits every round it had seen after that block again."""
        rounds: set[int] = set()
        while True:
            result = self._reader.poll(self._blocks)
            if result is None:
                break
            if isinstance(result, Reorg):
                self._rewind(result)
                continue
            self._blocks.record(result)
            for e in result.events:
                if e.name in EVENTS:
                    r = int(e.args["round"])
                    rounds.add(r)
                    self._seen.setdefault(r, e.block_number)
                    if e.name in ("SettlementBegun", "BidsSettled"):
                        self.metrics.pages_checked.inc()
                elif e.name == "KeeperRotated":
                    self._check_rotation(e.args, e.block_number)
                elif e.name == "PricePosted" and self.market.params.mechanism == "fixedprice":
                    self._posts.add(int(e.args["round"]))
            self.cursor = result.to_block + 1
        return rounds

    def _rewind(self, reorg: Reorg) -> None:
        again = sorted(r for r, block in self._seen.items() if block > reorg.ancestor)
        log.warning("reorganisation deeper than %s confirmations: blocks after %s changed "
                    "(depth %s); auditing rounds %s again", self.confirmations, reorg.ancestor,
                    reorg.depth, again or "none")
        self.metrics.reorgs.inc()
        self._blocks.rewind(reorg.ancestor)
        self.cursor = reorg.ancestor + 1
        for r in again:
            del self._seen[r]
            self._audited.discard(r)
            self._checked.pop(r, None)
            self._begin_tx.pop(r, None)
            self._pending.add(r)
        self._floors.clear()  # the replaced blocks may carry other timestamps
        self._prices = PriceHistory(self.market, self._locate)
        self._price_checked = min(self._price_checked, min(again, default=self._price_checked))

    def _floor(self, r: int, head: int) -> int:
        """The first block of round ``r`` (its commit window opens there): every log the audit
        of ``r`` reads is at or after it, so a poll reads a round's own blocks, not the chain's
        history since ``from_block``."""
        if r not in self._floors:
            opens = self.market.params.closes_at(r) - self.market.params.commit_period
            self._floors[r] = max(self.from_block,
                                  first_block_at(self.market.w3, opens, self.from_block, head))
        return self._floors[r]

    def _locate(self, k: int) -> tuple[str, list[str]] | None:
        return locate_from_node(self.market, self._floor(k, self.cursor - 1))(k)

    def _check_rotation(self, args: dict[str, Any], block: int) -> None:
        owner = str(self.market.contract.functions.owner().call(block_identifier=block))
        keeper = str(args["keeper"])
        if keeper.lower() == owner.lower():
            self._report([Discrepancy(int(args["fromRound"]), "same_owner_and_keeper",
                                      "keeper", f"the owner {owner} made itself the keeper from "
                                      "this round on: it could post DARA outcomes whose surplus "
                                      "it collects")])

    def _report(self, found: list[Discrepancy]) -> None:
        for d in found:
            if d.line() in self._reported:
                continue
            self._reported.add(d.line())
            self.found.append(d)
            self.metrics.discrepancies.labels(kind=d.kind).inc()
            log.error("ALERT %s", d.line())
            if self.on_discrepancy is not None:
                self.on_discrepancy(d)

    def _audit(self, r: int, head: int) -> None:
        mech = self.market.params.mechanism
        status = self.market.round_info(r, head).status
        if status is RoundStatus.VOIDED:
            self._report([Discrepancy(r, "missed", "round", "voided: its keeper did not settle it "
                                      "by the settle deadline (every escrow was returned)")])
            self._audited.add(r)
            return
        floor = self._floor(r, head)
        pages = pages_so_far(self.market, r, floor, mech, head)
        done = self._checked.setdefault(r, set())
        if pages.begin_tx != self._begin_tx.get(r):  # settlement begun (again): new ask reveals
            self._begin_tx[r] = pages.begin_tx
            done -= {key for key in done if key[0] == int(Side.ASK)}
        before = len(done)
        # once settled, every order once more as it stands (whatever was begun again before);
        # reports are deduplicated
        settled = status is RoundStatus.SETTLED
        result = check_pages(self.market, r, floor, pages=pages,
                             done=None if settled else done, to_block=head)
        self.metrics.marks_checked.inc(len(result.marks))
        if len(done) != before:
            log.info("round %s: %s more orders checked", r, len(done) - before)
        self._report(result.differences)
        if settled:
            outcome = RoundAudit(r, mech)
            check_outcome(self.market, r, floor, outcome)
            self._report(outcome.differences)
            self.metrics.rounds_audited.inc()
            self._audited.add(r)
            bad = [d for d in self.found if d.round == r]
            log.info("round %s audited: %s", r, f"{len(bad)} discrepancies" if bad else "ok")

    def poll(self) -> list[Discrepancy]:
        """Audit what landed since the last poll; returns the new discrepancies."""
        before = len(self.found)
        chain_head = int(self.market.w3.eth.block_number)
        self._pending |= self._touched() - self._audited
        head = self.cursor - 1  # the last confirmed block read: audit exactly what was read
        for r in sorted(self._pending):
            try:
                self._audit(r, head)
            except UnauditableSettlement as exc:
                self._report([Discrepancy(r, "unauditable", "round", str(exc))])
                self._audited.add(r)
        self._pending -= self._audited
        if self.market.params.mechanism == "fixedprice":
            self._check_prices(head)
        self.metrics.lag_blocks.set(max(0, chain_head + 1 - self.cursor))
        self.metrics.last_tick.set(time.time())
        return self.found[before:]

    def _check_prices(self, head: int) -> None:
        """fixedprice: every post as it lands (before its round opens), and every round's price
        once it has opened (a post the rule needed but the keeper did not send shows then)."""
        opened = self.market.params.round_at(self.market.chain_time(head))
        due = set(range(max(self._price_checked, 1), opened + 1)) | self._posts
        for r in sorted(due):
            found = check_price(self._prices, r)
            if found is not None:
                self._report([found])
        self._posts.clear()
        self._price_checked = max(self._price_checked, opened + 1)

    def run(self, interval: float, fail_fast: bool = False) -> int:
        """Poll every ``interval`` seconds until :meth:`stop`; with ``fail_fast`` return 1 at the
        first discrepancy. Node errors are logged and retried."""
        while not self._stop.is_set():
            try:
                new = self.poll()
            except (ConnectionError, OSError, TimeoutError, BridgeError) as exc:
                log.warning("poll failed (%s); retrying in %.1fs", exc, interval)
                new = []
            except Exception:  # never die on odd chain data: say so and keep watching
                log.exception("poll failed unexpectedly; retrying in %.1fs", interval)
                new = []
            if new and fail_fast:
                return 1
            self._stop.wait(interval)
        return 0

    def stop(self) -> None:
        """Make :meth:`run` return after the current poll."""
        self._stop.set()
