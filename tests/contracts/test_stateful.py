"""Random operation sequences on a market; after every step the books balance.

Runs on anvil (a transaction in milliseconds) so that the budget finds bugs: 60 sequences of 20
operations per mechanism, settlements in pages, settlements cut short and voided page by page.

Checked after each step: the contract's ETH balance equals the sum of all free balances plus the
``nonFree`` counter, and ``nonFree`` equals the model's locked escrow + round pots + the sum of
collateral + treasury. Withdrawal rules also check that nobody can take one wei more than theirs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bridge.chain.anvil import Anvil
from bridge.chain.deploy import Mechanism, deploy, deploy_market
from bridge.chain.limits import Limits
from bridge.errors import SettlementRejected
from tests.contracts.anvil_chain import AnvilChain
from tests.contracts.conftest import DIFFICULTY_BITS, REFUND_CAP, Accounts, market_config
from tests.contracts.flow import Chain, Driver, Settled

MILLI = 10**15
STATEFUL_EXAMPLES = int(os.environ.get("BRIDGE_STATEFUL_EXAMPLES", "60"))
STATEFUL_STEPS = int(os.environ.get("BRIDGE_STATEFUL_STEPS", "20"))


class MarketMachine(RuleBasedStateMachine):
    """One market, four requesters, three provers, the owner and anyone."""

    chain: Chain
    market: Any
    acc: Accounts

    def __init__(self) -> None:
        super().__init__()
        self.snap = self.chain.snapshot()
        self.m = Driver(self.chain, self.market, self.acc.keeper, self.acc.owner)
        self.requesters = [self.acc.r1, self.acc.r2, self.acc.r3, self.acc.anyone]
        self.provers = [self.acc.p1, self.acc.p2, self.acc.p3]
        self.everyone = list(dict.fromkeys(self.acc.__dict__.values()))
        self.round: int | None = None  # the round taking commits
        self.settled: Settled | None = None
        self.resolved: set[tuple[int, int]] = set()
        self.locked = 0
        self.pot = 0
        self.margin_rounds: set[int] = set()
        for prover in self.provers:
            self.m.prover_ready(prover, 1, extra=2 * REFUND_CAP)
        self.round = self.m.next_round()

    def teardown(self) -> None:
        self.chain.revert(self.snap)

    # ---------------------------------------------------------------- funds
    @rule(kind=st.sampled_from(["deposit", "withdraw", "stake", "unstake"]),
          who=st.integers(0, 3), amount=st.integers(1, 30))
    def funds(self, kind: str, who: int, amount: int) -> None:
        """Deposits, withdrawals (never one wei more than the free balance), stake changes."""
        if kind == "deposit":
            self.m.send("deposit", sender=self.requesters[who], value=amount * MILLI)
        elif kind == "withdraw":
            a = self.requesters[who]
            bal = self.m.balance(a)
            with pytest.raises(SettlementRejected) as info:
                self.m.send("withdraw", bal + 1, sender=a)
            assert info.value.name == "InsufficientBalance"
            if bal:
                self.m.send("withdraw", max(1, bal * (amount % 4 + 1) // 4), sender=a)
        elif kind == "stake":
            prover = self.provers[who % 3]
            self.m.send("stake", sender=prover, value=REFUND_CAP * amount)
            try:
                self.m.send("setCapacity", 1 + amount % 2, sender=prover)
            except SettlementRejected as e:
                assert e.name in {"CapacityChangeTooSoon", "CapacityChangeTooLarge",
                                  "CapacityLockedByAsk"}
        else:
            prover = self.provers[who % 3]
            coll, cap = self.m.market.functions.proverInfo(prover).call()[:2]
            free = coll - REFUND_CAP * (cap + self.m.outstanding(prover))
            with pytest.raises(SettlementRejected) as info:
                self.m.send("withdrawCollateral", max(free, 0) + 1, sender=prover)
            assert info.value.name in {"InsufficientCollateral", "CollateralLockedByAsk",
                                       "CollateralBacksCapacity"}
            if info.value.name == "CollateralBacksCapacity":  # free at capacity 0: says how much
                assert cap > 0 and info.value.args_["withdrawable"] == \
                    coll - REFUND_CAP * self.m.outstanding(prover)
            if free > 0:
                try:
                    self.m.send("withdrawCollateral", free, sender=prover)
                except SettlementRejected as e:
                    assert e.name == "CollateralLockedByAsk", e  # its ask awaits settlement

    # ---------------------------------------------------------------- rounds
    def commit_bid(self, who: int, value: int, slack: int) -> None:
        assert self.round is not None
        escrow = (value + slack) * MILLI
        self.m.commit_bid(self.round, self.requesters[who], value * MILLI, escrow=escrow,
                          deposit=self.m.balance(self.requesters[who]) < escrow)
        self.locked += escrow

    def commit_ask(self, p: int, cost: int) -> None:
        assert self.round is not None
        prover = self.provers[p]
        cap = self.m.market.functions.proverInfo(prover).call()[1]
        asked = any(a.prover == prover for a in self.m.asks.get(self.round, []))
        if cap == 0 or asked:
            return
        # DARA asks may offer less than capacity; Prooφ asks sell exactly their capacity
        quantity = cap if self.m.mechanism == 0 else max(1, cap - cost % 2)
        try:
            self.m.commit_ask(self.round, prover, cost * MILLI, quantity=quantity)
        except SettlementRejected as e:  # collateral short of capacity + outstanding units
            assert e.name == "InsufficientCollateral", e  # + minEscrow per ask that may settle
            floor = REFUND_CAP * (cap + self.m.outstanding(prover)) + self.m.min_escrow
            assert self.m.collateral(prover) < e.args_["required"]
            assert e.args_["required"] >= floor

    @rule(values=st.lists(st.integers(1, 20), min_size=2, max_size=4),
          costs=st.lists(st.integers(0, 10), min_size=3, max_size=3),
          outcome=st.integers(0, 5), proofs=st.lists(st.booleans(), max_size=4))
    def round_(self, values: list[int], costs: list[int], outcome: int,
               proofs: list[bool]) -> None:
        """A whole round: bids and every prover's ask, then (outcome 1..3) the keeper settles (2:
        in pages of two bids) and some jobs are proven, (4) nothing more happens yet, (0) the
        keeper misses and anyone voids, or (5) its settlement is cut short and voided in pages."""
        self._finish_open_round()
        for i, v in enumerate(values):
            self.commit_bid(i % 4, v, i % 2)
        for p, c in enumerate(costs):
            self.commit_ask(p, c)
        if outcome == 4:
            return
        if outcome == 5:
            self.settle(drop=False, partial=True)
            return
        self.settle_or_void(drop=outcome == 3, keeper_missing=outcome,
                            page_bids=2 if outcome == 2 else 0)
        for k, prove in enumerate(proofs):
            if prove and self._open_jobs():
                self.prove(k)

    @precondition(lambda self: bool(self.m.bids.get(self.round)))
    @rule(drop=st.booleans(), keeper_missing=st.integers(0, 5), page_bids=st.sampled_from([0, 2]))
    def settle_or_void(self, drop: bool, keeper_missing: int, page_bids: int = 0) -> None:
        """Mostly the keeper settles (in pages of 2 bids or as many as fit); one time in six it
        misses the deadline and anyone voids, one in six its settlement is cut short by the
        deadline after one page and the round is voided page by page."""
        if keeper_missing == 0:
            self.void()
        else:
            self.settle(drop, page_bids, partial=keeper_missing == 5)

    def settle(self, drop: bool, page_bids: int = 0, partial: bool = False) -> None:
        """The keeper settles in pages of ``page_bids`` (0: as many as fit); ``partial``: only
        the first page lands before the deadline, and the round is voided page by page."""
        assert self.round is not None
        r = self.round
        self.m.close(r)
        invalid = [0] if drop and self.m.bids.get(r) else []
        # every settlement must go through: collateral was reserved when the asks committed
        limits = Limits(max_page_bids=page_bids) if page_bids else None
        args = self.m.clear(r, invalid_bids=invalid)
        if partial and len(args[0]) > 2:
            s = self.m.settle(r, *args, limits=Limits(max_page_bids=2), pages=1)
            self.m.past_settle_deadline(r)
            self.m.void(r, self.acc.anyone, settled=s)
            self.locked -= sum(b.escrow for b in s.bids)
            self.round = self.m.current_round()
            return
        s = self.m.settle(r, *args, limits=limits)
        self.locked -= sum(b.escrow for b in s.bids)
        self.pot += sum(b.charge for b in s.bids)
        self.settled = s
        self.margin_rounds.add(r)
        self.round = self.m.current_round()  # already open: proofs stay possible meanwhile

    def void(self) -> None:
        assert self.round is not None
        self.m.past_settle_deadline(self.round)
        self.m.void(self.round, self.acc.anyone)
        self.locked -= sum(b.escrow for b in self.m.bids.get(self.round, []))
        self.round = self.m.current_round()

    def _finish_open_round(self) -> None:
        """If time moved past the open round's close, settle it (or void it) and move on."""
        assert self.round is not None
        _, closes, deadline, _ = self.m.times(self.round)
        now = self.chain.now()
        if now + 2 < closes:
            return
        if now + 2 < deadline:
            self.settle(drop=False)
        else:
            self.void()
        if self.chain.now() + 2 >= self.m.times(self.round)[1]:
            self.round = self.m.next_round()

    def _open_jobs(self) -> list[int]:
        s = self.settled
        if s is None:
            return []
        return [k for k in range(len(s.jobs)) if (s.round, k) not in self.resolved]

    @precondition(lambda self: bool(self._open_jobs()))
    @rule(pick=st.integers(0, 50), missed=st.integers(0, 3))
    def prove_or_slash(self, pick: int, missed: int) -> None:
        """Mostly the prover proves; one time in four it misses and anyone slashes."""
        if missed == 0:
            self.slash(pick)
        else:
            self.prove(pick)

    def prove(self, pick: int) -> None:
        s, jobs = self.settled, self._open_jobs()
        if s is None or not jobs or self.chain.now() + 2 >= s.jobs[0].proof_deadline:
            return
        k = jobs[pick % len(jobs)]
        self.m.prove(s, k)
        self.resolved.add((s.round, k))
        self.pot -= s.jobs[k].payment

    def slash(self, pick: int) -> None:
        s, jobs = self.settled, self._open_jobs()
        if s is None or not jobs:
            return
        self.m.past_proof_deadline(s)
        self._finish_open_round()
        k = jobs[pick % len(jobs)]
        self.m.slash(s, k, self.acc.anyone)
        self.resolved.add((s.round, k))
        self.pot -= s.jobs[k].charge_share

    @precondition(lambda self: bool(self.margin_rounds))
    @rule()
    def collect_and_withdraw_treasury(self) -> None:
        for r in sorted(self.margin_rounds):
            before = self.m.market.functions.uncollectedMargin(r).call()
            self.m.send("collectMargins", r, sender=self.acc.anyone)
            self.pot -= before
        treasury = self.m.liabilities()[1]
        if treasury:
            self.m.send("withdrawTreasury", treasury, sender=self.acc.owner)

    # ------------------------------------------------------------ invariants
    @invariant()
    def books_balance(self) -> None:
        f = self.m.market.functions
        with self.chain.w3.batch_requests() as batch:  # one round trip for the whole ledger
            batch.add(f.liabilities())
            batch.add(self.chain.w3.eth.get_balance(self.m.market.address))
            for a in self.everyone:
                batch.add(f.balanceOf(a))
            for p in self.provers:
                batch.add(f.proverInfo(p))
            results = batch.execute()
        (nonfree, treasury), eth, *rest = results
        free = sum(int(x) for x in rest[:len(self.everyone)])
        assert eth == free + nonfree
        collateral = sum(int(info[0]) for info in rest[len(self.everyone):])
        assert nonfree == self.locked + self.pot + collateral + treasury


@pytest.fixture(scope="module")
def anvil_markets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnvilChain,
                                                                               Accounts, Any]]:
    """Both markets (the contract tests' configuration) on an anvil node."""
    node = Anvil(tmp_path_factory.mktemp("anvil"), block_time=None,
                 extra=("--silent", "--gas-limit", "60000000")).start()
    try:
        chain = AnvilChain(node)
        acc = Accounts(*chain.accounts[:9])
        verifier = deploy(chain.w3, "ProofOfWorkVerifier", DIFFICULTY_BITS, sender=acc.owner)
        markets = {m: deploy_market(chain.w3, market_config(acc, verifier.address, m), acc.owner)
                   for m in (Mechanism.PROOFPHI, Mechanism.DARA)}
        yield chain, acc, markets
    finally:
        node.stop()


@pytest.mark.slow  # the longest tests of the suite: started first (tests/conftest.py)
@pytest.mark.anvil
@pytest.mark.parametrize("mechanism", ["proofphi", "dara"])
def test_random_operations_conserve_funds(mechanism: str,
                                          anvil_markets: tuple[AnvilChain, Accounts, Any]) -> None:
    """60 sequences of 20 operations per mechanism (derandomized: the same in every run)."""
    chain, acc, markets = anvil_markets
    MarketMachine.chain = chain  # type: ignore[assignment]
    MarketMachine.market = markets[Mechanism.PROOFPHI if mechanism == "proofphi"
                                   else Mechanism.DARA]
    MarketMachine.acc = acc
    run = MarketMachine.TestCase
    run.settings = settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS,
                            deadline=None, suppress_health_check=list(HealthCheck),
                            derandomize=True, database=None)
    run().runTest()
