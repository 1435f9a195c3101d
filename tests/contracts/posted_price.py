"""The posted-price market of the contract tests: the seed's running example registered on a
``PostedPriceMarket`` on eth-tester, and the helpers the tests drive it with (:class:`PP`).

``tests/contracts/conftest.py`` serves it as the ``pp`` fixture (one market per test module, the
chain reverted after each test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from web3.contract import Contract

from bridge.chain.deploy import deploy, transact
from bridge.chain.posted_price import (
    PostedPriceConfig,
    Submitted,
    book_entries,
    deploy_posted_price_market,
    proposal_from_chain,
    proposal_to_chain,
)
from bridge.chain.revert import call_decoded
from bridge.chain.tester import TesterChain
from bridge.errors import SettlementRejected
from bridge.mechanisms.posted_price import Market, Node, Proposal, Request, run
from bridge.proving import solve_pow

if TYPE_CHECKING:  # conftest serves the fixtures built from this module
    from tests.contracts.conftest import Accounts

PERIOD = 100
BOND = 10**15 + 1  # γ: each proposal's bond and each registration's deposit
CPU = 10**15  # collateral per unit
BITS = 4
T0, T1 = b"\x01" * 32, b"\x02" * 32


@dataclass
class PP:
    """The market, its chain and accounts, and the round under test."""

    chain: TesterChain
    market: Contract
    acc: Accounts
    round: int = 0
    gas: dict[str, int] = field(default_factory=dict)  # wei each sender spent on gas

    def send(self, fn: str, *args: Any, sender: str, value: int = 0) -> Any:
        receipt = transact(getattr(self.market.functions, fn)(*args), sender, value=value)
        self.gas[sender] = (self.gas.get(sender, 0)
                            + receipt["gasUsed"] * receipt["effectiveGasPrice"])
        return receipt

    def wallet(self, account: str) -> int:
        return int(self.chain.w3.eth.get_balance(account))

    def refused(self, fn: str, *args: Any, sender: str, value: int = 0) -> SettlementRejected:
        """The error ``fn`` gets in the next block (a call on the pending block)."""
        call = getattr(self.market.functions, fn)(*args)
        with pytest.raises(SettlementRejected) as info:
            call_decoded(self.market.abi, lambda: call.call(
                {"from": sender, "value": value}, block_identifier="pending"))
        return info.value

    def next_block_at(self, t: int) -> None:
        """The next transaction lands in a block stamped ``t``."""
        self.chain.travel_to(t - 1)
        assert self.chain.now() == t - 1

    def deadlines(self) -> tuple[int, ...]:
        return tuple(self.market.functions.deadlines(self.round).call())

    def conserved(self) -> None:
        f = self.market.functions
        owed = f.totalLocked().call() + f.burned().call() + sum(
            f.balanceOf(a).call() for a in set(vars(self.acc).values()))
        assert self.chain.w3.eth.get_balance(self.market.address) == owed

    def balance(self, account: str) -> int:
        return int(self.market.functions.balanceOf(account).call())

    def deposit(self, side: int, index: int) -> int:
        """``DepositState`` of the request (side 0) or node (side 1) at ``index``."""
        fn = self.market.functions.requestInfo if side == 0 else self.market.functions.nodeInfo
        return int(fn(self.round, index).call()[-1])

    def release_unbooked(self) -> None:
        """Release the deposits of the participants :meth:`register` made that hold one."""
        for side, count in ((0, 3), (1, 4)):
            for i in range(count):
                if self.deposit(side, i) == HELD:
                    self.send("releaseDeposit", self.round, side, i, sender=self.acc.anyone)

    def library_market(self) -> Market:
        return Market([Request(0, 1, "0", 2), Request(1, 1, "0", 1), Request(2, 1, "0", 1)],
                      [Node(0, 2, frozenset({"0"})), Node(1, 2, frozenset({"0"})),
                       Node(2, 1, frozenset({"1"})), Node(3, 1, frozenset({"0"}))])

    def register(self) -> None:
        """Open a round with the seed's example registered."""
        self.round = self.market.functions.roundCount().call()
        self.send("openRound", sender=self.acc.anyone)
        a = self.acc
        r, d = self.round, BOND
        self.send("registerRequest", r, 1, 0, 2, 7_000, T0, sender=a.r1, value=d)
        self.send("registerRequest", r, 1, 0, 1, 5_000, T1, sender=a.r2, value=d)
        self.send("registerRequest", r, 1, 0, 1, 5_000, T1, sender=a.r3, value=d)
        self.send("registerNode", r, 2, 1, 500, sender=a.p1, value=d)
        self.send("registerNode", r, 2, 1, 500, sender=a.p2, value=d)
        self.send("registerNode", r, 1, 2, 0, sender=a.p3, value=d)  # tag 1 only
        self.send("registerNode", r, 1, 1, 0, sender=a.anyone, value=d)  # capacity 1

    def open_proposals(self) -> tuple[int, ...]:
        """:meth:`register`, then the next block at the registration deadline, where the proposal
        window opens; the round's deadlines."""
        self.register()
        deadlines = self.deadlines()
        self.next_block_at(deadlines[0])
        return deadlines

    def propose(self, p: Proposal, maker: str) -> None:
        self.send("propose", self.round, proposal_to_chain(self.library_market(), p),
                  sender=maker, value=BOND)

    def submitted(self) -> list[Submitted]:
        logs = self.market.events.ProposalSubmitted().get_logs(
            from_block=0, argument_filters={"round": self.round})
        m = self.library_market()
        out = []
        for log in logs:
            raw = log["args"]["proposal"]
            data = tuple(list(raw[k]) for k in ("requests", "prices", "maxPrices", "assignment",
                                                 "nodes", "rewards", "minRewards"))
            out.append(Submitted(log["args"]["index"], log["args"]["maker"],
                                 proposal_from_chain(m, raw, log["args"]["maker"]),
                                 data))  # type: ignore[arg-type]
        return out

    def book(self) -> list[tuple[Any, ...]]:
        subs = self.submitted()
        book, _ = run(self.library_market(), [s.proposal for s in subs])
        return book_entries(book, subs)


# A: the whole allocation with slack (t0 may rise to 7000, n0 fall to 500); margin 6000.
A = Proposal.make({0: [0, 1], 1: [0]}, {0: 6_000, 1: 4_000}, {0: 3_000, 1: 1_000},
                  max_prices={0: 7_000, 1: 5_000}, min_rewards={0: 500, 1: 500})
# B: undercuts A on t1 and n1 (Δ = 2000 ≤ A's other slack 3500): A is kept and re-priced.
B = Proposal.make({1: [1]}, {1: 3_000}, {1: 2_000})
# D: serves t2 on n0, paying n0 less than A does: not better for n0, so A is kept unchanged.
D = Proposal.make({2: [0]}, {2: 1_000}, {0: 1_000})
# DepositState
HELD, RETURNED, FORFEITED = 1, 2, 3


def proof(pp: PP, task: bytes, prover: str) -> bytes:
    return solve_pow(task, prover, BITS)


def deploy_pp_market(w3: Any, accounts: Accounts) -> Contract:
    """The test market: every period ``PERIOD``, at most 8 requests, nodes and proposals."""
    verifier = deploy(w3, "ProofOfWorkVerifier", BITS, sender=accounts.owner)
    cfg = PostedPriceConfig(accounts.keeper, verifier.address, PERIOD, PERIOD, PERIOD, PERIOD,
                            PERIOD, BOND, CPU, 8, 8, 8)
    return deploy_posted_price_market(w3, cfg, accounts.owner)
