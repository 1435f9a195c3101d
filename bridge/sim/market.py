"""A deployed market on a local chain, with its keeper and funded participants, for tests, the
demo and the benches.

:class:`bridge.testing.LocalMarket` (the pytest plugin's) is this class plus ``cli``, which runs
the ``bridge`` command in process: the command line is a floor above the sim (``bridge demo``
runs a :class:`~bridge.sim.world.World` built on this class), so the method that imports it
lives in :mod:`bridge.testing`, the floor above the command line (``docs/architecture.md``).

:class:`LocalMarket` deploys a verifier (proof of work, or the circuit registry with the
committed Groth16 circuits) and a market from the committed artifacts, runs the real
:class:`~bridge.keeper.daemon.Keeper` in process (stepped by the phase helpers, or running in a
thread inside :meth:`LocalMarket.keeper_running`), and makes funded provers and requesters that
act through :class:`~bridge.client.participant.Participant`, the code the CLI runs.

Phase helpers move chain time and let the keeper act: :meth:`~LocalMarket.next_round`,
:meth:`~LocalMarket.close_round`, :meth:`~LocalMarket.settle`,
:meth:`~LocalMarket.past_proof_deadline`; :meth:`~LocalMarket.outcome` reads a round from the
chain's logs as plain data (:class:`RoundOutcome`), as any client could.

Threads: every public method of :class:`LocalMarket` may be called from several threads at once
(an application under test often runs its own), on either chain:

- :meth:`~LocalMarket.account` (and so :meth:`~LocalMarket.prover`,
  :meth:`~LocalMarket.requester`) gives each call its own key (:meth:`LocalChain.new_key
  <bridge.testing.LocalChain.new_key>`) and funds it without racing other funds;
- the participants it makes (:meth:`~LocalMarket.participant`) share one transaction sender per
  account, so two threads acting as one account never share a nonce, and one salt store whose
  writes are serialised; each of their sends holds the chain's clock shared, and ``bid``, ``ask``,
  ``set_capacity`` and ``prove`` hold it from the moment they read the current round (or a
  deadline) until their transaction is mined;
- the phase helpers (:meth:`~LocalMarket.next_round`, :meth:`~LocalMarket.close_round`,
  :meth:`~LocalMarket.settle`, :meth:`~LocalMarket.past_proof_deadline`) move time holding the
  clock exclusively, one at a time. A commit racing a time move therefore lands wholly before
  it or wholly after it: one that names no ``round`` commits in the round that was open before
  or in the one after, and the returned :class:`~bridge.client.salts.SealedRecord`'s ``round``
  says which. Two ``next_round`` calls at once advance two rounds, each returning its own;
- the in-process keeper is stepped by one thread at a time (the phase helpers,
  :meth:`~LocalMarket.step_keeper`, :meth:`~LocalMarket.post_price`), and
  :meth:`~LocalMarket.keeper_running` refuses to start a second running keeper;
- reads (:meth:`~LocalMarket.outcome`, :meth:`~LocalMarket.jobs`,
  :meth:`~LocalMarket.ledger_problems`, ``now``, ``current_round``) take no lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from bridge.chain.deploy import (
    MarketConfig,
    Mechanism,
    deploy,
    deploy_circuit_registry,
    deploy_market,
)
from bridge.chain.local import LocalChain
from bridge.chain.logs import event_logs
from bridge.chain.market import Market, RoundStatus
from bridge.chain.sender import TxSender
from bridge.client.participant import Participant
from bridge.client.salts import SaltStore, SealedRecord
from bridge.client.settled import JobView, read_settlement, settled_jobs
from bridge.errors import BridgeError, ConfigError
from bridge.keeper.config import KeeperConfig
from bridge.keeper.daemon import Keeper
from bridge.mechanisms.fixedprice import DEFAULT_RULE

GWEI = 10**9
ETHER = 10**18

class _LockedSaltStore(SaltStore):
    """A salt store whose read-modify-write updates are serialised between threads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._lock = threading.RLock()

    def all(self) -> list[SealedRecord]:
        with self._lock:
            return super().all()

    def add(self, record: SealedRecord) -> None:
        with self._lock:
            super().add(record)


class _LocalParticipant(Participant):
    """A :class:`Participant` whose sends hold the chain's clock shared, and whose commits and
    proofs hold it from reading the round (or deadline) until mined (module docstring)."""

    def __init__(self, market: Market, account: LocalAccount, *, salts: SaltStore,
                 sender: TxSender, chain: LocalChain) -> None:
        super().__init__(market, account, salts=salts, sender=sender)
        self._clock = chain.clock

    def _send(self, fn: str, *args: Any, value: int = 0) -> dict[str, Any]:
        with self._clock.shared():
            return super()._send(fn, *args, value=value)

    def set_capacity(self, units: int) -> dict[str, Any]:
        with self._clock.shared():
            return super().set_capacity(units)

    def bid(self, *, value: int, size: int | None, escrow: int, task: bytes = b"",
            round: int | None = None, circuit: str | int | None = None,
            inputs: Sequence[int] = (), top_up: bool = False) -> SealedRecord:
        with self._clock.shared():
            return super().bid(value=value, size=size, escrow=escrow, task=task, round=round,
                               circuit=circuit, inputs=inputs, top_up=top_up)

    def ask(self, *, cost: int, units: int | None = None,
            round: int | None = None) -> SealedRecord:
        with self._clock.shared():
            return super().ask(cost=cost, units=units, round=round)

    def void_round(self, round: int, from_block: int) -> dict[str, int]:
        with self._clock.shared():
            return super().void_round(round, from_block)

    def prove(self, view: JobView, proof: bytes | None = None,
              from_block: int = 0) -> dict[str, Any]:
        with self._clock.shared():
            return super().prove(view, proof, from_block)


@dataclass(frozen=True)
class MarketSettings:
    """A local market's parameters (every field can be overridden per test)."""

    mechanism: str = "proofphi"
    """``proofphi`` (one-unit jobs, uniform prices), ``dara`` (jobs of any size) or ``fixedprice``
    (a price per unit posted a round ahead; jobs of any size)."""
    proofs: str = "pow"
    """``pow`` (hashcash tasks, instant), ``groth16`` (the manifest's circuits in a
    ``CircuitRegistry``; needs snarkjs) or ``groth16-registry`` (an empty ``Groth16Registry``:
    register circuits and accept them for the market after deploying)."""
    commit_period: int = 60
    settle_period: int = 60
    proof_period: int = 60
    refund_cap: int = 200 * GWEI
    difficulty_bits: int = 8
    capacity_interval: int = 1
    capacity_factor: int = 4
    min_escrow: int = 1
    """The least a bid locks, and what an invalid order forfeits to the keeper."""
    fill_cost: int = 0
    """Burned congestion fees to fill a round past a quarter of its cap (0: none, the default
    here so that tests may fill small rounds; deployments default to 25 ether)."""
    max_bids_per_round: int = 8192
    max_asks_per_round: int = 512
    initial_price: int = 50 * GWEI
    """fixedprice: wei per unit until the keeper posts a price (the rule: docs/mechanisms.md)."""
    price_window: int = DEFAULT_RULE.window
    price_every: int = DEFAULT_RULE.every
    price_step_bps: int = DEFAULT_RULE.step_bps

    def validate(self) -> MarketSettings:
        """Raise :class:`ConfigError` naming the first setting that cannot run; return self."""
        if self.mechanism not in ("proofphi", "dara", "fixedprice"):
            raise ConfigError(f"mechanism {self.mechanism!r}: use fixedprice, proofphi or dara")
        if self.proofs not in ("pow", "groth16", "groth16-registry"):
            raise ConfigError(f"proofs {self.proofs!r}: use pow, groth16 or groth16-registry")
        for name in ("commit_period", "settle_period", "proof_period", "refund_cap",
                     "capacity_interval", "capacity_factor", "initial_price", "price_window",
                     "price_every", "price_step_bps"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not 1 <= self.difficulty_bits <= 32:
            raise ConfigError(f"difficulty_bits {self.difficulty_bits}: use 1–32 (8 is instant)")
        return self


@dataclass(frozen=True)
class BidOutcome:
    """One committed bid of a round (``valid``/``reason``/``charge`` once settled)."""

    index: int
    requester: str
    escrow: int
    valid: bool | None
    reason: str | None
    """The keeper's published reason for an invalid bid (e.g. ``value_above_escrow``)."""
    charge: int


@dataclass(frozen=True)
class AskOutcome:
    """One committed ask of a round (``valid``/``reason`` once settled)."""

    index: int
    prover: str
    valid: bool | None
    reason: str | None


@dataclass(frozen=True)
class JobOutcome:
    """One job of a settled round and what became of it."""

    index: int
    bid_index: int
    requester: str
    prover: str
    units: int
    payment: int
    proof_deadline: int
    status: str
    """``pending`` (not yet proven), ``proven`` or ``slashed``."""
    refund: int = 0
    compensation: int = 0


@dataclass(frozen=True)
class RoundOutcome:
    """A round as its logs tell it (see :meth:`LocalMarket.outcome`)."""

    round: int
    status: str
    """``open``, ``settling``, ``settled`` or ``voided``."""
    bids: tuple[BidOutcome, ...]
    asks: tuple[AskOutcome, ...]
    jobs: tuple[JobOutcome, ...]

    @property
    def traded(self) -> bool:
        """True if the round assigned at least one job."""
        return bool(self.jobs)

    def job_for(self, bid_index: int) -> JobOutcome | None:
        """The job made from bid ``bid_index`` (None if it lost or the round did not trade)."""
        return next((j for j in self.jobs if j.bid_index == bid_index), None)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


class LocalMarket:
    """A market, its keeper and a participant factory on ``chain`` (module docstring)."""

    def __init__(self, chain: LocalChain, workdir: Path,
                 settings: MarketSettings | None = None, *, keeper_key: bytes | None = None,
                 keeper_db: str | None = None, confirmations: int = 0) -> None:
        self.chain = chain
        self.w3 = chain.w3
        self.settings = (settings or MarketSettings()).validate()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.keeper_account: LocalAccount = Account.from_key(
            keeper_key or keccak(text="bridge testing keeper"))
        chain.fund(self.keeper_account.address, 100 * ETHER)
        owner = chain.funder
        # the deployments send from the funder: no fund may take a nonce meanwhile
        with chain.clock.shared(), chain.funder_lock:
            self.verifier, contract = self._deploy(owner)
            self.deploy_block = int(self.w3.eth.block_number)
        self.market = Market(self.w3, contract.address)
        self.keeper_db = keeper_db or f"sqlite:///{workdir / 'keeper.sqlite'}"
        self.keeper_cfg = KeeperConfig(
            rpc=chain.url or "eth-tester", market=self.market.address, database=self.keeper_db,
            confirmations=confirmations, start_block=self.deploy_block, poll_interval=0.2,
            receipt_timeout=60, bump_after=20, metrics_port=0).validate()
        self._keeper_lock = threading.RLock()
        self._running = False
        self.keeper = self.new_keeper()
        self.salts: SaltStore = _LockedSaltStore(workdir / "sealed.json")
        self._senders: dict[str, TxSender] = {}
        self._senders_lock = threading.Lock()
        chain.after_revert(self._resync_nonces)

    def _deploy(self, owner: str) -> tuple[Any, Any]:
        s, pub = self.settings, self.keeper_account._key_obj.public_key.to_bytes()
        if s.proofs == "groth16-registry":  # empty: register and accept circuits after
            verifier = deploy(self.w3, "Groth16Registry", sender=owner)
        elif s.proofs == "groth16":
            verifier = deploy_circuit_registry(
                self.w3, owner, unit_circuits_only=s.mechanism == "proofphi")
        else:
            verifier = deploy(self.w3, "ProofOfWorkVerifier", s.difficulty_bits, sender=owner)
        contract = deploy_market(self.w3, MarketConfig(
            owner=owner, keeper=self.keeper_account.address, keeper_public_key=pub,
            verifier=verifier.address,
            mechanism={"proofphi": Mechanism.PROOFPHI, "dara": Mechanism.DARA,
                       "fixedprice": Mechanism.FIXEDPRICE}[s.mechanism],
            commit_period=s.commit_period, settle_period=s.settle_period,
            proof_period=s.proof_period, refund_cap=s.refund_cap,
            capacity_interval=s.capacity_interval, capacity_factor=s.capacity_factor,
            min_escrow=s.min_escrow, fill_cost=s.fill_cost,
            max_bids_per_round=s.max_bids_per_round, max_asks_per_round=s.max_asks_per_round,
            initial_price=s.initial_price, price_window=s.price_window,
            price_every=s.price_every, price_step_bps=s.price_step_bps), owner)
        return verifier, contract

    def _resync_nonces(self) -> None:
        with self._senders_lock:
            senders = list(self._senders.values())
        for sender in [*senders, self.keeper.sender]:
            sender.resync_nonce()

    @property
    def address(self) -> str:
        """The market's address."""
        return self.market.address

    # -- keeper --------------------------------------------------------------------------------
    def new_keeper(self, *, use_scheduler: bool = False) -> Keeper:
        """A fresh keeper (process-equivalent) on this market's database."""
        from dataclasses import replace

        # on its own thread the keeper polls every second (a tick on a real node takes longer
        # than the 0.2 s that suits stepping it by hand)
        cfg = replace(self.keeper_cfg, poll_interval=1.0) if use_scheduler else self.keeper_cfg
        keeper = Keeper(cfg, self.keeper_account, w3=self.w3, use_scheduler=use_scheduler)
        keeper.startup_checks()
        return keeper

    def restart_keeper(self) -> Keeper:
        """Stop the keeper and start a new one on the same database (as after a crash)."""
        with self._keeper_lock:
            self.keeper.stop()
            self.keeper = self.new_keeper()
            return self.keeper

    def step_keeper(self) -> None:
        """Let the keeper read the logs and act until it has nothing left to do now (one thread
        at a time; nothing while the keeper runs on its own thread)."""
        with self._keeper_lock:
            if not self._running:
                self.keeper.run_until_idle()

    @contextlib.contextmanager
    def keeper_running(self) -> Iterator[Keeper]:
        """Run the keeper on its own scheduler thread (as ``bridge keeper run`` does) inside the
        block; the phase helpers then wait for it instead of stepping it. One at a time: a
        second ``keeper_running`` while one is active raises :class:`BridgeError`."""
        with self._keeper_lock:
            if self._running:
                raise BridgeError("the keeper already runs on its own thread "
                                  "(keeper_running is active)")
            self.keeper.stop()
            running = self.new_keeper(use_scheduler=True)
            running.start()
            self.keeper, self._running = running, True
        try:
            yield running
        finally:
            with self._keeper_lock:
                running.stop()
                self._running = False
                self.keeper = self.new_keeper()

    # -- participants --------------------------------------------------------------------------
    def account(self, *, fund: int = 100 * ETHER, key: bytes | None = None) -> LocalAccount:
        """A new account holding ``fund`` wei more than before (a new key holds exactly
        ``fund``); its key is derived from a public label unless given (``keccak("bridge
        testing account <n>")``, a different n for every call on this chain, from any thread:
        never use it for real funds)."""
        acct: LocalAccount = Account.from_key(self.chain.new_key() if key is None else key)
        if fund:
            self.chain.fund(acct.address, fund)
        return acct

    def participant(self, account: LocalAccount) -> Participant:
        """Act on this market as ``account`` (bids, asks and proofs as the CLI makes them).

        Every participant of one account made here shares one transaction sender (one nonce
        sequence, one lock), so several threads may act as the same account; see the module
        docstring for how their commits are ordered against time moves."""
        with self._senders_lock:
            sender = self._senders.get(account.address)
            if sender is None:
                sender = self._senders[account.address] = TxSender(
                    self.w3, account, decode_revert=self.market.decode_revert,
                    poll_interval=0.05)
        return _LocalParticipant(self.market, account, salts=self.salts, sender=sender,
                                 chain=self.chain)

    def prover(self, *, capacity: int = 1, stake: int | None = None,
               key: bytes | None = None) -> Participant:
        """A funded prover that staked ``stake`` (default: three refund caps per unit) and
        declared ``capacity`` units."""
        p = self.participant(self.account(key=key))
        p.stake(self.settings.refund_cap * capacity * 3 if stake is None else stake)
        if capacity:
            p.set_capacity(capacity)
        return p

    def requester(self, *, deposit: int = ETHER, key: bytes | None = None) -> Participant:
        """A funded requester with ``deposit`` wei in the market."""
        q = self.participant(self.account(key=key))
        if deposit:
            q.deposit(deposit)
        return q

    # -- time and phases -----------------------------------------------------------------------
    def now(self) -> int:
        """Latest block time."""
        return self.chain.now()

    def current_round(self) -> int:
        """The round taking commitments now."""
        return self.market.current_round()

    def next_round(self) -> int:
        """Move time to the start of the next round; returns it. On a fixedprice market a keeper
        stepped by hand posts the following round's price now (as a running one does on its own
        within the round).

        Reading the round and moving past it is one step, exclusive of other time moves and of
        commits in flight: two calls at once advance two rounds and return one each."""
        with self.chain.clock.exclusive():
            r = self.current_round() + 1
            self.chain.travel_to(self.market.params.genesis + r * self.settings.commit_period + 1)
            with self._keeper_lock:
                if self.settings.mechanism == "fixedprice" and not self._running:
                    self.post_price()
            return r

    def post_price(self) -> int | None:
        """fixedprice: let the keeper post the next round's price now if the rule moves it;
        returns the price posted (None: nothing to post). Never overlaps a step or a tick of
        the keeper (a running one's included)."""
        with self._keeper_lock:
            keeper = self.keeper
            with keeper._work:  # a running keeper's tick holds it
                keeper.read_logs()
                assert keeper.pricer is not None
                return keeper.pricer.tick(self.now())

    def round_price(self, r: int) -> int:
        """fixedprice: round ``r``'s price per unit (wei)."""
        return self.market.round_price(r)

    def close_round(self, r: int | None = None) -> int:
        """Move time past round ``r``'s commit window (default: the current round)."""
        with self.chain.clock.exclusive():
            r = self.current_round() if r is None else r
            self.chain.travel_to(self.market.params.closes_at(r) + 1)
            return r

    def settle(self, r: int | None = None, timeout: float = 60) -> RoundOutcome:
        """Close round ``r`` (default: the current one) and let the keeper settle it (or void an
        empty round); returns its outcome."""
        r = self.close_round(r)
        self._until(lambda: self.market.round_info(r).status in (RoundStatus.SETTLED,
                                                                 RoundStatus.VOIDED),
                    timeout, f"round {r} to be settled")
        return self.outcome(r)

    def jobs(self, r: int) -> list[JobView]:
        """The jobs of settled round ``r`` with their Merkle proofs (what a prover submits)."""
        return settled_jobs(self.market, r, self.deploy_block)

    def prove_all(self, r: int, provers: list[Participant], *,
                  skip: tuple[str, ...] = ()) -> list[JobOutcome]:
        """Every job of round ``r`` proven by its prover among ``provers`` (except addresses in
        ``skip``); returns the round's jobs afterwards."""
        by_address: dict[str, Participant] = {str(p.address): p for p in provers}
        for view in self.jobs(r):
            p = by_address.get(view.job.prover)
            if p is not None and view.job.prover not in skip and not view.resolved:
                p.prove(view, from_block=self.deploy_block)
        return list(self.outcome(r).jobs)

    def past_proof_deadline(self, r: int, timeout: float = 60) -> RoundOutcome:
        """Move time past round ``r``'s proof deadline and let the keeper slash every unproven
        job; returns the outcome."""
        self.chain.travel_to(self.market.params.proof_deadline(r) + 1)
        self._until(lambda: all(self.market.is_resolved(r, v.job.job_index)
                                for v in self.jobs(r)), timeout,
                    f"every job of round {r} to be proven or slashed")
        return self.outcome(r)

    def _until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        with self._keeper_lock:
            if not self._running:
                self.keeper.run_until_idle()
                if not done():
                    raise BridgeError(f"the keeper stopped before {what}: see its log")
                return
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise BridgeError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)

    # -- reading a round -----------------------------------------------------------------------
    def outcome(self, r: int) -> RoundOutcome:
        """Round ``r`` from the chain: status, every bid and ask (validity, reason, charge) and
        every job with its status, refund and compensation."""
        from bridge.evidence import decode_evidence

        status = self.market.round_info(r).status.name.lower()
        bid_logs = sorted(event_logs(self.market, "BidCommitted", self.deploy_block,
                                     {"round": r}), key=lambda e: int(e["args"]["index"]))
        ask_logs = sorted(event_logs(self.market, "AskCommitted", self.deploy_block,
                                     {"round": r}), key=lambda e: int(e["args"]["index"]))
        record = read_settlement(self.market, r, self.deploy_block, decode=True)

        def reason(evidence: bytes, valid: bool) -> str | None:
            return None if valid else decode_evidence(evidence).reason.name.lower()

        bids = tuple(BidOutcome(
            int(e["args"]["index"]), e["args"]["requester"], int(e["args"]["escrow"]),
            record.bids[i].valid if record else None,
            reason(record.bids[i].evidence, record.bids[i].valid) if record else None,
            record.charges[i] if record else 0) for i, e in enumerate(bid_logs))
        asks = tuple(AskOutcome(
            int(e["args"]["index"]), e["args"]["prover"],
            record.asks[i].valid if record else None,
            reason(record.asks[i].evidence, record.asks[i].valid) if record else None)
            for i, e in enumerate(ask_logs))
        jobs: list[JobOutcome] = []
        if record is not None:
            proven = {int(e["args"]["jobIndex"]) for e in event_logs(
                self.market, "ProofAccepted", self.deploy_block, {"round": r})}
            slashed = {int(e["args"]["jobIndex"]): e["args"] for e in event_logs(
                self.market, "JobSlashed", self.deploy_block, {"round": r})}
            for j in record.jobs:
                s = slashed.get(j.job_index)
                jobs.append(JobOutcome(
                    j.job_index, j.bid_index, j.requester, j.prover, j.units, j.payment,
                    j.proof_deadline,
                    "proven" if j.job_index in proven else "slashed" if s else "pending",
                    int(s["refund"]) if s else 0, int(s["compensation"]) if s else 0))
        return RoundOutcome(r, status, bids, asks, tuple(jobs))

    def ledger_problems(self) -> list[str]:
        """Every account's market balance recomputed from the logs and compared with the
        contract (empty: all good). Requesters: deposits − withdrawals − charges + refunds +
        compensation − escrow of bids in open rounds; provers: stakes − withdrawals + payments −
        compensation; and the contract's ETH equals what it owes (every free balance plus
        collateral, escrow and treasury). Call it when no round is settling."""
        def logs(name: str) -> list[Any]:
            return [e["args"] for e in event_logs(self.market, name, self.deploy_block)]

        free: dict[str, int] = {}
        collateral: dict[str, int] = {}
        for a in logs("Deposited"):
            free[a["account"]] = free.get(a["account"], 0) + int(a["amount"])
        for a in logs("Withdrawn"):
            free[a["account"]] = free.get(a["account"], 0) - int(a["amount"])
        for a in logs("Staked"):
            collateral[a["prover"]] = collateral.get(a["prover"], 0) + int(a["amount"])
        for a in logs("CollateralWithdrawn"):
            collateral[a["prover"]] = collateral.get(a["prover"], 0) - int(a["amount"])
        for a in logs("ProofAccepted"):
            collateral[a["prover"]] = collateral.get(a["prover"], 0) + int(a["payment"])
        for a in logs("JobSlashed"):
            collateral[a["prover"]] = collateral.get(a["prover"], 0) - int(a["compensation"])
            free[a["requester"]] = (free.get(a["requester"], 0) + int(a["refund"])
                                    + int(a["compensation"]))
        rounds = sorted({int(a["round"]) for a in logs("BidCommitted")})
        for r in rounds:
            status = self.market.round_info(r).status
            o = self.outcome(r)
            for b in o.bids:
                if status is RoundStatus.OPEN:
                    free[b.requester] = free.get(b.requester, 0) - b.escrow
                else:
                    free[b.requester] = free.get(b.requester, 0) - b.charge
                    if status is RoundStatus.SETTLED and b.valid is False:
                        # an invalid bid forfeits minEscrow to the keeper (InvalidForfeited)
                        free[b.requester] -= self.market.params.min_escrow
            if status is RoundStatus.SETTLED:
                for a in o.asks:
                    if a.valid is False:  # and an invalid ask, from its prover's collateral
                        collateral[a.prover] = (collateral.get(a.prover, 0)
                                                - self.market.params.min_escrow)
        for a in logs("InvalidForfeited"):
            free[a["keeper"]] = free.get(a["keeper"], 0) + int(a["amount"])
        burned = 0
        for a in logs("CongestionFeeBurned"):
            side = free if int(a["side"]) == 0 else collateral
            side[a["payer"]] = side.get(a["payer"], 0) - int(a["fee"])
            burned += int(a["fee"])
        problems = []
        for who, expected in sorted(free.items()):
            actual = self.market.balance_of(who)
            if actual != expected:
                problems.append(f"free balance of {who}: contract {actual}, logs say {expected}")
        for who, expected in sorted(collateral.items()):
            actual = self.market.prover_info(who)["collateral"]
            if actual != expected:
                problems.append(f"collateral of {who}: contract {actual}, logs say {expected}")
        non_free, _treasury = self.market.liabilities()
        held = int(self.w3.eth.get_balance(self.market.address))
        if held != non_free + sum(self.market.balance_of(w) for w in free):
            problems.append(f"the contract holds {held} wei, not what it owes")
        if self.market.burned() != burned:
            problems.append(f"burned fees: contract {self.market.burned()}, logs say {burned}")
        return problems
