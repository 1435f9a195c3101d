"""One round's pipeline: decrypt → verify → clear → audit → settle → watch proofs → slash misses.

Each call of :meth:`RoundPipeline.step` performs at most one phase transition and persists it, so a
keeper stopped between any two steps resumes where it was (tests restart it between every pair).
Every step that sends a transaction first asks the chain whether the work is already done, and the
contract refuses a second settlement anyway; together that makes settlement exactly-once.

Phases (:class:`~bridge.keeper.store.Phase`):

``open``            wait until the commit window closed in a confirmed block and every commitment
                    the contract counted is in the store;
``closed``          open every envelope (:func:`bridge.sealed.open_many`): valid, or invalid with
                    a reason; never fatal for the round;
``decrypted``       check collateral and mechanism rules, clear, :func:`~bridge.mechanisms.audit`
                    (an outcome that fails is never sent), build the settlement;
``cleared``         send the paged settlement: ``beginSettlement``, then each ``settleBids`` page
                    after the previous receipt, always the page that starts where the chain's
                    ``settlementProgress`` says the settlement stands (hashes stored as they are
                    broadcast; a page is never applied twice, a dropped one is sent again);
``settlement_sent`` on restart: settled on chain? mined? still pending? else continue;
``settled``         rebuild the jobs from the ``BidsSettled`` logs (the chain's truth);
``proofs``          mark proofs and slashes from events; after the proof deadline slash the rest;
``finalized`` / ``voided``: nothing more to do.

A round not settled by its deadline is voided page by page (by this keeper, since anyone may): the
charges of settled pages are unwound, the other bids' escrow returned.

When the contract rejects a settlement transaction the keeper does not send the same outcome
again: before any page landed it re-reads the chain and clears again (at most
``MAX_REJECTIONS`` times); otherwise it stops sending and voids the round after its deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from bridge import sealed
from bridge.chain import limits as tx_limits
from bridge.chain.groth16 import ProvabilityChecker, generic_registry
from bridge.chain.logs import Event
from bridge.chain.market import Market, RoundStatus
from bridge.chain.sender import SentTx, TxSender
from bridge.chain.settlement import (
    AskReveal,
    BidReveal,
    Job,
    JobEntry,
    JobTree2,
    SettledPage,
    SettlementPlan,
    entries_from_outcome,
    jobs_from_logs,
    plan_settlement,
    void_transactions,
)
from bridge.errors import AuditError, BridgeError, SettlementRejected
from bridge.evidence import MAX_PAGE_SIZE, MarkReason, make_evidence
from bridge.keeper.metrics import KeeperMetrics
from bridge.keeper.store import OpeningRow, Phase, Store
from bridge.mechanisms import Ask, Bid, audit, clear
from bridge.proving import task_units
from bridge.units import format_wei, plural

log = logging.getLogger(__name__)

INSUFFICIENT_COLLATERAL = MarkReason.INSUFFICIENT_COLLATERAL.label
SIZE_NOT_ONE = MarkReason.SIZE_NOT_ONE.label
QUANTITY_NOT_CAPACITY = MarkReason.QUANTITY_NOT_CAPACITY.label
COST_TOO_LARGE = MarkReason.COST_TOO_LARGE.label
SIZE_TOO_LARGE = MarkReason.SIZE_TOO_LARGE.label
SIZE_NOT_TASK_UNITS = MarkReason.SIZE_NOT_TASK_UNITS.label
UNPROVABLE = MarkReason.UNPROVABLE.label
MAX_REJECTIONS = 2  # re-clearings after the contract rejected a settlement before any page landed
FILL_ALERT_PERCENT = 90  # warn when a round holds this share of its commitment cap


@dataclass(frozen=True)
class ChainView:
    """What one tick knows of the chain: the confirmed head and the latest block's time."""

    safe_block: int
    safe_time: int
    latest_time: int


def _b(value: Any) -> bytes:
    """Bytes from an event argument (stored events keep bytes as 0x-hex)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    raise TypeError(f"expected bytes, got {type(value).__name__}")


class RoundPipeline:
    """Advances rounds of one market; see the module docstring."""

    def __init__(self, market: Market, store: Store, sender: TxSender, private_key: bytes,
                 metrics: KeeperMetrics,
                 schedule: Callable[[int, str, int], None] | None = None) -> None:
        self.market = market
        self.store = store
        self.sender = sender
        self.private_key = private_key
        self.metrics = metrics
        self.schedule = schedule
        self.params = market.params
        self.limits = tx_limits.DEFAULT
        self._plans: dict[int, tuple[str, SettlementPlan]] = {}
        self._mine_cache: dict[int, bool] = {}
        self._provability: ProvabilityChecker | None = None
        self._generic: bool | None = None

    def provability(self) -> ProvabilityChecker | None:
        """The checker of circuit tasks when the market's verifier is a ``Groth16Registry``."""
        if self._generic is None:
            self._generic = False
            if self.market.circuit_tasks:
                reg = generic_registry(self.market.w3, self.market.params.verifier)
                if reg is not None:
                    self._generic = True
                    self._provability = ProvabilityChecker(reg)
        return self._provability

    # -- driving ---------------------------------------------------------------------------
    def advance(self, r: int, view: ChainView, max_steps: int = 16) -> Phase:
        """Step ``r`` until it stops moving (or ``max_steps``); returns the phase reached."""
        phase = self.store.round_phase(r) or Phase.OPEN
        for _ in range(max_steps):
            new = self.step(r, view)
            if new is phase:
                break
            phase = new
        return phase

    def step(self, r: int, view: ChainView) -> Phase:
        """At most one transition of round ``r``; returns the (possibly unchanged) phase."""
        phase = self.store.round_phase(r)
        if phase is None:
            self.store.set_phase(r, Phase.OPEN)
            phase = Phase.OPEN
        if phase.terminal:
            return phase
        if phase in (Phase.OPEN, Phase.CLOSED, Phase.DECRYPTED, Phase.CLEARED,
                     Phase.SETTLEMENT_SENT) and view.latest_time > self.params.settle_deadline(r):
            voided = self._void_if_unsettled(r)
            if voided is not None:
                return voided
        handler = {
            Phase.OPEN: self._open,
            Phase.CLOSED: self._decrypt,
            Phase.DECRYPTED: self._clear,
            Phase.CLEARED: self._settle,
            Phase.SETTLEMENT_SENT: self._check_sent,
            Phase.SETTLED: self._jobs,
            Phase.PROOFS: self._proofs,
        }[phase]
        new = handler(r, view)
        if new is not phase:
            self.store.set_phase(r, new)
            log.info("round %s: %s -> %s", r, phase.value, new.value)
        return new

    # -- open -> closed ----------------------------------------------------------------------
    def _commits(self, r: int) -> tuple[list[Event], list[Event]]:
        bids = sorted(self.store.events("BidCommitted", round=r), key=lambda e: e.args["index"])
        asks = sorted(self.store.events("AskCommitted", round=r), key=lambda e: e.args["index"])
        return bids, asks

    def _mine(self, r: int) -> bool:
        """Whether ``r`` is this keeper's: its term names this address and this key."""
        if r in self._mine_cache:  # fixed once the round has opened (rotations start later)
            return self._mine_cache[r]
        keeper, key = self.market.keeper_for(r)
        ours = sealed.public_key_bytes64(self.private_key)
        self._mine_cache[r] = keeper == self.sender.address and key == ours
        if self._mine_cache[r]:
            return True
        log.warning("round %s belongs to keeper %s (key 0x%s…), not this one: left to it, and "
                    "voided here if it is not settled by its deadline", r, keeper, key[:8].hex())
        return False

    def _open(self, r: int, view: ChainView) -> Phase:
        if not self._mine(r):
            # another keeper's round: left to it; voided here (as anyone may) if it is missed
            deadline = self.params.settle_deadline(r)
            if view.latest_time > deadline:  # settled: the void check above found it so
                self.store.set_phase(r, Phase.FINALIZED, note="another keeper's round")
                return Phase.FINALIZED
            if self.schedule is not None:
                self.schedule(r, "settle-deadline", deadline + 1)
            return Phase.OPEN
        closes = self.params.closes_at(r)
        if view.safe_time < closes:
            if self.schedule is not None:
                self.schedule(r, "close", closes)
            return Phase.OPEN
        info = self.market.round_info(r, view.safe_block)
        if info.status is RoundStatus.SETTLED:
            return Phase.SETTLED
        if info.status is RoundStatus.VOIDED:
            return self._voided(r)
        bids, asks = self._commits(r)
        if (len(bids), len(asks)) != (info.bid_count, info.ask_count):
            log.info("round %s: waiting for logs (%s/%s bids, %s/%s asks read)", r, len(bids),
                     info.bid_count, len(asks), info.ask_count)
            return Phase.OPEN
        if not bids and not asks:
            self.store.set_phase(r, Phase.FINALIZED, note="no commitments")
            return Phase.FINALIZED
        self._alert_fill(r, "bid", len(bids), self.params.max_bids_per_round)
        self._alert_fill(r, "ask", len(asks), self.params.max_asks_per_round)
        if self.schedule is not None:
            self.schedule(r, "settle-deadline", self.params.settle_deadline(r) + 1)
        return Phase.CLOSED

    def _alert_fill(self, r: int, side: str, count: int, cap: int) -> None:
        self.metrics.round_fill.labels(side=side).set(count / cap)
        if count * 100 >= FILL_ALERT_PERCENT * cap:
            log.warning("round %s holds %s of at most %s %ss (%s%%): the cap refuses more "
                        "(RoundFull)", r, count, cap, side, count * 100 // cap)

    # -- closed -> decrypted -----------------------------------------------------------------
    def _decrypt(self, r: int, view: ChainView) -> Phase:
        bids, asks = self._commits(r)
        envelopes = [
            sealed.Envelope(participant=e.args["requester"], side=sealed.Side.BID,
                            commitment=_b(e.args["commitment"]),
                            ciphertext=_b(e.args["ciphertext"]), escrow=int(e.args["escrow"]))
            for e in bids
        ] + [
            sealed.Envelope(participant=e.args["prover"], side=sealed.Side.ASK,
                            commitment=_b(e.args["commitment"]),
                            ciphertext=_b(e.args["ciphertext"]), capacity=int(e.args["capacity"]))
            for e in asks
        ]
        results = sealed.open_many(self.private_key, envelopes, chain_id=self.params.chain_id,
                                   market=self.market.address, round=r)
        rows: list[OpeningRow] = []
        for env, ev, res in zip(envelopes, [*bids, *asks], results, strict=True):
            side = int(env.side)
            label = "bid" if side == 0 else "ask"
            if isinstance(res, sealed.ValidBid):
                rows.append(OpeningRow(round=r, side=side, index=int(ev.args["index"]),
                                       participant=str(env.participant), valid=True,
                                       price=str(res.price), quantity=str(res.quantity),
                                       salt="0x" + res.salt.hex()))
                self.metrics.bids_valid.labels(side=label).inc()
            else:
                rows.append(OpeningRow(round=r, side=side, index=int(ev.args["index"]),
                                       participant=str(env.participant), valid=False,
                                       reason=str(res.reason), detail=res.detail))
                self.metrics.bids_invalid.labels(side=label, reason=str(res.reason)).inc()
                log.warning("round %s: %s %s from %s is invalid (%s): %s", r, label,
                            ev.args["index"], env.participant, res.reason, res.detail)
        self.store.save_openings(r, rows)
        return Phase.DECRYPTED

    # -- decrypted -> cleared ----------------------------------------------------------------
    def _mark_invalid(self, row: OpeningRow, reason: str, detail: str) -> None:
        row.valid = False
        row.reason = reason
        row.detail = detail
        label = "bid" if row.side == 0 else "ask"
        self.metrics.bids_invalid.labels(side=label, reason=reason).inc()
        log.warning("round %s: %s %s from %s is invalid (%s): %s", row.round, label, row.index,
                    row.participant, reason, detail)

    def _apply_rules(self, r: int, rows: list[OpeningRow]) -> None:
        """Exclude what the contract would refuse: Prooφ shapes and uncovered collateral."""
        proofphi = self.params.mechanism == "proofphi"
        ask_events = {int(e.args["index"]): e for e in self.store.events("AskCommitted", round=r)}
        bid_events = {int(e.args["index"]): e for e in self.store.events("BidCommitted", round=r)}
        for row in rows:
            if not row.valid:
                continue
            if row.side == 0 and proofphi and int(row.quantity) != 1:
                self._mark_invalid(row, SIZE_NOT_ONE,
                                   f"sealed size {row.quantity}: Prooφ tasks have size 1")
            elif row.side == 0 and int(row.quantity) > MAX_PAGE_SIZE:
                self._mark_invalid(row, SIZE_TOO_LARGE,
                                   f"sealed size {row.quantity} does not fit a settlement page "
                                   f"(at most {MAX_PAGE_SIZE} units)")
            elif row.side == 0 and not proofphi and self.market.circuit_tasks:
                units = task_units(_b(bid_events[row.index].args["task"]))
                if int(row.quantity) != units:
                    self._mark_invalid(row, SIZE_NOT_TASK_UNITS,
                                       f"sealed size {row.quantity}, but the task's circuit is "
                                       f"{units} units")
            if row.side == 1:
                capacity = int(ask_events[row.index].args["capacity"])
                if int(row.price) > tx_limits.MAX_PAGE_AMOUNT:
                    self._mark_invalid(row, COST_TOO_LARGE,
                                       f"sealed cost {row.price} does not fit a settlement page "
                                       f"(at most 2^128 - 1 wei per unit)")
                    continue
                if proofphi and int(row.quantity) != capacity:
                    self._mark_invalid(row, QUANTITY_NOT_CAPACITY,
                                       f"sealed units {row.quantity} ≠ declared capacity "
                                       f"{capacity}: Prooφ asks offer their whole capacity")
                    continue
                cap = self.params.refund_cap
                if cap > 0:
                    info = self.market.prover_info(row.participant)
                    free_units = (info["collateral"] // cap
                                  - self.market.outstanding_units(row.participant))
                    if int(row.quantity) > free_units:
                        self._mark_invalid(row, INSUFFICIENT_COLLATERAL,
                                           f"collateral covers {max(free_units, 0)} more units, "
                                           f"ask offers {row.quantity}")
        self._check_provable(rows, bid_events)

    def _check_provable(self, rows: list[OpeningRow], bid_events: dict[int, Event]) -> None:
        """Mark ``unprovable`` every valid circuit task whose registered witness generator cannot
        compute its witness (a market whose verifier is a ``Groth16Registry``): one generator
        process per circuit for the whole round (~1 ms a task for a small circuit)."""
        checker = self.provability()
        if checker is None:
            return
        bids = [x for x in rows if x.side == 0 and x.valid]
        verdicts = checker.check_many([(_b(bid_events[x.index].args["task"]),
                                        [int(v) for v in bid_events[x.index].args["inputs"]])
                                       for x in bids])
        for row, verdict in zip(bids, verdicts, strict=True):
            if not verdict.provable:
                self._mark_invalid(row, UNPROVABLE, verdict.detail)

    def _evidence(self, event: Event, row: OpeningRow) -> bytes:
        """The published evidence of an invalid mark: reason, shared point, DLEQ proof."""
        reason = MarkReason.from_label(str(row.reason))
        return make_evidence(self.private_key, _b(event.args["ciphertext"]), reason).encode()

    def _clear(self, r: int, view: ChainView) -> Phase:
        started = time.perf_counter()
        rows = self.store.openings(r)
        self._apply_rules(r, rows)
        self.store.save_openings(r, [OpeningRow(**{c: getattr(x, c) for c in (
            "round", "side", "index", "participant", "valid", "reason", "detail", "price",
            "quantity", "salt")}) for x in rows])
        bid_rows = [x for x in rows if x.side == 0]
        ask_rows = [x for x in rows if x.side == 1]
        bids = [Bid(x.index, int(x.price), int(x.quantity), x.participant)
                for x in bid_rows if x.valid]
        asks = [Ask(x.index, int(x.price), int(x.quantity), x.participant)
                for x in ask_rows if x.valid]
        mech = self.params.mechanism
        price = self.market.round_price(r) if mech == "fixedprice" else None
        outcome = clear(mech, bids, asks, price=price)
        try:
            audit(mech, bids, asks, outcome, price=price)
        except AuditError as exc:
            log.error("round %s: outcome failed the audit, not sending it: %s", r, exc)
            self.store.set_phase(r, Phase.DECRYPTED, note=f"audit failed: {exc}")
            raise
        bid_events, ask_events = self._commits(r)
        reveals = [
            BidReveal(
                requester=ev.args["requester"], escrow=int(ev.args["escrow"]),
                task=_b(ev.args["task"]), valid=row.valid,
                value=int(row.price) if row.valid else 0,
                size=int(row.quantity) if row.valid else 0,
                salt=_b(row.salt) if row.valid else b"\x00" * 32,
                commitment=_b(ev.args["commitment"]),
                charge=outcome.charges.get(row.index, 0),
                evidence=b"" if row.valid else self._evidence(ev, row))
            for ev, row in zip(bid_events, bid_rows, strict=True)
        ]
        ask_reveals = [
            AskReveal(
                prover=ev.args["prover"], capacity=int(ev.args["capacity"]), valid=row.valid,
                cost=int(row.price) if row.valid else 0,
                quantity=int(row.quantity) if row.valid else 0,
                salt=_b(row.salt) if row.valid else b"\x00" * 32,
                commitment=_b(ev.args["commitment"]),
                evidence=b"" if row.valid else self._evidence(ev, row))
            for ev, row in zip(ask_events, ask_rows, strict=True)
        ]
        entries = entries_from_outcome(ask_reveals, outcome.assignment, outcome.job_payments())
        previous = self.store.outcome(r) or {}
        self.store.save_outcome(r, {
            "rejections": int(previous.get("rejections", 0)),
            "mechanism": mech,
            "charges": {str(k): v for k, v in outcome.charges.items()},
            "payouts": {str(k): v for k, v in outcome.payouts.items()},
            "assignment": {str(k): {str(a): u for a, u in v.items()}
                           for k, v in outcome.assignment.items()},
            "bids": [list(b.as_tuple()) for b in reveals],
            "asks": [list(a.as_tuple()) for a in ask_reveals],
            "entries": [list(e.as_tuple()) for e in entries],
        })
        self.metrics.clearing_seconds.observe(time.perf_counter() - started)
        log.info("round %s cleared (%s): %s, %s, charged %s, paid %s", r, mech,
                 plural(len(outcome.charges), "winner"), plural(len(entries), "job"),
                 format_wei(sum(outcome.charges.values())),
                 format_wei(sum(outcome.payouts.values())))
        return Phase.CLEARED

    # -- cleared -> settled --------------------------------------------------------------------
    def plan(self, r: int) -> SettlementPlan:
        """The stored outcome as the pages of a settlement (cached per outcome)."""
        o = self.store.outcome(r)
        if o is None:
            raise BridgeError(f"round {r} has no stored outcome")
        key = repr((o["bids"], o["asks"], o["entries"]))
        cached = self._plans.get(r)
        if cached is not None and cached[0] == key:
            return cached[1]

        def b32(v: Any) -> bytes:
            return _b(v) if isinstance(v, str) else bytes(v)

        bids = [BidReveal(b[0], int(b[1]), b32(b[2]), bool(b[3]), int(b[4]), int(b[5]), b32(b[6]),
                          b32(b[7]), int(b[8]), b32(b[9])) for b in o["bids"]]
        asks = [AskReveal(a[0], int(a[1]), bool(a[2]), int(a[3]), int(a[4]), b32(a[5]), b32(a[6]),
                          b32(a[7])) for a in o["asks"]]
        entries = [JobEntry(*(int(x) for x in e)) for e in o["entries"]]
        plan = plan_settlement(r, self.params.mechanism, bids, asks, entries,
                               self.params.proof_deadline(r), self.limits,
                               self.params.checkpoint_interval)
        self._plans[r] = (key, plan)
        return plan

    def _settle(self, r: int, view: ChainView) -> Phase:
        o = self.store.outcome(r) or {}
        if int(o.get("rejections", 0)) > MAX_REJECTIONS:
            return Phase.CLEARED  # given up sending: the round is voided after its deadline
        plan = self.plan(r)
        first_table = keccak(plan.pages[0].table) if plan.pages else None
        while True:
            info = self.market.round_info(r)
            if info.status is RoundStatus.SETTLED:
                return Phase.SETTLED
            if info.status is RoundStatus.VOIDED:
                return self._voided(r)
            progress = self.market.settlement_progress(r)
            page = None
            if info.status is RoundStatus.OPEN or (
                    progress.pages == 0 and first_table is not None
                    and progress.ask_table_hash != first_table):
                fn, args, gas = "beginSettlement", plan.begin_args(), plan.begin_gas
            else:
                page = next((p for p in plan.pages if p.first == progress.bids_done), None)
                if page is None or keccak(page.table) != progress.ask_table_hash:
                    log.error("round %s: the settlement on chain (%s bids settled) does not "
                              "continue this keeper's plan; it will be voided after its deadline",
                              r, progress.bids_done)
                    self._count_rejection(r, MAX_REJECTIONS + 1)
                    return Phase.CLEARED
                fn, args, gas = "settleBids", page.args(r), page.gas
            self.store.set_phase(r, Phase.SETTLEMENT_SENT)
            self.store.add_settle_hash(r, -1, [])

            def remember(sent: SentTx) -> None:
                known = self.store.settle_hashes(r)
                self.store.add_settle_hash(r, sent.nonce,
                                           known + [h for h in sent.hashes if h not in known])

            try:
                receipt = self.sender.send({**self.market.tx(fn, *args), "gas": gas},
                                           on_broadcast=remember)
            except SettlementRejected as exc:
                if exc.name == "RoundAlreadyFinal":
                    return Phase.SETTLEMENT_SENT  # the chain says final: the next step reads it
                if exc.name == "SettleDeadlinePassed":
                    # final: no settlement can land any more; the round is voided (next step)
                    log.error("round %s: %s too late: %s; the round will be voided", r, fn, exc)
                    return Phase.CLEARED
                rejections = self._count_rejection(r)
                log.error("round %s: %s rejected by the contract (rejection %s; it clears "
                          "again up to %s times): %s", r, fn, rejections, MAX_REJECTIONS, exc)
                if progress.pages == 0 and rejections <= MAX_REJECTIONS:
                    return Phase.DECRYPTED  # re-read the chain (collateral, rules) and clear again
                return Phase.CLEARED
            self.metrics.settlement_gas.observe(int(receipt["gasUsed"]))
            if (page is not None and page.last) or (page is None and not plan.pages):
                self.metrics.rounds_settled.inc()
                log.info("round %s settled in %s pages (last in block %s, gas %s)", r,
                         len(plan.pages), receipt["blockNumber"], receipt["gasUsed"])
                return Phase.SETTLED

    def _count_rejection(self, r: int, at_least: int = 0) -> int:
        o = self.store.outcome(r) or {}
        o["rejections"] = max(int(o.get("rejections", 0)) + 1, at_least)
        self.store.save_outcome(r, o)
        self._plans.pop(r, None)
        return int(o["rejections"])

    def _check_sent(self, r: int, view: ChainView) -> Phase:
        info = self.market.round_info(r)
        if info.status is RoundStatus.SETTLED:
            return Phase.SETTLED
        if info.status is RoundStatus.VOIDED:
            return self._voided(r)
        hashes = self.store.settle_hashes(r)
        receipt = self.sender.lookup(hashes)
        if receipt is None and any(self._known(h) for h in hashes):
            log.info("round %s: settlement %s still pending", r, hashes[-1])
            return Phase.SETTLEMENT_SENT
        return Phase.CLEARED  # mined and reverted, or lost: settle again (the chain re-checks)

    def _known(self, tx_hash: str) -> bool:
        try:
            self.market.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            return True
        except Exception:
            return False

    # -- settled -> proofs -> finalized --------------------------------------------------------
    def settled_pages(self, r: int) -> list[SettledPage]:
        """The round's ``BidsSettled`` logs read so far, in page order (one per page)."""
        pages: dict[int, SettledPage] = {}
        for e in self.store.events("BidsSettled", round=r):
            a = e.args
            pages[int(a["page"])] = SettledPage(int(a["page"]), int(a["firstBid"]),
                                                int(a["firstJob"]),
                                                tuple(int(c) for c in a["charges"]),
                                                tuple(int(j) for j in a["jobs"]))
        return [pages[k] for k in sorted(pages)]

    def _bid_commits(self, r: int) -> list[tuple[str, int, bytes]]:
        bids, _ = self._commits(r)
        return [(e.args["requester"], int(e.args["escrow"]), _b(e.args["task"])) for e in bids]

    def jobs_from_chain(self, r: int) -> tuple[list[Job], JobTree2] | None:
        """The round's jobs and tree rebuilt from its logs (None until every page is read)."""
        settled = self.store.events("RoundSettled", round=r)
        if not settled:
            return None
        ev = settled[-1]
        pages = self.settled_pages(r)
        if len(pages) != int(ev.args["pages"]):
            return None
        _, asks = self._commits(r)
        jobs, tree, _charges = jobs_from_logs(r, self._bid_commits(r),
                                              [e.args["prover"] for e in asks], pages,
                                              self.params.proof_deadline(r))
        if tree.root != _b(ev.args["jobRoot"]):
            raise BridgeError(f"round {r}: jobs rebuilt from the logs do not match the job root")
        return jobs, tree

    def _jobs(self, r: int, view: ChainView) -> Phase:
        rebuilt = self.jobs_from_chain(r)
        if rebuilt is None:
            status = self.market.round_info(r).status
            if status in (RoundStatus.OPEN, RoundStatus.SETTLING):
                # the settlement (or its last pages) was mined and then dropped by a
                # reorganisation: the chain lacks it, so continue from where the chain stands
                log.warning("round %s: the settlement is no longer on chain (reorganisation); "
                            "sending it again", r)
                self.sender.resync_nonce()
                return Phase.CLEARED
            if status is RoundStatus.VOIDED:
                return self._voided(r)
            return Phase.SETTLED  # the RoundSettled log is not confirmed yet
        jobs, _tree = rebuilt
        self.store.save_jobs(r, [{"job": j.job_index, "prover": j.prover,
                                  "tuple": list(j.as_tuple())} for j in jobs])
        if jobs and self.schedule is not None:
            self.schedule(r, "proof-deadline", jobs[0].proof_deadline + 1)
        return Phase.PROOFS

    def _proofs(self, r: int, view: ChainView) -> Phase:
        proven = {int(e.args["jobIndex"]) for e in self.store.events("ProofAccepted", round=r)}
        slashed = {int(e.args["jobIndex"]) for e in self.store.events("JobSlashed", round=r)}
        stored = self.store.jobs(r)
        for index, status, _data in stored:
            if index in proven and status != "proven":
                self.store.set_job_status(r, index, "proven")
            elif index in slashed and status != "slashed":
                self.store.set_job_status(r, index, "slashed")
        pending = [(i, d) for i, s, d in self.store.jobs(r) if s == "assigned"]
        if not pending:
            if self.market.uncollected_margin(r) > 0:
                self.sender.send(self.market.tx("collectMargins", r))
                log.info("round %s: margins moved to the treasury", r)
            return Phase.FINALIZED
        deadline = int(pending[0][1]["tuple"][8])
        if view.latest_time <= deadline:
            return Phase.PROOFS
        rebuilt = self.jobs_from_chain(r)
        if rebuilt is None:
            return Phase.PROOFS
        jobs, tree = rebuilt
        for index, _ in pending:
            if self.market.is_resolved(r, index):
                continue  # resolved on chain; its event arrives with confirmations
            job = jobs[index]
            def remember(sent: SentTx, i: int = index) -> None:
                self.store.set_job_status(r, i, "assigned", slash_hashes=sent.hashes)

            try:
                self.sender.send(self.market.tx("slash", r, job.as_tuple(), tree.proof(index)),
                                 on_broadcast=remember)
            except SettlementRejected as exc:
                if exc.name in ("JobAlreadyResolved", "ProofDeadlineNotReached"):
                    log.info("round %s job %s: %s", r, index, exc)
                    continue
                raise
            self.metrics.slashes.inc()
            log.warning("round %s: job %s of %s was not proven in time: slashed", r, index,
                        job.prover)
        return Phase.PROOFS

    # -- voiding ---------------------------------------------------------------------------
    def _voided(self, r: int) -> Phase:
        self.metrics.rounds_voided.inc()
        return Phase.VOIDED

    def _void_if_unsettled(self, r: int) -> Phase | None:
        info = self.market.round_info(r)
        if info.status is RoundStatus.SETTLED:
            return None
        if info.status is RoundStatus.VOIDED:
            self.store.set_phase(r, Phase.VOIDED)
            return self._voided(r)
        bids, _ = self._commits(r)
        if len(bids) != info.bid_count:
            return None  # not every commitment read yet; void once they are
        progress = self.market.settlement_progress(r)
        pages = self.settled_pages(r)
        if len(pages) < progress.pages:
            return None  # the settled pages' logs are not all read yet; unwind them once they are
        commits = [(_b(e.args["commitment"]), e.args["requester"], int(e.args["escrow"]),
                    _b(e.args["task"])) for e in bids]
        txs = void_transactions(progress.bids_done, progress.pages, progress.unwound, commits,
                                pages, self.limits, self.params.checkpoint_interval)
        try:
            for fn, args, gas in txs:
                self.sender.send({**self.market.tx(fn, r, *args), "gas": gas})
                if fn == "unwindPage":
                    log.warning("round %s: a settled page unwound (its charges returned)", r)
        except SettlementRejected as exc:
            if exc.name != "RoundAlreadyFinal":
                raise
        log.warning("round %s was not settled by its deadline: voided, escrow released", r)
        self.store.set_phase(r, Phase.VOIDED, note="voided after the settlement deadline")
        return self._voided(r)
