"""A small driver over a deployed ProverMarket for tests: rounds, commits, settlement, proofs.

Participants are eth-tester accounts; bids and asks are remembered with their salts so the test can
play the keeper. Clearing uses the real engine (``bridge.mechanisms.clear``) with commit indices
as bid/ask ids.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3.contract import Contract
from web3.types import TxReceipt

from bridge.chain.deploy import Mechanism, transact
from bridge.chain.settlement import (
    AskReveal,
    BidReveal,
    Job,
    JobEntry,
    JobTree2,
    SettlementPlan,
    commitment,
    entries_from_outcome,
    plan_settlement,
    proof_deadline,
    rank_orders,
    void_segments,
)
from bridge.evidence import MarkReason, make_evidence
from bridge.mechanisms import Ask, Bid, clear

CIPHERTEXT = b"\x04" + b"\xab" * 192  # stands in for a 193-byte ECIES envelope of 96 bytes
# Not a curve point, so the honest mark is "undecryptable" with zero shared point and proof.
MARK = make_evidence(b"\x01" * 32, CIPHERTEXT, MarkReason.UNDECRYPTABLE).encode()


def pow_nonce(task: bytes, prover: str, difficulty_bits: int) -> bytes:
    """A nonce passing ProofOfWorkVerifier(difficulty_bits) for (task, prover)."""
    n = 0
    while True:
        nonce = n.to_bytes(32, "big")
        h = int.from_bytes(keccak(abi_encode(["bytes32", "address", "bytes32"],
                                             [task, prover, nonce])), "big")
        if h >> (256 - difficulty_bits) == 0:
            return nonce
        n += 1


class Chain(Protocol):
    """What the driver needs of a chain: eth-tester (``TesterChain``) or anvil (``AnvilChain``)."""

    w3: Any

    def now(self) -> int: ...
    def travel_to(self, timestamp: int) -> None: ...
    def advance(self, seconds: int) -> None: ...
    def snapshot(self) -> int: ...
    def revert(self, snapshot_id: int) -> None: ...


@dataclass
class CommittedBid:
    """A bid as its requester knows it."""

    index: int
    requester: str
    value: int
    size: int
    escrow: int
    task: bytes
    salt: bytes
    commitment: bytes


@dataclass
class CommittedAsk:
    """An ask as its prover knows it."""

    index: int
    prover: str
    cost: int
    quantity: int
    capacity: int
    salt: bytes
    commitment: bytes


@dataclass
class Settled:
    """What a settlement produced: the reveals, entries, jobs and their tree."""

    round: int
    bids: list[BidReveal]
    asks: list[AskReveal]
    entries: list[JobEntry]
    jobs: list[Job]
    tree: JobTree2
    receipt: TxReceipt | None = None
    plan: SettlementPlan | None = None
    receipts: list[TxReceipt] = field(default_factory=list)

    def proof(self, k: int) -> list[bytes]:
        """Merkle proof of job ``k``."""
        return self.tree.proof(k)


@dataclass
class Driver:
    """Drives one market on one chain."""

    chain: Chain
    market: Contract
    keeper: str
    owner: str
    difficulty_bits: int = 8
    bids: dict[int, list[CommittedBid]] = field(default_factory=dict)
    asks: dict[int, list[CommittedAsk]] = field(default_factory=dict)

    # ---- time
    @cached_property
    def mechanism(self) -> Mechanism:
        return Mechanism(self.market.functions.mechanism().call())

    @cached_property
    def name(self) -> str:
        """The clearing engine's name of the market's mechanism."""
        return {Mechanism.PROOFPHI: "proofphi", Mechanism.DARA: "dara",
                Mechanism.FIXEDPRICE: "fixedprice"}[self.mechanism]

    @cached_property
    def _periods(self) -> tuple[int, int, int, int]:
        f = self.market.functions
        return (int(f.genesis().call()), int(f.commitPeriod().call()),
                int(f.settlePeriod().call()), int(f.proofPeriod().call()))

    @cached_property
    def refund_cap(self) -> int:
        return int(self.market.functions.refundCap().call())

    @cached_property
    def min_escrow(self) -> int:
        """The least a bid locks; an ask reserves it too (an invalid order forfeits it)."""
        return int(self.market.functions.minEscrow().call())

    def times(self, r: int) -> tuple[int, int, int, int]:
        return tuple(self.market.functions.roundTimes(r).call())  # type: ignore[return-value]

    def current_round(self) -> int:
        return int(self.market.functions.currentRound().call())

    def next_round(self) -> int:
        """Move into the start of a fresh round and return it (commits land in it)."""
        r = self.current_round() + 1
        self.chain.travel_to(self.times(r)[0] + 1)
        return r

    def close(self, r: int) -> None:
        """Move just past round ``r``'s close (settlement window)."""
        target = self.times(r)[1] + 1
        if self.chain.now() < target:
            self.chain.travel_to(target)

    def past_settle_deadline(self, r: int) -> None:
        target = self.times(r)[2] + 1
        if self.chain.now() < target:
            self.chain.travel_to(target)

    def past_proof_deadline(self, settled: Settled) -> None:
        deadline = settled.jobs[0].proof_deadline if settled.jobs else self.chain.now()
        if self.chain.now() < deadline + 1:
            self.chain.travel_to(deadline + 1)

    # ---- tx
    def send(self, fn_name: str, *args: Any, sender: str, value: int = 0,
             gas: int = 8_000_000) -> TxReceipt:
        fn = getattr(self.market.functions, fn_name)(*args)
        # a fixed gas limit skips eth-tester's estimate (one execution instead of two)
        return transact(fn, sender, value=value, gas=gas)

    def commitment(self, r: int, who: str, side: int, price: int, qty: int, salt: bytes) -> bytes:
        return commitment(self.chain.w3.eth.chain_id, self.market.address, r, who, side, price,
                          qty, salt)

    def commit_bid(self, r: int, requester: str, value: int, size: int = 1,
                   escrow: int | None = None, task: bytes | None = None,
                   deposit: bool = True, raw_commitment: bytes | None = None,
                   circuit: tuple[int, list[int]] | None = None) -> CommittedBid:
        """Commit a bid (``circuit``: ``(circuitId, inputs)`` through ``commitTask``, the task word
        then being the registry's)."""
        escrow = value if escrow is None else escrow
        task = task or os.urandom(32)
        salt = os.urandom(32)
        c = raw_commitment or self.commitment(r, requester, 0, value, size, salt)
        if deposit:
            self.send("deposit", sender=requester, value=escrow)
        if circuit is None:
            self.send("commitBid", r, c, CIPHERTEXT, escrow, task, sender=requester)
        else:
            rc = self.send("commitTask", r, c, CIPHERTEXT, escrow, *circuit, sender=requester)
            task = bytes(self.events(rc, "BidCommitted")[0]["args"]["task"])
        lst = self.bids.setdefault(r, [])
        bid = CommittedBid(len(lst), requester, value, size, escrow, task, salt, c)
        lst.append(bid)
        return bid

    def commit_ask(
        self, r: int, prover: str, cost: int, quantity: int | None = None
    ) -> CommittedAsk:
        capacity = int(self.market.functions.proverInfo(prover).call()[1])
        quantity = capacity if quantity is None else quantity
        salt = os.urandom(32)
        c = self.commitment(r, prover, 1, cost, quantity, salt)
        self.send("commitAsk", r, c, CIPHERTEXT, sender=prover)
        lst = self.asks.setdefault(r, [])
        ask = CommittedAsk(len(lst), prover, cost, quantity, capacity, salt, c)
        lst.append(ask)
        return ask

    def prover_ready(self, prover: str, capacity: int, extra: int = 0) -> None:
        """Stake refundCap·capacity + minEscrow (what one ask reserves) + ``extra`` and declare
        ``capacity``."""
        value = self.refund_cap * capacity + self.min_escrow + extra
        self.send("stake", sender=prover, value=value)
        self.send("setCapacity", capacity, sender=prover)

    # ---- keeper
    def reveals(self, r: int, invalid_bids: Sequence[int] = (), invalid_asks: Sequence[int] = (),
                charges: dict[int, int] | None = None) -> tuple[list[BidReveal], list[AskReveal]]:
        charges = charges or {}
        bids = [
            BidReveal(b.requester, b.escrow, b.task, False, commitment=b.commitment, evidence=MARK)
            if b.index in invalid_bids else
            BidReveal(b.requester, b.escrow, b.task, True, b.value, b.size, b.salt,
                      charge=charges.get(b.index, 0))
            for b in self.bids.get(r, [])
        ]
        asks = [
            AskReveal(a.prover, a.capacity, False, commitment=a.commitment, evidence=MARK)
            if a.index in invalid_asks else
            AskReveal(a.prover, a.capacity, True, a.cost, a.quantity, a.salt)
            for a in self.asks.get(r, [])
        ]
        return bids, asks

    def clear(self, r: int, invalid_bids: Sequence[int] = (), invalid_asks: Sequence[int] = ()
              ) -> tuple[list[BidReveal], list[AskReveal], list[int], list[int], list[JobEntry]]:
        """Reveal and clear round ``r`` with the real engine; returns settle inputs."""
        bids, asks = self.reveals(r, invalid_bids, invalid_asks)
        engine_bids = [Bid(i, b.value, b.size) for i, b in enumerate(bids) if b.valid]
        engine_asks = [Ask(i, a.cost, a.quantity) for i, a in enumerate(asks)
                       if a.valid and a.quantity > 0]
        price = None
        if self.mechanism == Mechanism.FIXEDPRICE:
            price = int(self.market.functions.roundPrice(r).call())
        outcome = clear(self.name, engine_bids, engine_asks, price=price)
        bids = [BidReveal(**{**b.__dict__, "charge": outcome.charges.get(i, 0)})
                for i, b in enumerate(bids)]
        entries = entries_from_outcome(asks, outcome.assignment, outcome.job_payments())
        bid_order, ask_order = rank_orders(bids, asks)
        if self.mechanism != Mechanism.PROOFPHI:
            bid_order, ask_order = [], []
        return bids, asks, bid_order, ask_order, entries

    def proof_deadline(self, r: int) -> int:
        return proof_deadline(*self._periods, r)

    @cached_property
    def interval(self) -> int:
        return int(self.market.functions.checkpointInterval().call())

    def plan(self, r: int, bids: list[BidReveal], asks: list[AskReveal],
             entries: list[JobEntry], limits: Any = None, claim: Any = None) -> SettlementPlan:
        return plan_settlement(r, self.name, bids, asks, entries, self.proof_deadline(r), limits,
                               self.interval, claim)

    def settle(self, r: int, bids: list[BidReveal], asks: list[AskReveal], bid_order: list[int],
               ask_order: list[int], entries: list[JobEntry], sender: str | None = None,
               limits: Any = None, pages: int | None = None, claim: Any = None) -> Settled:
        """Settle round ``r`` in pages (``pages``: send only the first that many; ``claim``
        overrides the Prooφ claim)."""
        plan = self.plan(r, bids, asks, entries, limits, claim)
        who = sender or self.keeper
        receipts = [self.send("beginSettlement", *plan.begin_args(), sender=who,
                              gas=plan.begin_gas)]
        for page in plan.pages[:pages]:
            receipts.append(self.send("settleBids", *page.args(r), sender=who, gas=page.gas))
        return Settled(r, bids, asks, entries, list(plan.jobs), plan.tree, receipts[-1], plan,
                       receipts)

    def clear_and_settle(self, r: int, **kw: Any) -> Settled:
        self.close(r)
        return self.settle(r, *self.clear(r, **kw))

    def prove(self, settled: Settled, k: int, proof: bytes | None = None,
              sender: str | None = None) -> TxReceipt:
        job = settled.jobs[k]
        nonce = proof if proof is not None else pow_nonce(job.task, job.prover,
                                                          self.difficulty_bits)
        return self.send("submitProof", settled.round, job.as_tuple(), settled.proof(k), nonce,
                         sender=sender or job.prover)

    def slash(self, settled: Settled, k: int, sender: str) -> TxReceipt:
        job = settled.jobs[k]
        return self.send("slash", settled.round, job.as_tuple(), settled.proof(k), sender=sender)

    def void(self, r: int, sender: str, settled: Settled | None = None,
             limits: Any = None) -> TxReceipt:
        """Void round ``r`` page by page (unwinding ``settled``'s landed pages first); returns the
        last receipt."""
        receipt = None
        progress = self.market.functions.settlementProgress(r).call()
        done, pages, unwound = (int(x) for x in progress[:3])
        if settled is not None and settled.plan is not None:
            for page in settled.plan.pages[unwound:pages]:
                mine = settled.bids[page.first:page.first + page.count]
                charged = [(b.requester, b.charge) for b in mine if b.charge]
                receipt = self.send("unwindPage", r, charged, sender=sender)
        commits = [(b.commitment, b.requester, b.escrow, b.task) for b in self.bids.get(r, [])]
        for segment in void_segments(done, commits, limits, self.interval):
            receipt = self.send("voidRound", r, segment, sender=sender)
        assert receipt is not None
        return receipt

    # ---- views
    def balance(self, who: str) -> int:
        return int(self.market.functions.balanceOf(who).call())

    def collateral(self, who: str) -> int:
        return int(self.market.functions.proverInfo(who).call()[0])

    def outstanding(self, who: str) -> int:
        return int(self.market.functions.outstandingUnits(who).call())

    def liabilities(self) -> tuple[int, int]:
        """(nonFree, treasury)."""
        nf, tr = self.market.functions.liabilities().call()
        return int(nf), int(tr)

    def eth_balance(self) -> int:
        return int(self.chain.w3.eth.get_balance(self.market.address))

    def events(self, receipt: TxReceipt, name: str) -> list[Any]:
        return list(getattr(self.market.events, name)().process_receipt(receipt))
