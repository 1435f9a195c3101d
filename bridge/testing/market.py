"""A deployed market on a local chain, with its keeper and funded participants, for tests.

:class:`LocalMarket` deploys a verifier (proof of work, or the circuit registry with the
committed Groth16 circuits) and a market from the committed artifacts, runs the real
:class:`~bridge.keeper.daemon.Keeper` in process (stepped by the phase helpers, or running in a
thread inside :meth:`LocalMarket.keeper_running`), and makes funded provers and requesters that
act through :class:`~bridge.client.participant.Participant`, the code the CLI runs.

Phase helpers move chain time and let the keeper act: :meth:`~LocalMarket.next_round`,
:meth:`~LocalMarket.close_round`, :meth:`~LocalMarket.settle`,
:meth:`~LocalMarket.past_proof_deadline`; :meth:`~LocalMarket.outcome` reads a round from the
chain's logs as plain data (:class:`RoundOutcome`), as any client could.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
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
from bridge.chain.market import Market, RoundStatus
from bridge.client.participant import JobView, Participant, event_logs, read_settlement
from bridge.client.salts import SaltStore
from bridge.errors import BridgeError, ConfigError
from bridge.keeper.config import KeeperConfig
from bridge.keeper.daemon import Keeper
from bridge.mechanisms.fixedprice import DEFAULT_RULE
from bridge.testing.chain import LocalChain

GWEI = 10**9
ETHER = 10**18


@dataclass(frozen=True)
class MarketSettings:
    """A local market's parameters (every field can be overridden per test)."""

    mechanism: str = "proofphi"
    """``proofphi`` (one-unit jobs, uniform prices), ``dara`` (jobs of any size) or ``fixedprice``
    (a price per unit posted a round ahead; jobs of any size)."""
    proofs: str = "pow"
    """``pow`` (hashcash tasks, instant) or ``groth16`` (registered circuits; needs snarkjs)."""
    commit_period: int = 60
    settle_period: int = 60
    proof_period: int = 60
    refund_cap: int = 200 * GWEI
    difficulty_bits: int = 8
    capacity_interval: int = 1
    capacity_factor: int = 4
    initial_price: int = 50 * GWEI
    """fixedprice: wei per unit until the keeper posts a price (the rule: docs/mechanisms.md)."""
    price_window: int = DEFAULT_RULE.window
    price_every: int = DEFAULT_RULE.every
    price_step_bps: int = DEFAULT_RULE.step_bps

    def validate(self) -> MarketSettings:
        """Raise :class:`ConfigError` naming the first setting that cannot run; return self."""
        if self.mechanism not in ("proofphi", "dara", "fixedprice"):
            raise ConfigError(f"mechanism {self.mechanism!r}: use fixedprice, proofphi or dara")
        if self.proofs not in ("pow", "groth16"):
            raise ConfigError(f"proofs {self.proofs!r}: use pow or groth16")
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
        self.settings = s = (settings or MarketSettings()).validate()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.keeper_account: LocalAccount = Account.from_key(
            keeper_key or keccak(text="bridge testing keeper"))
        chain.fund(self.keeper_account.address, 100 * ETHER)
        owner = chain.funder
        if s.proofs == "groth16":
            self.verifier = deploy_circuit_registry(
                self.w3, owner, unit_circuits_only=s.mechanism == "proofphi")
        else:
            self.verifier = deploy(self.w3, "ProofOfWorkVerifier", s.difficulty_bits,
                                   sender=owner)
        pub = self.keeper_account._key_obj.public_key.to_bytes()
        contract = deploy_market(self.w3, MarketConfig(
            owner=owner, keeper=self.keeper_account.address, keeper_public_key=pub,
            verifier=self.verifier.address,
            mechanism={"proofphi": Mechanism.PROOFPHI, "dara": Mechanism.DARA,
                       "fixedprice": Mechanism.FIXEDPRICE}[s.mechanism],
            commit_period=s.commit_period, settle_period=s.settle_period,
            proof_period=s.proof_period, refund_cap=s.refund_cap,
            capacity_interval=s.capacity_interval, capacity_factor=s.capacity_factor,
            initial_price=s.initial_price, price_window=s.price_window,
            price_every=s.price_every, price_step_bps=s.price_step_bps), owner)
        self.deploy_block = int(self.w3.eth.block_number)
        self.market = Market(self.w3, contract.address)
        self.keeper_db = keeper_db or f"sqlite:///{workdir / 'keeper.sqlite'}"
        self.keeper_cfg = KeeperConfig(
            rpc=chain.url or "eth-tester", market=self.market.address, database=self.keeper_db,
            confirmations=confirmations, start_block=self.deploy_block, poll_interval=0.2,
            receipt_timeout=60, bump_after=20, metrics_port=0).validate()
        self.keeper = self.new_keeper()
        self.salts = SaltStore(workdir / "sealed.json")
        self._accounts = 0
        self._running = False

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
        self.keeper.stop()
        self.keeper = self.new_keeper()
        return self.keeper

    def step_keeper(self) -> None:
        """Let the keeper read the logs and act until it has nothing left to do now."""
        if not self._running:
            self.keeper.run_until_idle()

    @contextlib.contextmanager
    def keeper_running(self) -> Iterator[Keeper]:
        """Run the keeper on its own scheduler thread (as ``bridge keeper run`` does) inside the
        block; the phase helpers then wait for it instead of stepping it."""
        self.keeper.stop()
        running = self.new_keeper(use_scheduler=True)
        running.start()
        self.keeper, self._running = running, True
        try:
            yield running
        finally:
            running.stop()
            self._running = False
            self.keeper = self.new_keeper()

    # -- participants --------------------------------------------------------------------------
    def account(self, *, fund: int = 100 * ETHER, key: bytes | None = None) -> LocalAccount:
        """A new account holding ``fund`` wei; its key is derived from a public label unless
        given (``keccak("bridge testing account <n>")``: never use it for real funds)."""
        if key is None:
            key = keccak(text=f"bridge testing account {self._accounts}")
            self._accounts += 1
        acct: LocalAccount = Account.from_key(key)
        if fund:
            self.chain.fund(acct.address, fund)
        return acct

    def participant(self, account: LocalAccount) -> Participant:
        """Act on this market as ``account`` (bids, asks and proofs as the CLI makes them)."""
        return Participant(self.market, account, salts=self.salts)

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
        within the round)."""
        r = self.current_round() + 1
        self.chain.travel_to(self.market.params.genesis + r * self.settings.commit_period + 1)
        if self.settings.mechanism == "fixedprice" and not self._running:
            self.post_price()
        return r

    def post_price(self) -> int | None:
        """fixedprice: let the keeper post the next round's price now if the rule moves it;
        returns the price posted (None: nothing to post)."""
        self.keeper.read_logs()
        assert self.keeper.pricer is not None
        return self.keeper.pricer.tick(self.now())

    def round_price(self, r: int) -> int:
        """fixedprice: round ``r``'s price per unit (wei)."""
        return self.market.round_price(r)

    def close_round(self, r: int | None = None) -> int:
        """Move time past round ``r``'s commit window (default: the current round)."""
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
        from bridge.client.participant import settled_jobs

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
        return problems

    # -- the CLI -------------------------------------------------------------------------------
    def cli(self, *args: str, key: bytes | None = None, from_block: bool = True) -> Any:
        """Run ``bridge ARGS --rpc … --market … [--from-block …]`` in process against this
        market (``key``: the signer's private key, passed as ``BRIDGE_PRIVATE_KEY``); returns
        Click's result (``exit_code``, ``output``)."""
        from typer.testing import CliRunner

        from bridge.chain.connect import use_embedded
        from bridge.cli import app

        env = {"BRIDGE_PRIVATE_KEY": "0x" + key.hex()} if key is not None else {}
        argv = [*args, "--rpc", self.chain.url or "eth-tester", "--market", self.address]
        if from_block:
            argv += ["--from-block", str(self.deploy_block)]
        if self.chain.url is not None:
            return CliRunner().invoke(app, argv, env=env)
        previous = use_embedded(self.chain.backend)
        try:
            return CliRunner().invoke(app, argv, env=env)
        finally:
            use_embedded(previous)
