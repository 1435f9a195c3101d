"""Paged settlement and paged voids on eth-tester (checkpoint every 2 bids in the test markets).

- settling in pages ends in the same state as settling in one page, with the ledger conserved
  after every page (hypothesis: round sizes, invalid marks and page sizes drawn at random);
- a settlement cut short by its deadline is unwound and voided page by page, and every requester
  gets exactly its escrow back;
- what a page may not do: skip ahead, replay, land after the deadline, unwind wrong charges.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.chain.limits import Limits
from bridge.errors import ChainError, SettlementRejected
from tests.contracts.conftest import REFUND_CAP, Accounts
from tests.contracts.flow import CIPHERTEXT, Driver, Settled
from tests.contracts.test_market import conserved, rejected
from tests.tier import examples

MILLI = 10**15


def _round(m: Driver, acc: Accounts, values: list[tuple[int, int]], asks: list[tuple[int, int]]
           ) -> int:
    """Commit ``values`` (value milli, size) as bids from r1…r3 in turn and ``asks`` (cost milli,
    capacity) from p1…p3; returns the round, closed."""
    requesters = [acc.r1, acc.r2, acc.r3]
    provers = [acc.p1, acc.p2, acc.p3]
    for p, (_, cap) in zip(provers, asks, strict=False):
        m.prover_ready(p, cap)
    r = m.next_round()
    for k, (v, size) in enumerate(values):
        m.commit_bid(r, requesters[k % 3], v * MILLI, size=size, escrow=v * MILLI + k)
    for p, (cost, _) in zip(provers, asks, strict=False):
        m.commit_ask(r, p, cost * MILLI)
    m.close(r)
    return r


def _state(m: Driver, acc: Accounts, r: int) -> dict[str, Any]:
    people = list(acc.__dict__.values())
    return {
        "free": [m.balance(a) for a in people],
        "collateral": [m.collateral(a) for a in people],
        "outstanding": [m.outstanding(a) for a in people],
        "liabilities": m.liabilities(),
        "status": m.market.functions.roundInfo(r).call()[7],
        "jobCount": m.market.functions.roundInfo(r).call()[6],
    }


@given(
    data=st.data(),
    mechanism=st.sampled_from(["proofphi", "dara"]),
    n_bids=st.integers(0, 9),
    n_asks=st.integers(0, 3),
)
@settings(max_examples=examples(12, 4), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_pages_end_where_one_page_ends_and_conserve_after_each(
        proofphi: Driver, dara: Driver, accounts: Accounts, data: st.DataObject, mechanism: str,
        n_bids: int, n_asks: int) -> None:
    m = proofphi if mechanism == "proofphi" else dara
    m.bids.clear()
    m.asks.clear()
    snap = m.chain.snapshot()
    try:
        size = st.just(1) if mechanism == "proofphi" else st.integers(1, 3)
        values = data.draw(st.lists(st.tuples(st.integers(1, 20), size), min_size=n_bids,
                                    max_size=n_bids), label="bids")
        asks = data.draw(st.lists(st.tuples(st.integers(1, 12), st.integers(1, 3)),
                                  min_size=n_asks, max_size=n_asks), label="asks")
        invalid = data.draw(st.sets(st.integers(0, max(n_bids - 1, 0)), max_size=3)
                            if n_bids else st.just(set()), label="invalid")
        page_bids = data.draw(st.sampled_from([2, 4, 6]), label="page size")
        r = _round(m, accounts, values, asks)
        args = m.clear(r, invalid_bids=sorted(invalid))
        inner = m.chain.snapshot()
        one = m.settle(r, *args)
        assert len(one.plan.pages) == (1 if n_bids else 0)
        expected = _state(m, accounts, r)
        m.chain.revert(inner)
        plan = m.plan(r, args[0], args[1], args[4], Limits(max_page_bids=page_bids))
        assert len(plan.pages) == -(-n_bids // page_bids)
        m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper, gas=plan.begin_gas)
        conserved(m, accounts)
        for page in plan.pages:
            assert m.market.functions.roundInfo(r).call()[7] == 3  # SETTLING until the last
            m.send("settleBids", *page.args(r), sender=accounts.keeper, gas=page.gas)
            conserved(m, accounts)
        assert _state(m, accounts, r) == expected
        assert [replace(j, job_index=0) for j in plan.jobs] == [
            replace(j, job_index=0) for j in one.plan.jobs]
        paged = Settled(r, args[0], args[1], args[4], list(plan.jobs), plan.tree, plan=plan)
        for k in range(len(plan.jobs)):  # every job proves under the paged root
            m.prove(paged, k)
        conserved(m, accounts)
    finally:
        m.chain.revert(snap)


def test_a_settlement_cut_short_is_unwound_and_voided(dara: Driver, accounts: Accounts) -> None:
    m = dara
    values = [(10, 1), (9, 2), (8, 1), (7, 1), (6, 1), (5, 1)]
    r = _round(m, accounts, values, [(1, 3), (2, 3)])
    frees = {a: m.balance(a) for a in (accounts.r1, accounts.r2, accounts.r3)}
    escrow = {a: 0 for a in frees}
    for b in m.bids[r]:
        escrow[b.requester] += b.escrow
    bids, asks, bo, ao, entries = m.clear(r)
    assert sum(b.charge for b in bids[:2]) > 0, "the first page must charge someone"
    s = m.settle(r, bids, asks, bo, ao, entries, limits=Limits(max_page_bids=2), pages=1)
    assert m.market.functions.settlementProgress(r).call()[:2] == [2, 1]
    conserved(m, accounts)
    m.past_settle_deadline(r)
    with rejected("SettleDeadlinePassed"):
        m.send("settleBids", *s.plan.pages[1].args(r), sender=accounts.keeper)
    with rejected("UnwindMismatch"):  # the charges of page 0, one wei short
        first = [(b.requester, b.charge) for b in bids[:2] if b.charge]
        first[0] = (first[0][0], first[0][1] - 1)
        m.send("unwindPage", r, first, sender=accounts.anyone)
    rc = m.void(r, accounts.anyone, settled=s, limits=Limits(max_page_bids=2))
    assert m.events(rc, "RoundVoided")[0]["args"]["bidCount"] == len(values)
    for a, before in frees.items():
        assert m.balance(a) == before + escrow[a], "every escrow back, charges included"
    assert m.outstanding(accounts.p1) == m.outstanding(accounts.p2) == 0
    assert m.market.functions.roundInfo(r).call()[7] == 2  # VOIDED
    with rejected("RoundAlreadyFinal"):
        m.send("unwindPage", r, [], sender=accounts.anyone)
    conserved(m, accounts)


def test_pages_cannot_skip_ahead_or_replay(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    r = _round(m, accounts, [(10, 1), (9, 1), (8, 1), (7, 1), (6, 1)], [(1, 2), (3, 1)])
    bids, asks, _, _, entries = m.clear(r)
    plan = m.plan(r, bids, asks, entries, Limits(max_page_bids=2))
    assert [p.first for p in plan.pages] == [0, 2, 4]
    with rejected("SettlementNotBegun"):
        m.send("settleBids", *plan.pages[0].args(r), sender=accounts.keeper)
    m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    with rejected("PageOutOfOrder"):  # page 1 offered first
        m.send("settleBids", *plan.pages[1].args(r), sender=accounts.keeper)
    moved = plan.pages[1].data
    moved = (0).to_bytes(4, "big") + moved[4:]  # page 1's bids claimed as the first ones
    with pytest.raises(SettlementRejected):  # their winners, counts and chain do not fit
        m.send("settleBids", r, plan.pages[1].table, moved, sender=accounts.keeper)
    with rejected("NotKeeper"):
        m.send("settleBids", *plan.pages[0].args(r), sender=accounts.anyone)
    m.send("settleBids", *plan.pages[0].args(r), sender=accounts.keeper)
    with rejected("PageOutOfOrder"):  # the same page again
        m.send("settleBids", *plan.pages[0].args(r), sender=accounts.keeper)
    with rejected("RoundAlreadyFinal"):  # a page landed: the settlement cannot begin again
        m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    m.send("settleBids", *plan.pages[1].args(r), sender=accounts.keeper)
    m.send("settleBids", *plan.pages[2].args(r), sender=accounts.keeper)
    assert m.market.functions.roundInfo(r).call()[7] == 1
    conserved(m, accounts)


def test_proof_deadline_is_exact(dara: Driver, accounts: Accounts) -> None:
    """A proof mined one second before the deadline counts, one mined at the deadline does not;
    a slash mined one second before the deadline fails, one at the deadline succeeds and pays
    refundCap per unit of the job (here 2 units). eth-tester mines each transaction one second
    after the latest block, so each case starts one second earlier."""
    m = dara
    r = _round(m, accounts, [(10, 2), (9, 2)], [(1, 2), (2, 2)])
    s = m.clear_and_settle(r)
    two = [k for k, j in enumerate(s.jobs) if j.units == 2]
    assert two, "this round must trade a 2-unit job"
    k = two[0]
    deadline = s.jobs[k].proof_deadline
    assert deadline == m.times(r)[2] + int(m.market.functions.proofPeriod().call())

    def mined_at(t: int) -> None:
        m.chain.travel_to(t - 1)

    start = m.chain.snapshot()
    mined_at(deadline - 1)
    rc = m.prove(s, k)
    assert m.chain.w3.eth.get_block(rc["blockNumber"])["timestamp"] == deadline - 1
    m.chain.revert(start)
    mined_at(deadline - 1)
    with pytest.raises((SettlementRejected, ChainError)):
        m.slash(s, k, accounts.anyone)  # mined at deadline − 1: not yet
    with pytest.raises((SettlementRejected, ChainError)):
        m.prove(s, k)  # mined at the deadline: too late
    assert m.chain.now() == deadline
    m.chain.revert(start)
    mined_at(deadline)
    job = s.jobs[k]
    before = m.balance(job.requester)
    collateral = m.collateral(job.prover)
    rc = m.slash(s, k, accounts.anyone)
    assert m.chain.w3.eth.get_block(rc["blockNumber"])["timestamp"] == deadline
    assert m.balance(job.requester) == before + job.charge_share + 2 * REFUND_CAP
    assert m.collateral(job.prover) == collateral - 2 * REFUND_CAP
    conserved(m, accounts)


@pytest.mark.parametrize("side", ["bid", "ask"])
def test_round_full_is_exact_at_the_cap(dara: Driver, accounts: Accounts, side: str) -> None:
    """The cap admits exactly ``maxBidsPerRound`` / ``maxAsksPerRound`` commitments."""
    m = dara
    cap = int((m.market.functions.maxBidsPerRound() if side == "bid"
               else m.market.functions.maxAsksPerRound()).call())
    r = m.next_round()
    if side == "bid":
        m.send("deposit", sender=accounts.r1, value=10**18)
        for _ in range(cap - 1):
            m.send("commitBid", r, os.urandom(32), b"", 1000, os.urandom(32), sender=accounts.r1)
        m.send("commitBid", r, os.urandom(32), b"", 1000, os.urandom(32), sender=accounts.r1)
        with pytest.raises(SettlementRejected) as info:
            m.send("commitBid", r, os.urandom(32), b"", 1000, os.urandom(32), sender=accounts.r1)
    else:
        people = list(accounts.__dict__.values())
        for p in people[:cap]:
            m.prover_ready(p, 1)
            m.send("commitAsk", r, os.urandom(32), b"", sender=p)
        m.prover_ready(people[cap], 1)
        with pytest.raises(SettlementRejected) as info:
            m.send("commitAsk", r, os.urandom(32), b"", sender=people[cap])
    assert info.value.name == "RoundFull" and info.value.args_["cap"] == cap


def test_the_watchtower_flags_a_wrong_mark_at_the_page_that_carries_it(
        dara: Driver, accounts: Accounts) -> None:
    """Bid 3 (page 1 of 3) is marked commitment_mismatch, but its envelope has no ephemeral key, so
    the only true reason is undecryptable: flagged when page 1 lands, before the round settles."""
    from bridge.chain.market import Market
    from bridge.client.watchtower import Watchtower
    from bridge.evidence import MarkReason, make_evidence

    m = dara
    r = _round(m, accounts, [(10, 1), (9, 1), (8, 1), (7, 1), (6, 1)], [(1, 3), (2, 3)])
    bids, asks, bo, ao, entries = m.clear(r, invalid_bids=[1, 3])
    wrong = make_evidence(b"\x01" * 32, CIPHERTEXT, MarkReason.COMMITMENT_MISMATCH).encode()
    bids[3] = replace(bids[3], evidence=wrong)
    tower = Watchtower(Market(m.chain.w3, m.market.address), 0)
    deep = Watchtower(Market(m.chain.w3, m.market.address), 0, confirmations=1)
    s = m.settle(r, bids, asks, bo, ao, entries, limits=Limits(max_page_bids=2), pages=1)
    assert tower.poll() == []  # page 0: bid 1's honest undecryptable mark checks out
    m.send("settleBids", *s.plan.pages[1].args(r), sender=accounts.keeper)
    found = tower.poll()
    assert [(d.kind, d.subject) for d in found] == [("invalid_mark", "bid 3")]
    assert deep.poll() == []  # page 1's block is the head: not one confirmation deep yet
    m.send("deposit", sender=accounts.anyone, value=1)
    assert [(d.kind, d.subject) for d in deep.poll()] == [("invalid_mark", "bid 3")]
    assert "undecryptable" in found[0].detail
    assert m.market.functions.roundInfo(r).call()[7] == 3  # still SETTLING
    m.send("settleBids", *s.plan.pages[2].args(r), sender=accounts.keeper)
    assert tower.poll() == [] and tower.metrics.rounds_audited._value.get() == 1
