"""Every guard of the contracts, pinned: the exact custom error and its arguments, at its boundary.

Each test states a rule a participant relies on (who may settle and when, what a page or an ask
reveal must look like, what a claim must prove, what a void may return) and checks both sides of
it: the input just inside the rule is accepted, the input just outside is rejected with the error
and arguments the interface documents. ``bench/mutate.py`` changes each ``if (…) revert`` guard of
the contracts; these tests are what notices.

Offsets in ``PageMalformed``: ``beginSettlement`` reports them relative to the packed ask reveals,
``settleBids`` relative to the page (its header checks, length and bid count, as 0): the byte a
client wrote, wherever the page sits in the calldata (see :func:`at`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from eth_utils import keccak
from web3.contract import Contract

from bridge.chain.deploy import Mechanism, deploy, deploy_market
from bridge.chain.limits import Limits
from bridge.chain.revert import call_decoded
from bridge.chain.settlement import (
    BidReveal,
    JobEntry,
    ProofPhiClaim,
    ask_table,
    encode_asks,
    encode_bid,
    encode_table,
)
from bridge.chain.tester import TesterChain
from bridge.errors import ChainError, SettlementRejected
from tests.contracts.conftest import REFUND_CAP, Accounts, market_config
from tests.contracts.flow import Driver

MILLI = 10**15
OPEN, SETTLED, VOIDED, SETTLING = 0, 1, 2, 3
U32 = 2**32
U128 = 2**128
ZERO = "0x" + "00" * 20
PAGES_OF_TWO = Limits(max_page_bids=2)


@contextmanager
def reverts(name: str, **args: Any) -> Iterator[None]:
    """Expect the transaction to revert with custom error ``name`` and exactly ``args``."""
    with pytest.raises(SettlementRejected) as info:
        yield
    assert (info.value.name, info.value.args_) == (name, args), info.value


def mined_at(m: Driver, t: int) -> None:
    """Make the next transaction land in a block stamped ``t`` (eth-tester stamps each block one
    second after the latest)."""
    m.chain.travel_to(t - 1)
    assert m.chain.now() == t - 1


def refused_in_next_block(m: Driver, sender: str, fn_name: str, *args: Any) -> SettlementRejected:
    """The error of ``fn_name(*args)`` in the next block, which then refuses the transaction.

    A transaction refused for its time is replayed by :func:`bridge.chain.deploy.transact` one
    block earlier, where it may pass; so the error is read by a call on the pending block (stamped
    as the next block will be), then the transaction is sent and must fail in that block."""
    fn = getattr(m.market.functions, fn_name)(*args)
    t = int(m.chain.tester.get_block_by_number("pending")["timestamp"])
    with pytest.raises(SettlementRejected) as info:
        call_decoded(m.market.abi, lambda: fn.call({"from": sender}, block_identifier="pending"))
    with pytest.raises((SettlementRejected, ChainError)):
        m.send(fn_name, *args, sender=sender)
    assert m.chain.now() == t
    return info.value


def stamp(m: Driver, receipt: Any) -> int:
    return int(m.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def at(table: bytes, pos: int) -> int:
    """The offset ``PageMalformed`` reports for byte ``pos`` of a page: ``pos`` itself, whatever
    the ask table before the page in the calldata (``table``, kept in the signature so every test
    states which table its page travels with: a report that depended on it would fail here)."""
    del table
    return pos


def header(first: int, bids: int, jobs: int) -> bytes:
    return first.to_bytes(4, "big") + bids.to_bytes(4, "big") + jobs.to_bytes(4, "big")


def dara_page(first: int, bids: Sequence[BidReveal],
              jobs: Sequence[Sequence[tuple[int, int, int]]]) -> bytes:
    """A DARA page written by hand: ``jobs[i]`` are bid ``i``'s (table position, units, payment)
    in the order given (no sorting, no checks)."""
    body = b"".join(encode_bid("dara", b, j) for b, j in zip(bids, jobs, strict=True))
    return header(first, len(bids), sum(len(j) for j in jobs)) + body


def open_round(m: Driver, acc: Accounts, bids: Sequence[tuple[int, int, int]],
               asks: Sequence[tuple[int, int, int]]) -> int:
    """A fresh round with ``bids`` (value, size, escrow) from r1, r2, r3 in turn and ``asks``
    (cost, capacity, quantity) from p1, p2, p3 (each staked for its capacity); still open."""
    provers = [acc.p1, acc.p2, acc.p3]
    for p, (_, capacity, _) in zip(provers, asks, strict=False):
        m.prover_ready(p, capacity)
    r = m.next_round()
    requesters = [acc.r1, acc.r2, acc.r3]
    for k, (value, size, escrow) in enumerate(bids):
        m.commit_bid(r, requesters[k % 3], value, size=size, escrow=escrow)
    for p, (cost, _, quantity) in zip(provers, asks, strict=False):
        m.commit_ask(r, p, cost, quantity=quantity)
    return r


def status(m: Driver, r: int) -> int:
    return int(m.market.functions.roundInfo(r).call()[7])


def progress(m: Driver, r: int) -> list[Any]:
    """(bidsDone, pages, unwound, charged, paid, askTableHash)."""
    return list(m.market.functions.settlementProgress(r).call())


def begin(m: Driver, r: int, asks: bytes, order: Sequence[int] = (),
          claim: ProofPhiClaim | None = None, sender: str | None = None) -> Any:
    return m.send("beginSettlement", r, asks, list(order), (claim or ProofPhiClaim()).as_tuple(),
                  sender=sender or m.keeper)


def commits(m: Driver, r: int) -> list[tuple[str, int, bytes, bytes]]:
    """``voidRound``'s view of round ``r``'s bids: (requester, escrow, task, commitment)."""
    return [(b.requester, b.escrow, b.task, b.commitment) for b in m.bids[r]]


# ------------------------------------------------------------------- who and when may settle


def test_only_the_keeper_may_begin_a_settlement(dara: Driver, accounts: Accounts) -> None:
    m = dara
    r = open_round(m, accounts, [(5 * MILLI, 1, 5 * MILLI)], [(MILLI, 1, 1)])
    m.close(r)
    bids, asks, _, _, entries = m.clear(r)
    plan = m.plan(r, bids, asks, entries)
    with reverts("NotKeeper", caller=accounts.anyone):
        m.send("beginSettlement", *plan.begin_args(), sender=accounts.anyone)
    assert status(m, r) == OPEN and progress(m, r)[5] == b"\x00" * 32
    m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    assert status(m, r) == SETTLING


def test_settle_and_void_windows_meet_exactly_at_the_deadline(dara: Driver, accounts: Accounts
                                                              ) -> None:
    """Settling opens at the close and ends at the settlement deadline, where voiding opens: a
    page mined one second before the deadline lands, one mined at it does not; a void mined one
    second before the deadline is refused, one mined at it voids the round."""
    m = dara
    r = open_round(m, accounts, [(v * MILLI, 1, v * MILLI) for v in (10, 9, 8, 7)],
                   [(MILLI, 2, 2)])
    _, closes, deadline, _ = m.times(r)
    bids, asks, _, _, entries = m.clear(r)
    plan = m.plan(r, bids, asks, entries, PAGES_OF_TWO)
    assert len(plan.pages) == 2
    mined_at(m, closes - 1)
    with reverts("RoundNotClosed", round=r, closesAt=closes):
        m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    rc = m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    assert stamp(m, rc) == closes
    start = m.chain.snapshot()
    mined_at(m, deadline - 1)
    rc = m.send("settleBids", *plan.pages[0].args(r), sender=accounts.keeper)
    assert stamp(m, rc) == deadline - 1
    e = refused_in_next_block(m, accounts.keeper, "settleBids", *plan.pages[1].args(r))
    assert (e.name, e.args_) == ("SettleDeadlinePassed", {"round": r, "deadline": deadline})
    assert m.chain.now() == deadline and progress(m, r)[:2] == [2, 1]
    m.chain.revert(start)
    mined_at(m, deadline - 1)
    with reverts("VoidTooEarly", round=r, deadline=deadline):
        m.send("voidRound", r, commits(m, r), sender=accounts.anyone)
    rc = m.send("voidRound", r, commits(m, r), sender=accounts.anyone)
    assert stamp(m, rc) == deadline and status(m, r) == VOIDED


def test_a_page_before_the_last_is_checked_against_its_checkpoint(dara: Driver,
                                                                  accounts: Accounts) -> None:
    """A first page whose bid 1 claims one wei more escrow than was committed (a refund one wei
    too large) does not reproduce the checkpoint after bid 1."""
    m = dara
    r = open_round(m, accounts, [(v * MILLI, 1, v * MILLI) for v in (10, 9, 8, 7)],
                   [(MILLI, 2, 2)])
    m.close(r)
    bids, asks, _, _, entries = m.clear(r, invalid_bids=[1])
    inflated = [*bids[:1], replace(bids[1], escrow=bids[1].escrow + 1), *bids[2:]]
    bad = m.plan(r, inflated, asks, entries, PAGES_OF_TWO)
    m.send("beginSettlement", *bad.begin_args(), sender=accounts.keeper)
    with reverts("RevealsMismatch", round=r, side=0):
        m.send("settleBids", *bad.pages[0].args(r), sender=accounts.keeper)
    assert progress(m, r)[:2] == [0, 0]
    m.settle(r, bids, asks, [], [], entries, limits=PAGES_OF_TWO)
    assert status(m, r) == SETTLED


def test_a_settlement_may_begin_again_until_its_first_page_lands(proofphi: Driver,
                                                                 accounts: Accounts) -> None:
    """The keeper may replace the ask table and claim (a re-clear) while no page has landed; a
    landed page, or a round settled by its ``beginSettlement`` alone, fixes them."""
    m = proofphi
    r = open_round(m, accounts, [(v * MILLI, 1, v * MILLI) for v in (10, 9, 8, 1)],
                   [(MILLI, 2, 2), (3 * MILLI, 1, 1)])
    m.close(r)
    bids, asks, _, _, entries = m.clear(r)
    honest = m.plan(r, bids, asks, entries, PAGES_OF_TWO)
    assert honest.claim.ell == 1 and len(honest.pages) == 2
    no_trade = m.plan(r, bids, asks, entries, PAGES_OF_TWO, claim=ProofPhiClaim())
    m.send("beginSettlement", *no_trade.begin_args(), sender=accounts.keeper)
    m.send("beginSettlement", *honest.begin_args(), sender=accounts.keeper)
    m.send("settleBids", *honest.pages[0].args(r), sender=accounts.keeper)
    with reverts("RoundAlreadyFinal", round=r, status=SETTLING):
        m.send("beginSettlement", *no_trade.begin_args(), sender=accounts.keeper)
    rc = m.send("settleBids", *honest.pages[1].args(r), sender=accounts.keeper)
    ev = m.events(rc, "RoundSettled")[0]["args"]
    assert (ev["totalCharged"], ev["jobCount"]) == (16 * MILLI, 2)  # the second claim's outcome
    # a round without bids is settled by its beginSettlement
    m.prover_ready(accounts.p3, 1)
    r2 = m.next_round()
    m.commit_ask(r2, accounts.p3, MILLI)
    m.close(r2)
    _, asks2 = m.reveals(r2)
    plan2 = m.plan(r2, [], asks2, [])
    m.send("beginSettlement", *plan2.begin_args(), sender=accounts.keeper)
    assert status(m, r2) == SETTLED and progress(m, r2)[1] == 0
    with reverts("RoundAlreadyFinal", round=r2, status=SETTLED):
        m.send("beginSettlement", *plan2.begin_args(), sender=accounts.keeper)


# ------------------------------------------------------------------------------ ask reveals


def test_ask_reveals_are_read_exactly(dara: Driver, accounts: Accounts) -> None:
    """Each ask is a 25-byte head and a 52-byte (valid) or 32 + 129-byte (invalid: commitment and
    evidence) body, nothing more;
    a DARA ask may offer at most its capacity, and a DARA settlement takes no ask order and no
    Prooφ claim."""
    m = dara
    r = open_round(m, accounts, [(5 * MILLI, 1, 5 * MILLI)], [(MILLI, 2, 2), (MILLI, 1, 2)])
    m.close(r)
    _, asks = m.reveals(r)  # p2 committed to 2 units with a capacity of 1
    with reverts("AskRevealUnacceptable", round=r, index=1):
        begin(m, r, encode_asks(asks))
    _, asks = m.reveals(r, invalid_asks=[1])
    data = encode_asks(asks)
    assert len(data) == 77 + 25 + 32 + 129
    for cut, offset in ((b"", 0), (data[:25], 25), (data[:77 + 25], 102),
                        (data[:77 + 25 + 32 + 128], 102), (data + b"\x00", 263)):
        with reverts("PageMalformed", round=r, offset=offset):
            begin(m, r, cut)
    with reverts("AskOrderInvalid", round=r, position=0):
        begin(m, r, data, order=[0])
    for claim in (ProofPhiClaim(ell=1), ProofPhiClaim(has_a=True), ProofPhiClaim(has_b=True)):
        with reverts("ProofPhiClaimInvalid", round=r, code=1):
            begin(m, r, data, claim=claim)
    begin(m, r, data)  # p1 offers its whole capacity; the invalid ask ends the reveals exactly
    table = encode_table(ask_table("dara", asks))
    assert status(m, r) == SETTLING and progress(m, r)[5] == keccak(table)


def _proofphi_two_asks(m: Driver, acc: Accounts) -> tuple[int, list[BidReveal], bytes, Any]:
    """Bids 10, 9, 8, 1 milli; p1 cost 1 milli × 2, p2 cost 3 milli × 1, p3's ask invalid.
    ℓ = 1, pivot A = bid 2 (8 milli), no pivot B (ask 1 is the last)."""
    r = open_round(m, acc, [(v * MILLI, 1, v * MILLI) for v in (10, 9, 8, 1)],
                   [(MILLI, 2, 2), (3 * MILLI, 1, 1), (MILLI, 1, 1)])
    m.close(r)
    bids, asks, _, _, entries = m.clear(r, invalid_asks=[2])
    plan = m.plan(r, bids, asks, entries)
    assert (plan.claim.ell, plan.claim.a_index, plan.claim.has_b) == (1, 2, False)
    assert list(plan.ask_order) == [0, 1]
    return r, bids, plan.asks, plan


def test_proofphi_ask_order_lists_each_valid_ask_once_in_rank_order(proofphi: Driver,
                                                                    accounts: Accounts) -> None:
    m = proofphi
    r, _, asks, plan = _proofphi_two_asks(m, accounts)
    for order, position in (([0, 1, 1], 2), ([0], 1), ([0, 3], 1), ([2, 0], 0), ([1, 0], 1)):
        with reverts("AskOrderInvalid", round=r, position=position):
            begin(m, r, asks, order, plan.claim)
    begin(m, r, asks, [0, 1], plan.claim)
    assert status(m, r) == SETTLING


def test_proofphi_claim_fields_are_range_checked_at_begin(proofphi: Driver, accounts: Accounts
                                                          ) -> None:
    """A pivot's value is a uint128 and its index a uint32, whether or not the pivot is used."""
    m = proofphi
    r, _, asks, plan = _proofphi_two_asks(m, accounts)
    c = plan.claim
    for claim, code in ((replace(c, a_value=U128), 2), (replace(c, a_index=U32), 2),
                        (replace(c, b_value=U128), 3), (replace(c, b_index=U32), 3)):
        with reverts("ProofPhiClaimInvalid", round=r, code=code):
            begin(m, r, asks, plan.ask_order, claim)
    widest = replace(c, a_index=U32 - 1, a_value=U128 - 1, b_index=U32 - 1, b_value=U128 - 1)
    begin(m, r, asks, plan.ask_order, widest)
    begin(m, r, asks, plan.ask_order, c)  # and the keeper may still send the real claim
    for page in plan.pages:
        m.send("settleBids", *page.args(r), sender=accounts.keeper)
    assert status(m, r) == SETTLED


def test_proofphi_claim_is_checked_against_the_ask_table(proofphi: Driver, accounts: Accounts
                                                         ) -> None:
    """A trade (ℓ > 0) needs a pivot A whose value covers ask ℓ's cost (here 3 milli; bid 3 is
    worth 1 milli), no trade has no pivot A, and no pivot B without an ask ℓ + 1."""
    m = proofphi
    r, _, asks, plan = _proofphi_two_asks(m, accounts)
    c = plan.claim
    for claim, code in ((replace(c, has_a=False, a_index=0, a_value=0), 2),
                        (replace(c, a_index=3, a_value=MILLI), 2),
                        (ProofPhiClaim(has_a=True, a_index=2, a_value=8 * MILLI), 2),
                        (replace(c, has_b=True, b_index=3, b_value=0), 3),
                        (replace(c, has_b=True, b_index=3, b_value=MILLI), 3)):
        with reverts("ProofPhiClaimInvalid", round=r, code=code):
            begin(m, r, asks, plan.ask_order, claim)


def test_proofphi_price_may_equal_the_pivot_value_but_pivot_b_must_fail_strictly(
        proofphi: Driver, accounts: Accounts) -> None:
    """Asks cost 1, 3 and 5 milli (one unit each), bids 10, 9, 5 milli: ask 2 passes at equality
    (p₃ = 5 ≤ the third bid's 5), so ℓ = 2 and every winner pays exactly what each unit is paid.
    A claim of ℓ = 1 with pivot B at 5 milli is refused: ask 2 does not fail at p₃ = value(B)."""
    m = proofphi
    r = open_round(m, accounts, [(v * MILLI, 1, v * MILLI) for v in (10, 9, 5)],
                   [(MILLI, 1, 1), (3 * MILLI, 1, 1), (5 * MILLI, 1, 1)])
    m.close(r)
    args = m.clear(r)
    plan = m.plan(r, args[0], args[1], args[4])
    assert (plan.claim.ell, plan.claim.a_index, plan.claim.a_value) == (2, 2, 5 * MILLI)
    wrong = ProofPhiClaim(ell=1, has_a=True, a_index=1, a_value=9 * MILLI, has_b=True, b_index=2,
                          b_value=5 * MILLI)
    with reverts("ProofPhiClaimInvalid", round=r, code=3):
        begin(m, r, plan.asks, plan.ask_order, wrong)
    s = m.settle(r, *args)
    assert [(j.prover, j.payment, j.charge_share) for j in s.jobs] == [
        (accounts.p1, 5 * MILLI, 5 * MILLI), (accounts.p2, 5 * MILLI, 5 * MILLI)]
    ev = m.events(s.receipt, "RoundSettled")[0]["args"]
    assert (ev["totalCharged"], ev["totalPaid"]) == (10 * MILLI, 10 * MILLI)


def test_proofphi_pages_confirm_the_claimed_pivots(proofphi: Driver, accounts: Accounts) -> None:
    """Asks cost 1, 3, 9 milli (one unit each), bids 10, 8, 6, 4 milli, pages of two bids:
    ℓ = 1, pivot A = bid 1 (8), pivot B = bid 2 (6; ask 2 fails at 9 > 6). A page refuses a claim
    its bids contradict: pivot B with a value it did not bid, pivot B at the wrong rank, a missing
    pivot B, one winner too many (refused on the page where it appears, before any later page),
    or a page declaring fewer jobs than it has winners."""
    m = proofphi
    r = open_round(m, accounts, [(v * MILLI, 1, v * MILLI) for v in (10, 8, 6, 4)],
                   [(MILLI, 1, 1), (3 * MILLI, 1, 1), (9 * MILLI, 1, 1)])
    m.close(r)
    bids, asks, bo, ao, entries = m.clear(r)
    honest = m.plan(r, bids, asks, entries, PAGES_OF_TWO).claim
    assert honest == ProofPhiClaim(1, True, 1, 8 * MILLI, True, 2, 6 * MILLI)
    start = m.chain.snapshot()
    cases = (
        (replace(honest, b_value=7 * MILLI), 3, 1),
        (replace(honest, b_index=3, b_value=4 * MILLI), 4, 1),
        (replace(honest, has_b=False, b_index=0, b_value=0), 4, 1),
        (replace(honest, a_index=2, a_value=6 * MILLI), 4, 0),
    )
    for claim, code, pages_landed in cases:
        with reverts("ProofPhiClaimInvalid", round=r, code=code):
            m.settle(r, bids, asks, bo, ao, entries, limits=PAGES_OF_TWO, claim=claim)
        assert progress(m, r)[1] == pages_landed, claim
        m.chain.revert(start)
    plan = m.plan(r, bids, asks, entries, PAGES_OF_TWO)
    m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    page = plan.pages[0]
    assert len(page.jobs) == 1
    with reverts("ProofPhiClaimInvalid", round=r, code=4):
        m.send("settleBids", r, page.table, page.data[:8] + header(0, 0, 0)[8:] + page.data[12:],
               sender=accounts.keeper)
    s = m.settle(r, bids, asks, bo, ao, entries, limits=PAGES_OF_TWO)
    assert status(m, r) == SETTLED and [j.bid_index for j in s.jobs] == [0]
    assert m.outstanding(accounts.p1) == 1


def test_proofphi_without_pivot_b_takes_exactly_the_next_asks_units(proofphi: Driver,
                                                                    accounts: Accounts) -> None:
    """The same asks with bids 2 and 3 invalid: two valid bids, exactly S_{ℓ+1}, so no pivot B is
    needed; and a page's invalid bids are a 32-byte commitment and 129 bytes of evidence, read
    exactly."""
    m = proofphi
    r = open_round(m, accounts, [(v * MILLI, 1, v * MILLI) for v in (10, 8, 6, 4)],
                   [(MILLI, 1, 1), (3 * MILLI, 1, 1), (9 * MILLI, 1, 1)])
    m.close(r)
    bids, asks, _, _, entries = m.clear(r, invalid_bids=[2, 3])
    plan = m.plan(r, bids, asks, entries, PAGES_OF_TWO)
    assert (plan.claim.ell, plan.claim.has_a, plan.claim.has_b) == (1, True, False)
    m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    page0, page1 = plan.pages
    # page 0 (two valid bids): head 12…81, body 81…129, head 129…198, body 198…246
    with reverts("PageMalformed", round=r, offset=at(page0.table, 81)):
        m.send("settleBids", r, page0.table, page0.data[:91], sender=accounts.keeper)
    m.send("settleBids", *page0.args(r), sender=accounts.keeper)
    # page 1 (two invalid bids): head 12…81, commitment 81…113, evidence 113…242, head 242…311,
    # commitment 311…343, evidence 343…472
    assert len(page1.data) == 472
    for cut in (320, 471):
        with reverts("PageMalformed", round=r, offset=at(page1.table, 311)):
            m.send("settleBids", r, page1.table, page1.data[:cut], sender=accounts.keeper)
    m.send("settleBids", *page1.args(r), sender=accounts.keeper)
    assert status(m, r) == SETTLED


def test_proofphi_bid_value_must_be_within_its_escrow(proofphi: Driver, accounts: Accounts
                                                      ) -> None:
    m = proofphi
    r = open_round(m, accounts, [(5 * MILLI, 1, 5 * MILLI), (2 * MILLI, 1, 2 * MILLI - 1)],
                   [(MILLI, 1, 1)])
    m.close(r)
    bids, asks, _, _, entries = m.clear(r)
    plan = m.plan(r, bids, asks, entries)
    m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    with reverts("BidRevealUnacceptable", round=r, index=1):
        m.send("settleBids", *plan.pages[0].args(r), sender=accounts.keeper)
    before, keeper = m.balance(accounts.r2), m.balance(accounts.keeper)
    m.settle(r, *m.clear(r, invalid_bids=[1]))
    # the invalid bid's escrow comes back less minEscrow, which pays the keeper's settlement
    assert m.balance(accounts.r2) == before + 2 * MILLI - 1 - m.min_escrow
    assert m.balance(accounts.keeper) == keeper + m.min_escrow


# ---------------------------------------------------------------------------- DARA pages


def _dara_one_job(m: Driver, acc: Accounts) -> tuple[int, list[BidReveal], bytes]:
    """Bid 0 (10 milli, 1 unit) served by p1 (cost 1 milli) for 3 milli, bid 1 invalid; returns
    the round (settlement begun), the reveals and the ask table."""
    r = open_round(m, acc, [(10 * MILLI, 1, 10 * MILLI), (5 * MILLI, 1, 5 * MILLI)],
                   [(MILLI, 1, 1)])
    m.close(r)
    bids, asks = m.reveals(r, invalid_bids=[1], charges={0: 3 * MILLI})
    plan = m.plan(r, bids, asks, [JobEntry(0, 0, 1, 3 * MILLI)])
    m.send("beginSettlement", *plan.begin_args(), sender=m.keeper)
    return r, bids, plan.pages[0].table


def test_dara_page_is_read_exactly(dara: Driver, accounts: Accounts) -> None:
    """A page is a 12-byte header, then per bid a 69-byte head and a 70-byte valid body with its
    22-byte jobs or a 32-byte commitment and 129 bytes of evidence; any cut, a bad flag, a wrong
    job count or one bid more than were committed is refused at the byte where it shows."""
    m = dara
    r, bids, table = _dara_one_job(m, accounts)
    page = dara_page(0, bids, [[(0, 1, 3 * MILLI)], []])
    # bid 0: head 12…81, body 81…151, job 151…173; bid 1: head 173…242, commitment 242…274,
    # evidence 274…403
    assert len(page) == 403
    cases = (
        (page[:8], 0),
        (header(0, 0, 0), 0),
        (page[:12], at(table, 12)),
        (page[:22], at(table, 12)),
        (page[:81], at(table, 81)),
        (page[:91], at(table, 81)),
        (page[:161], at(table, 151)),
        (page[:12 + 69 + 70 + 22 + 10], at(table, 173)),
        (page[:252], at(table, 242)),
        (page[:402], at(table, 242)),
        (header(0, 2, 0) + page[12:], at(table, 151)),
        (page[:173 + 68] + b"\x02" + page[242:], at(table, 241)),
    )
    for data, offset in cases:
        with reverts("PageMalformed", round=r, offset=offset):
            m.send("settleBids", r, table, data, sender=accounts.keeper)
    three = header(0, 3, 1) + page[12:] + page[173:]  # bid 1 twice: three bids of two
    with reverts("RevealsMismatch", round=r, side=0):
        m.send("settleBids", r, table, three, sender=accounts.keeper)
    m.send("settleBids", r, table, page, sender=accounts.keeper)
    assert status(m, r) == SETTLED and m.outstanding(accounts.p1) == 1


def test_dara_bids_and_jobs_are_checked(dara: Driver, accounts: Accounts) -> None:
    """A valid bid's value is within its escrow and its size positive; its jobs name an ask of
    the table, in rank order, with at least one unit each, and together exactly its size."""
    m = dara
    r = open_round(m, accounts, [(10 * MILLI, 2, 10 * MILLI), (5 * MILLI, 1, 4 * MILLI),
                                 (5 * MILLI, 0, 5 * MILLI)],
                   [(MILLI, 2, 2), (2 * MILLI, 1, 1)])
    m.close(r)
    charges = {0: 4 * MILLI}
    bids, asks = m.reveals(r, invalid_bids=[1, 2], charges=charges)
    plan = m.plan(r, bids, asks, [JobEntry(0, 0, 2, 2 * MILLI)])
    m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    table = plan.pages[0].table
    good: list[list[tuple[int, int, int]]] = [[(0, 2, 2 * MILLI)], [], []]

    def send(reveals: Sequence[BidReveal], jobs: Sequence[Sequence[tuple[int, int, int]]]) -> Any:
        return m.send("settleBids", r, table, dara_page(0, reveals, jobs), sender=accounts.keeper)

    with reverts("BidRevealUnacceptable", round=r, index=1):  # value above its escrow
        send(m.reveals(r, invalid_bids=[2], charges=charges)[0], good)
    with reverts("BidRevealUnacceptable", round=r, index=2):  # size 0
        send(m.reveals(r, invalid_bids=[1], charges=charges)[0], good)
    cases = (
        ([(0, 1, 2 * MILLI)], "UnitsMismatch", {"index": 0}),  # 1 unit of 2
        ([(0, 3, 3 * MILLI)], "UnitsMismatch", {"index": 0}),  # 3 units of 2, before the ask's 2
        ([(1, 1, 2 * MILLI), (0, 1, MILLI)], "JobInvalid", {"jobIndex": 1}),  # not rank order
        ([(2, 2, 2 * MILLI)], "JobInvalid", {"jobIndex": 0}),  # table has positions 0 and 1
        ([(0, 0, 2 * MILLI), (1, 2, 4 * MILLI)], "JobInvalid", {"jobIndex": 0}),  # zero units
    )
    for jobs, name, args in cases:
        with reverts(name, round=r, **args):
            send(bids, [jobs, [], []])
    send(bids, good)
    assert status(m, r) == SETTLED and m.outstanding(accounts.p1) == 2


def test_dara_settles_a_bid_at_every_limit_at_once(dara: Driver, accounts: Accounts) -> None:
    """One 3-unit bid: escrow = value = charge; a free ask (cost 0, commit index 0) serves 1 unit
    for nothing, p2's whole quantity serves 2 units for exactly cost·units, which is exactly the
    job's charge share; the last job ends the page. All of it settles."""
    m = dara
    r = open_round(m, accounts, [(9 * MILLI, 3, 9 * MILLI)], [(0, 1, 1), (3 * MILLI, 2, 2)])
    m.close(r)
    bids, asks = m.reveals(r, charges={0: 9 * MILLI})
    entries = [JobEntry(0, 0, 1, 0), JobEntry(0, 1, 2, 6 * MILLI)]
    s = m.settle(r, bids, asks, [], [], entries)
    assert [(j.prover, j.units, j.payment, j.charge_share) for j in s.jobs] == [
        (accounts.p1, 1, 0, 3 * MILLI), (accounts.p2, 2, 6 * MILLI, 6 * MILLI)]
    assert m.outstanding(accounts.p1) == 1 and m.outstanding(accounts.p2) == 2
    assert m.balance(accounts.r1) == 0


def test_outstanding_units_stop_at_uint32_max(chain: TesterChain, pow_verifier: Contract,
                                              accounts: Accounts) -> None:
    """A market with refundCap 1 wei: a prover may declare the largest capacity (2³² − 1) and
    owe that many units; one more unit would not fit its counter, so that settlement reverts."""
    cfg = replace(market_config(accounts, pow_verifier.address, Mechanism.DARA), refund_cap=1)
    m = Driver(chain, deploy_market(chain.w3, cfg, accounts.owner), accounts.keeper,
               accounts.owner)
    most = U32 - 1
    m.send("stake", sender=accounts.p1, value=4 * most)
    m.send("setCapacity", most, sender=accounts.p1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, MILLI, size=most)
    m.commit_ask(r, accounts.p1, 0)
    m.close(r)
    bids, asks = m.reveals(r)
    m.settle(r, bids, asks, [], [], [JobEntry(0, 0, most, 0)])
    assert m.outstanding(accounts.p1) == most
    r2 = m.next_round()
    m.commit_bid(r2, accounts.r2, MILLI)
    m.commit_ask(r2, accounts.p1, 0)
    m.close(r2)
    bids, asks = m.reveals(r2)
    with reverts("CapacityTooLarge", units=U32):
        m.settle(r2, bids, asks, [], [], [JobEntry(0, 0, 1, 0)])
    assert m.outstanding(accounts.p1) == most


# ---------------------------------------------------------------------------------- voids


def test_voids_return_exactly_the_committed_escrow(dara: Driver, accounts: Accounts) -> None:
    """Every void segment is checked against the bid chain, a first segment against its
    checkpoint, and no segment may reach past the last bid; nothing is unwound that did not land.
    """
    m = dara
    r = open_round(m, accounts, [(v * MILLI, 1, v * MILLI) for v in (1, 2, 3, 4)], [])
    m.past_settle_deadline(r)
    c = commits(m, r)
    with reverts("UnwindMismatch", round=r, page=0):
        m.send("unwindPage", r, [], sender=accounts.anyone)
    inflated = [(c[0][0], c[0][1] + 1, c[0][2], c[0][3]), c[1]]
    with reverts("RevealsMismatch", round=r, side=0):
        m.send("voidRound", r, inflated, sender=accounts.anyone)
    with reverts("RevealsMismatch", round=r, side=0):
        m.send("voidRound", r, [*c, c[3]], sender=accounts.anyone)  # five bids of four
    before = [m.balance(a) for a in (accounts.r1, accounts.r2, accounts.r3)]
    m.send("voidRound", r, c[:2], sender=accounts.anyone)
    assert status(m, r) == OPEN and progress(m, r)[0] == 2
    m.send("voidRound", r, c[2:], sender=accounts.anyone)
    assert status(m, r) == VOIDED
    after = [m.balance(a) for a in (accounts.r1, accounts.r2, accounts.r3)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [5 * MILLI, 2 * MILLI,
                                                                   3 * MILLI]


# ------------------------------------------------------------------------ provers and owner


def test_capacity_may_change_by_exactly_the_factor(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    p = accounts.p1
    m.send("stake", sender=p, value=8 * REFUND_CAP)
    m.send("setCapacity", 4, sender=p)
    m.chain.advance(2 * 100)
    m.send("setCapacity", 2, sender=p)  # halved: exactly 1 / capacityFactor
    m.chain.advance(2 * 100)
    with reverts("CapacityChangeTooLarge", prover=p, **{"from": 2, "to": 5}):
        m.send("setCapacity", 5, sender=p)
    m.send("setCapacity", 4, sender=p)  # doubled: exactly capacityFactor
    assert m.market.functions.proverInfo(p).call()[1] == 4


def test_treasury_withdrawal_of_nothing_is_refused(proofphi: Driver, accounts: Accounts) -> None:
    with reverts("ZeroAmount"):
        proofphi.send("withdrawTreasury", 0, sender=accounts.owner)


# ------------------------------------------------------------------------------ deployment


def _field(name: str) -> bytes:
    return name.encode().ljust(32, b"\x00")


def test_market_constructor_checks_every_parameter_at_its_bounds(
        chain: TesterChain, accounts: Accounts, pow_verifier: Contract) -> None:
    cfg = market_config(accounts, pow_verifier.address, Mechanism.DARA)
    pending = int(chain.tester.get_block_by_number("pending")["timestamp"])
    bad = (
        ("verifier", {"verifier": ZERO}),
        ("commitPeriod", {"commit_period": 0}),
        ("settlePeriod", {"settle_period": 0}),
        ("proofPeriod", {"proof_period": 0}),
        ("capacityInterval", {"capacity_interval": 0}),
        ("capacityFactor", {"capacity_factor": 0}),
        # in the future by a minute: eth-tester's clock follows the wall clock, so a genesis one
        # second ahead could be reached between the estimate and the mined block on a slow
        # machine (the exact bound, genesis = now, is accepted below)
        ("genesis", {"genesis": pending + 60}),
        ("minEscrow", {"min_escrow": 0}),
        ("maxBidsPerRound", {"max_bids_per_round": 0}),
        # a page settles at least one bid: 65,535 bids keep the 16-bit page counters in range
        ("maxBidsPerRound", {"max_bids_per_round": 65536}),
        ("checkpointInterval", {"checkpoint_interval": 0}),
        ("checkpointInterval", {"checkpoint_interval": 1025}),
        ("maxAsksPerRound", {"max_asks_per_round": 0}),
        # (128 KiB − 1 KiB) / 186 bytes of an invalid ask: every ask fits one beginSettlement
        ("maxAsksPerRound", {"max_asks_per_round": 700}),
        ("minEscrow", {"min_escrow": 2**96}),
        ("fillCost", {"fill_cost": 2**128}),
        ("keeper", {"keeper": ZERO}),
        ("refundCap", {"refund_cap": 0}),
    )
    for name, change in bad:
        with reverts("InvalidConfig", field=_field(name)):
            deploy_market(chain.w3, replace(cfg, **change), accounts.owner)
    with reverts("InvalidPublicKey", length=63):
        deploy_market(chain.w3, replace(cfg, keeper_public_key=b"\x01" * 63), accounts.owner)
    with reverts("PublicKeyNotOnCurve"):
        deploy_market(chain.w3, replace(cfg, keeper_public_key=b"\x01" * 64), accounts.owner)
    pending = int(chain.tester.get_block_by_number("pending")["timestamp"])
    widest = replace(cfg, genesis=pending, max_bids_per_round=65535, checkpoint_interval=1024,
                     max_asks_per_round=699, min_escrow=2**96 - 1, fill_cost=2**128 - 1)
    f = deploy_market(chain.w3, widest, accounts.owner).functions
    got = (f.genesis().call(), f.maxBidsPerRound().call(), f.checkpointInterval().call(),
           f.maxAsksPerRound().call(), f.minEscrow().call(), f.fillCost().call())
    assert got == (pending, 65535, 1024, 699, 2**96 - 1, 2**128 - 1)
    assert (f.MAX_BIDS_LIMIT().call(), f.MAX_ASKS_LIMIT().call()) == (65535, 699)


def test_verifier_constructors_check_their_parameters(chain: TesterChain, accounts: Accounts
                                                      ) -> None:
    with reverts("ZeroChecker"):
        deploy(chain.w3, "AttestationVerifier", ZERO, sender=accounts.owner)
    with reverts("DifficultyOutOfRange", difficultyBits=256):
        deploy(chain.w3, "ProofOfWorkVerifier", 256, sender=accounts.owner)
    hardest = deploy(chain.w3, "ProofOfWorkVerifier", 255, sender=accounts.owner)
    assert hardest.functions.difficultyBits().call() == 255
