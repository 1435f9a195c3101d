"""A market world for the demo, the end-to-end tests and the keeper bench.

A :class:`World` deploys a proof-of-work verifier and a market (from the committed artifacts) on a
chain, funds a keeper and simulated participants, and runs the real :class:`~bridge.keeper.daemon.
Keeper` against it. Participants act through :class:`~bridge.client.participant.Participant`, the
same code the CLI runs, with truthful sealed bids.

Private values and costs (stated so results can be read):

- a requester's value per unit is uniform in ``value_per_unit`` (default 60–140 gwei, whole gwei);
- a prover's cost per unit is uniform in ``cost_per_unit`` (default 40–100 gwei), its capacity
  uniform in ``capacity`` (default 1–2 units);
- a job's size is 1 in a Prooφ market and uniform in ``size`` (default 1–4) in a DARA market;
- every requester locks an escrow equal to its value (the public bound may be higher; it is not
  needed here). Seeded (``seed``), so a run is reproducible.

The world also keeps its own ledger of what every participant should hold in the market, derived
from the events of each round, and :meth:`World.check_ledger` compares it with the contract.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from bridge.chain.local import LocalChain
from bridge.chain.market import Market
from bridge.client.participant import Participant, new_task
from bridge.client.settled import JobView, round_charges
from bridge.client.tasks import registered
from bridge.errors import BridgeError
from bridge.keeper.daemon import Keeper
from bridge.sim.market import LocalMarket, MarketSettings

log = logging.getLogger(__name__)

GWEI = 10**9


@dataclass(frozen=True)
class SimConfig:
    """Parameters of a simulated market (see the module docstring for the distributions)."""

    mechanism: str = "proofphi"
    rounds: int = 3
    provers: int = 4
    requesters: int = 6
    seed: int = 7
    value_per_unit: tuple[int, int] = (60 * GWEI, 140 * GWEI)
    cost_per_unit: tuple[int, int] = (40 * GWEI, 100 * GWEI)
    capacity: tuple[int, int] = (1, 2)
    size: tuple[int, int] = (1, 4)
    refund_cap: int = 200 * GWEI
    initial_price: int = 80 * GWEI
    """fixedprice: the price per unit until the keeper learns one (between the cost and value
    ranges above)."""
    commit_period: int = 60
    settle_period: int = 60
    proof_period: int = 60
    difficulty_bits: int = 8
    proofs: str = "pow"
    """``pow`` (hashcash tasks) or ``groth16`` (registered circuits, proven with snarkjs)."""
    miss: bool = True
    """One assigned prover skips its proofs in the first round that trades (then is slashed)."""

    def validate(self) -> SimConfig:
        """Raise :class:`BridgeError` on a parameter that cannot run."""
        if self.mechanism not in ("proofphi", "dara", "fixedprice"):
            raise BridgeError(f"mechanism {self.mechanism!r}: use fixedprice, proofphi or dara")
        if self.proofs not in ("pow", "groth16", "groth16-registry"):
            raise BridgeError(f"proofs {self.proofs!r}: use pow, groth16 or groth16-registry")
        if self.rounds < 1 or self.provers < 1 or self.requesters < 1:
            raise BridgeError("rounds, provers and requesters must each be at least 1")
        return self


@dataclass
class RoundReport:
    """What happened in one simulated round (for the demo's tables and the tests)."""

    round: int
    bids: list[dict[str, Any]] = field(default_factory=list)
    asks: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    bid_price: int | None = None
    ask_price: int | None = None
    posted_price: int | None = None
    """fixedprice: the round's price per unit, posted before it opened."""
    phase: str = ""


class World:
    """A chain, a market, a keeper and simulated participants; see the module docstring.

    The market, its keeper and the time helpers are a :class:`~bridge.sim.market.LocalMarket`
    (the pytest plugin's :class:`~bridge.testing.LocalMarket` without its ``cli``), so the demo,
    the benches and the tests exercise the integrators' kit."""

    def __init__(self, chain: LocalChain, cfg: SimConfig, workdir: Path, *,
                 keeper_db: str | None = None, confirmations: int = 0) -> None:
        self.chain = chain
        self.w3: Web3 = chain.w3
        self.cfg = cfg.validate()
        self.rng = random.Random(cfg.seed)
        self.workdir = workdir
        self.funder = chain.funder
        self.local = LocalMarket(chain, workdir, MarketSettings(
            mechanism=cfg.mechanism, proofs=cfg.proofs, commit_period=cfg.commit_period,
            initial_price=cfg.initial_price,
            settle_period=cfg.settle_period, proof_period=cfg.proof_period,
            refund_cap=cfg.refund_cap, difficulty_bits=cfg.difficulty_bits),
            keeper_key=self.rng.randbytes(32), keeper_db=keeper_db, confirmations=confirmations)
        self.keeper_account: LocalAccount = self.local.keeper_account
        self.verifier = self.local.verifier
        self.deploy_block = self.local.deploy_block
        self.market: Market = self.local.market
        self.keeper_db = self.local.keeper_db
        self.keeper_cfg = self.local.keeper_cfg
        salts = self.local.salts
        self.provers: list[Participant] = []
        self.requesters: list[Participant] = []
        self.costs: dict[str, int] = {}
        for _ in range(cfg.provers):
            acct = self.local.account(key=self.rng.randbytes(32))
            self.provers.append(Participant(self.market, acct, salts=salts))
        for _ in range(cfg.requesters):
            acct = self.local.account(key=self.rng.randbytes(32))
            self.requesters.append(Participant(self.market, acct, salts=salts))
        # the world's own ledger of the market balances it expects
        self.expected_free: dict[str, int] = {}
        self.expected_collateral: dict[str, int] = {}
        self.expected_treasury = 0
        self.expected_burned = 0
        self.proof_gas: dict[tuple[int, int], int] = {}
        """``submitProof`` gas by (round, job)."""
        self.reports: list[RoundReport] = []
        self.missed = False

    # -- setup ----------------------------------------------------------------------------------
    @property
    def keeper(self) -> Keeper:
        """The market's in-process keeper."""
        return self.local.keeper

    @keeper.setter
    def keeper(self, keeper: Keeper) -> None:
        self.local.keeper = keeper

    def new_keeper(self) -> Keeper:
        """A fresh keeper process-equivalent on the same database (for restarts)."""
        return self.local.new_keeper()

    def restart_keeper(self) -> Keeper:
        """Stop the keeper and start a new one on the same database."""
        return self.local.restart_keeper()

    def now(self) -> int:
        """Latest block time."""
        return self.market.chain_time()

    def travel_to(self, ts: int) -> None:
        """Move chain time to ``ts`` (no-op if already past)."""
        self.chain.travel_to(ts)

    def setup_participants(self) -> None:
        """Provers stake and declare capacity; requesters deposit."""
        lo, hi = self.cfg.capacity
        for p in self.provers:
            units = self.rng.randint(lo, hi)
            stake = self.cfg.refund_cap * units * 3
            p.stake(stake)
            p.set_capacity(units)
            self.costs[p.address] = self._draw(self.cfg.cost_per_unit)
            self.expected_collateral[p.address] = stake
        for q in self.requesters:
            amount = 10**18
            q.deposit(amount)
            self.expected_free[q.address] = amount

    def _draw(self, bounds: tuple[int, int]) -> int:
        """Uniform in ``bounds``, in whole gwei (readable prices)."""
        lo, hi = bounds
        return self.rng.randint(-(-lo // GWEI), hi // GWEI) * GWEI

    # -- one round ----------------------------------------------------------------------------
    def commit_round(self) -> int:
        """Every prover asks and every requester bids in the current round; returns it."""
        r = self.market.current_round()
        for p in self.provers:
            p.ask(cost=self.costs[p.address])
        circuits = list(registered(self.market).values())
        for q in self.requesters:
            if circuits:  # a circuit task with random public inputs; its size is the circuit's
                c = self.rng.choice(circuits)
                inputs = [self.rng.randrange(1 << 64) for _ in range(c.inputs)]
                value = self._draw(self.cfg.value_per_unit) * c.units
                q.bid(value=value, size=None, escrow=value, circuit=c.id, inputs=inputs)
                continue
            size = 1 if self.cfg.mechanism == "proofphi" else self.rng.randint(*self.cfg.size)
            value = self._draw(self.cfg.value_per_unit) * size
            q.bid(value=value, size=size, escrow=value, task=new_task())
        return r

    def close_and_settle(self, r: int) -> None:
        """Move past the round's close and let the keeper settle it."""
        self.travel_to(self.market.params.closes_at(r) + 1)
        self.keeper.run_until_idle()

    def prove(self, r: int, skip: set[str] | None = None,
              views: list[JobView] | None = None) -> list[JobView]:
        """Every assigned prover proves its jobs, except those in ``skip``; returns all jobs.

        ``views``: the round's jobs if already read (else they are read from the chain).
        """
        skip = skip or set()
        if views is None:
            views = self.requesters[0].settled_jobs(r, self.deploy_block)
        by_address: dict[str, Participant] = {str(p.address): p for p in self.provers}
        for v in views:
            if v.job.prover not in skip and not v.resolved:
                receipt = by_address[v.job.prover].prove(v, from_block=self.deploy_block)
                self.proof_gas[(r, v.job.job_index)] = int(receipt["gasUsed"])
        return views

    def finish(self, r: int, views: list[JobView]) -> None:
        """Move past the proof deadline (if anything is unproven) and let the keeper slash."""
        if views and any(not self.market.is_resolved(r, v.job.job_index) for v in views):
            self.travel_to(views[0].job.proof_deadline + 1)
        self.keeper.run_until_idle()

    def next_round(self) -> int:
        """Move chain time to the start of the next round; returns it (fixedprice: the keeper
        posts the following round's price, see :meth:`LocalMarket.next_round`)."""
        return self.local.next_round()

    def run_round(self) -> RoundReport:
        """One full round: commit, settle, prove (one prover misses if ``miss``), slash, account."""
        self.next_round()
        r = self.commit_round()
        self.close_and_settle(r)
        views = self.requesters[0].settled_jobs(r, self.deploy_block)
        skip: set[str] = set()
        if self.cfg.miss and views and not self.missed:
            skip = {views[-1].job.prover}
            self.missed = True
        self.prove(r, skip, views)
        self.finish(r, views)
        report = self.account_round(r)
        self.reports.append(report)
        return report

    # -- accounting -----------------------------------------------------------------------------
    def _events(self, name: str, r: int) -> list[Any]:
        ev = getattr(self.market.contract.events, name)()
        return list(ev.get_logs(from_block=self.deploy_block, argument_filters={"round": r}))

    def account_round(self, r: int) -> RoundReport:
        """Update the expected ledger from round ``r``'s events and build its report."""
        report = RoundReport(round=r, phase=str(self.keeper.store.round_phase(r)))
        outcome = self.keeper.store.outcome(r) or {}
        charges: list[int] = round_charges(self.market, r, self.deploy_block) or []
        commits = {e["args"]["index"]: e["args"] for e in self._events("BidCommitted", r)}
        names = {c.id: c.name for c in registered(self.market).values()}
        for row in self.keeper.store.openings(r, side=0):
            c = commits[row.index]
            charge = charges[row.index] if row.index < len(charges) else 0
            self.expected_free[c["requester"]] -= charge
            if not row.valid:  # an invalid bid forfeits minEscrow to the keeper
                self.expected_free[c["requester"]] -= self.market.params.min_escrow
            entry = {"index": row.index, "requester": c["requester"], "escrow": c["escrow"],
                     "value": int(row.price) if row.valid else None,
                     "size": int(row.quantity) if row.valid else None,
                     "charge": charge, "valid": row.valid, "reason": row.reason,
                     "circuit": names.get((int.from_bytes(bytes(c["task"]), "big") >> 192)
                                          & 0xFFFFFFFF),
                     "inputs": [int(v) for v in c["inputs"]]}
            report.bids.append(entry)
            if not row.valid:
                report.invalid.append(entry)
        ask_commits = {e["args"]["index"]: e["args"] for e in self._events("AskCommitted", r)}
        payouts = {int(k): v for k, v in (outcome.get("payouts") or {}).items()}
        for row in self.keeper.store.openings(r, side=1):
            c = ask_commits[row.index]
            report.asks.append({"index": row.index, "prover": c["prover"],
                                "cost": int(row.price) if row.valid else None,
                                "units": int(row.quantity) if row.valid else None,
                                "payout": payouts.get(row.index, 0), "valid": row.valid,
                                "reason": row.reason})
            if not row.valid:
                report.invalid.append({"index": row.index, "prover": c["prover"],
                                       "reason": row.reason})
                self.expected_collateral[c["prover"]] -= self.market.params.min_escrow
        for e in self._events("InvalidForfeited", r):
            a = e["args"]
            self.expected_free[a["keeper"]] = (self.expected_free.get(a["keeper"], 0)
                                               + a["amount"])
        for e in self._events("CongestionFeeBurned", r):
            a = e["args"]
            side = self.expected_free if a["side"] == 0 else self.expected_collateral
            side[a["payer"]] -= a["fee"]
            self.expected_burned += a["fee"]
        for e in self._events("ProofAccepted", r):
            a = e["args"]
            # payments are credited to the prover's collateral, margins to the treasury
            self.expected_collateral[a["prover"]] += a["payment"]
            self.expected_treasury += a["margin"]
            report.jobs.append({"job": a["jobIndex"], "prover": a["prover"], "status": "proven",
                                "payment": a["payment"], "margin": a["margin"],
                                "gas": self.proof_gas.get((r, int(a["jobIndex"])))})
        for e in self._events("JobSlashed", r):
            a = e["args"]
            self.expected_free[a["requester"]] += a["refund"] + a["compensation"]
            self.expected_collateral[a["prover"]] -= a["compensation"]
            report.jobs.append({"job": a["jobIndex"], "prover": a["prover"], "status": "slashed",
                                "refund": a["refund"], "compensation": a["compensation"],
                                "requester": a["requester"]})
        report.jobs.sort(key=lambda j: j["job"])
        if self.cfg.mechanism == "fixedprice":
            report.posted_price = self.market.round_price(r)
        if self.cfg.mechanism == "proofphi" and outcome.get("charges"):
            report.bid_price = next(iter(outcome["charges"].values()))
            units = {int(k): v for k, v in outcome.get("payouts", {}).items()}
            sold = {a["index"]: a["units"] for a in report.asks if a["valid"]}
            first = next((k for k in units if sold.get(k)), None)
            if first is not None:
                report.ask_price = units[first] // sold[first]
        return report

    def check_ledger(self) -> list[str]:
        """Differences between the world's expected ledger and the contract (empty: all good)."""
        problems: list[str] = []
        for address, expected in self.expected_free.items():
            actual = self.market.balance_of(address)
            if actual != expected:
                problems.append(f"free balance of {address}: contract {actual}, "
                                f"expected {expected}")
        for address, expected in self.expected_collateral.items():
            actual = self.market.prover_info(address)["collateral"]
            if actual != expected:
                problems.append(f"collateral of {address}: contract {actual}, "
                                f"expected {expected}")
        non_free, treasury = self.market.liabilities()
        if treasury != self.expected_treasury:
            problems.append(f"treasury: contract {treasury}, expected {self.expected_treasury}")
        held = treasury + sum(self.expected_collateral.values()) + self.expected_burned
        if non_free != held:
            problems.append(f"escrow or round pots left: non-free {non_free} ≠ treasury "
                            f"{treasury} + collateral {sum(self.expected_collateral.values())} "
                            f"+ burned fees {self.expected_burned}")
        balance = int(self.w3.eth.get_balance(self.market.address))
        if balance != non_free + sum(self.expected_free.values()):
            problems.append(f"contract holds {balance} wei but its ledger sums to "
                            f"{non_free + sum(self.expected_free.values())}")
        return problems
