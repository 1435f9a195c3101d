"""ProverMarket: every external function's success path, custom errors (by name), events."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from coincurve import PrivateKey
from web3.contract import Contract

from bridge.chain.deploy import Mechanism, deploy_market
from bridge.chain.settlement import AskReveal, BidReveal, JobEntry, commitment
from bridge.chain.tester import TesterChain
from bridge.errors import SettlementRejected
from bridge.sealed import commitment as sealed_commitment
from tests.contracts.conftest import (
    KEEPER_PUBKEY,
    MIN_ESCROW,
    PERIOD,
    REFUND_CAP,
    Accounts,
    market_config,
)
from tests.contracts.flow import CIPHERTEXT, Driver, Settled

ETH = 10**18
MILLI = 10**15


@contextmanager
def rejected(name: str) -> Iterator[pytest.ExceptionInfo[SettlementRejected]]:
    """Expect the transaction to revert with custom error ``name``."""
    with pytest.raises(SettlementRejected) as info:
        yield info
    assert info.value.name == name, info.value


def conserved(m: Driver, accounts: Accounts) -> None:
    """ETH balance == Σ free balances + nonFree (burned congestion fees are part of nonFree)."""
    nonfree, _ = m.liabilities()
    free = sum(m.balance(a) for a in accounts.__dict__.values())
    assert m.eth_balance() == free + nonfree


def two_task_round(m: Driver, acc: Accounts) -> tuple[int, Settled]:
    """Prooφ round: p1 (cap 2, cost 1 milli), p2 (cap 1, cost 3 milli); bids 10, 9, 8, 1 milli.

    ℓ = 1: p1 sells 2 units to the two best bids at p2's cost 3 milli each; both are charged the
    third bid's 8 milli.
    """
    m.prover_ready(acc.p1, 2)
    m.prover_ready(acc.p2, 1)
    r = m.next_round()
    m.commit_bid(r, acc.r1, 10 * MILLI)
    m.commit_bid(r, acc.r2, 9 * MILLI)
    m.commit_bid(r, acc.r3, 8 * MILLI)
    m.commit_bid(r, acc.r1, 1 * MILLI)
    m.commit_ask(r, acc.p1, 1 * MILLI)
    m.commit_ask(r, acc.p2, 3 * MILLI)
    return r, m.clear_and_settle(r)


# ------------------------------------------------------------------------- views and setup


def test_commitment_view_matches_python_and_sealed_module(proofphi: Driver, accounts: Accounts
                                                          ) -> None:
    salt = os.urandom(32)
    args = (7, accounts.r1, 1, 123, 4, salt)
    on_chain = proofphi.market.functions.commitmentOf(*args).call()
    chain_id = proofphi.chain.w3.eth.chain_id
    assert on_chain == commitment(chain_id, proofphi.market.address, *args)
    assert on_chain == sealed_commitment(chain_id=chain_id, market=proofphi.market.address,
                                         round=7, participant=accounts.r1, side=1, price=123,
                                         quantity=4, salt=salt)


def test_keeper_public_key_and_round_times_are_readable(proofphi: Driver) -> None:
    f = proofphi.market.functions
    assert bytes(f.keeperPublicKey().call()) == KEEPER_PUBKEY
    r = proofphi.current_round()
    opens, closes, settle_deadline, proof_deadline = proofphi.times(r)
    assert closes - opens == 100 and settle_deadline - closes == 100 and proof_deadline == 0


# ------------------------------------------------------------------------ requester funds


def test_deposit_and_withdraw_move_free_balance(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    rc = m.send("deposit", sender=accounts.r1, value=ETH)
    assert m.events(rc, "Deposited")[0]["args"]["amount"] == ETH
    rc = m.send("withdraw", ETH // 4, sender=accounts.r1)
    assert m.events(rc, "Withdrawn")[0]["args"]["account"] == accounts.r1
    assert m.balance(accounts.r1) == 3 * ETH // 4
    conserved(m, accounts)
    with rejected("InsufficientBalance"):
        m.send("withdraw", ETH, sender=accounts.r1)
    with rejected("ZeroAmount"):
        m.send("withdraw", 0, sender=accounts.r1)
    with rejected("ZeroAmount"):
        m.send("deposit", sender=accounts.r1, value=0)


def test_commit_bid_locks_escrow_and_logs_ciphertext(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    r = m.next_round()
    m.send("deposit", sender=accounts.r1, value=ETH)
    c = os.urandom(32)
    rc = m.send("commitBid", r, c, CIPHERTEXT, ETH // 2, b"\x01" * 32, sender=accounts.r1)
    ev = m.events(rc, "BidCommitted")[0]["args"]
    got = (ev["round"], ev["requester"], ev["index"], ev["escrow"])
    assert got == (r, accounts.r1, 0, ETH // 2)
    assert ev["ciphertext"] == CIPHERTEXT and ev["commitment"] == c
    assert m.balance(accounts.r1) == ETH // 2
    assert m.liabilities()[0] == ETH // 2
    conserved(m, accounts)
    with rejected("InsufficientBalance"):
        m.send("commitBid", r, c, CIPHERTEXT, ETH, b"\x01" * 32, sender=accounts.r1)
    with rejected("EscrowTooSmall"):
        m.send("commitBid", r, c, CIPHERTEXT, 0, b"\x01" * 32, sender=accounts.r1)
    with rejected("EscrowTooSmall"):
        m.send("commitBid", r, c, CIPHERTEXT, MIN_ESCROW - 1, b"\x01" * 32, sender=accounts.r1)
    m.send("commitBid", r, c, CIPHERTEXT, MIN_ESCROW, b"\x01" * 32, sender=accounts.r1)
    with rejected("RoundNotOpen"):
        m.send("commitBid", r + 1, c, CIPHERTEXT, 1, b"\x01" * 32, sender=accounts.r1)


def test_owner_pauses_commits_but_never_withdrawals(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    r = m.next_round()
    m.send("deposit", sender=accounts.r1, value=ETH)
    with rejected("OwnableUnauthorizedAccount"):
        m.send("setCommitsPaused", True, sender=accounts.r1)
    rc = m.send("setCommitsPaused", True, sender=accounts.owner)
    assert m.events(rc, "CommitsPausedSet")[0]["args"]["paused"] is True
    with rejected("CommitsPaused"):
        m.send("commitBid", r, os.urandom(32), CIPHERTEXT, 1, b"\x01" * 32, sender=accounts.r1)
    m.send("withdraw", ETH, sender=accounts.r1)
    m.send("setCommitsPaused", False, sender=accounts.owner)
    assert m.market.functions.commitsPaused().call() is False


def test_rotation_takes_effect_from_the_next_round_and_old_rounds_stay_with_the_old_keeper(
        proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    f = m.market.functions
    m.prover_ready(accounts.p1, 1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, MILLI)
    m.commit_ask(r, accounts.p1, 0)
    first_key = PrivateKey(b"\x22" * 32).public_key.format(compressed=False)[1:]
    new_key = PrivateKey(b"\x33" * 32).public_key.format(compressed=False)[1:]
    m.send("rotateKeeper", accounts.r3, first_key, sender=accounts.owner)
    rc = m.send("rotateKeeper", accounts.anyone, new_key, sender=accounts.owner)
    ev = m.events(rc, "KeeperRotated")[0]["args"]
    assert (ev["keeper"], ev["publicKey"], ev["fromRound"]) == (accounts.anyone, new_key, r + 1)
    # the round already open keeps its keeper and key; a second rotation replaced the first
    assert f.keeperFor(r).call() == [accounts.keeper, KEEPER_PUBKEY]
    assert f.keeperFor(r + 1).call() == [accounts.anyone, new_key]
    assert f.keeperFor(r + 50).call() == [accounts.anyone, new_key]
    assert f.keeper().call() == accounts.keeper
    assert bytes(f.keeperPublicKey().call()) == KEEPER_PUBKEY
    m.close(r)  # round r + 1 is now current: its keeper is the new one
    assert f.keeper().call() == accounts.anyone and bytes(f.keeperPublicKey().call()) == new_key
    args = m.clear(r)
    with rejected("NotKeeper"):
        m.settle(r, *args, sender=accounts.anyone)
    m.settle(r, *args)  # the old keeper settles the round committed under its key
    assert f.roundInfo(r).call()[7] == 1


def test_keeper_keys_must_be_points_on_secp256k1(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    good = PrivateKey(b"\x22" * 32).public_key.format(compressed=False)[1:]
    with rejected("InvalidPublicKey"):
        m.send("rotateKeeper", accounts.anyone, b"\x01" * 33, sender=accounts.owner)
    with rejected("PublicKeyNotOnCurve"):
        m.send("rotateKeeper", accounts.anyone, good[:63] + bytes([good[63] ^ 1]),
               sender=accounts.owner)
    # canonical coordinates only: (x, y) and (x + P, y) satisfy the same congruence
    p = 2**256 - 2**32 - 977
    y1 = pow(8, (p + 1) // 4, p)  # (1, y1) is on the curve: 1 + 7 = 8 is a square
    x1 = pow((1 - 7) % p, (p + 2) // 9, p)  # (x1, 1) is on the curve (p = 7 mod 9: cube root)
    m.send("rotateKeeper", accounts.anyone, (1).to_bytes(32, "big") + y1.to_bytes(32, "big"),
           sender=accounts.owner)
    m.send("rotateKeeper", accounts.anyone, x1.to_bytes(32, "big") + (1).to_bytes(32, "big"),
           sender=accounts.owner)
    for key in ((1 + p).to_bytes(32, "big") + y1.to_bytes(32, "big"),
                x1.to_bytes(32, "big") + (1 + p).to_bytes(32, "big")):
        with rejected("PublicKeyNotOnCurve"):
            m.send("rotateKeeper", accounts.anyone, key, sender=accounts.owner)
    with rejected("InvalidConfig"):
        m.send("rotateKeeper", "0x" + "00" * 20, good, sender=accounts.owner)
    with rejected("OwnableUnauthorizedAccount"):
        m.send("rotateKeeper", accounts.anyone, good, sender=accounts.keeper)
    m.send("rotateKeeper", accounts.anyone, good, sender=accounts.owner)


def test_ownership_moves_in_two_steps_and_is_never_renounced(proofphi: Driver,
                                                             accounts: Accounts) -> None:
    m = proofphi
    f = m.market.functions
    with rejected("RenounceDisabled"):
        m.send("renounceOwnership", sender=accounts.owner)
    m.send("transferOwnership", accounts.anyone, sender=accounts.owner)
    assert f.owner().call() == accounts.owner and f.pendingOwner().call() == accounts.anyone
    with rejected("OwnableUnauthorizedAccount"):
        m.send("acceptOwnership", sender=accounts.r1)
    m.send("acceptOwnership", sender=accounts.anyone)
    assert f.owner().call() == accounts.anyone
    with rejected("OwnableUnauthorizedAccount"):
        m.send("setCommitsPaused", True, sender=accounts.owner)


def test_a_market_without_collateral_is_refused(chain: TesterChain, accounts: Accounts,
                                                pow_verifier: Contract) -> None:
    cfg = market_config(accounts, pow_verifier.address, Mechanism.DARA)
    with rejected("InvalidConfig"):
        deploy_market(chain.w3, replace(cfg, refund_cap=0), accounts.owner)
    deploy_market(chain.w3, replace(cfg, refund_cap=1), accounts.owner)


@pytest.mark.parametrize("side", ["bid", "ask"])
def test_an_invalid_mark_needs_a_known_reason_code(dara: Driver, accounts: Accounts,
                                                   side: str) -> None:
    m = dara
    m.prover_ready(accounts.p1, 1)
    m.prover_ready(accounts.p2, 1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, MILLI)
    m.commit_bid(r, accounts.r2, MILLI)
    m.commit_ask(r, accounts.p1, 0)
    m.commit_ask(r, accounts.p2, 0)
    m.close(r)

    def settle_with(code: int) -> None:
        bids, asks = m.reveals(r, invalid_bids=[1] if side == "bid" else [],
                               invalid_asks=[1] if side == "ask" else [])
        mark = bytes([code]) + bytes(128)
        bids = [replace(b, evidence=mark) if not b.valid else b for b in bids]
        asks = [replace(a, evidence=mark) if not a.valid else a for a in asks]
        m.settle(r, bids, asks, [], [], [])

    snap = m.chain.snapshot()
    for code in (0, 14):
        with rejected("InvalidMark") as err:
            settle_with(code)
        assert err.value.args_ == {"round": r, "side": 0 if side == "bid" else 1, "index": 1}
    for code in (1, 13):
        settle_with(code)
        assert m.market.functions.roundInfo(r).call()[7] == 1
        m.chain.revert(snap)
        snap = m.chain.snapshot()


# ---------------------------------------------------------------------------- provers


def test_stake_capacity_rules_and_collateral_withdrawal(proofphi: Driver, accounts: Accounts
                                                        ) -> None:
    m = proofphi
    p = accounts.p1
    rc = m.send("stake", sender=p, value=10 * REFUND_CAP)
    assert m.events(rc, "Staked")[0]["args"]["amount"] == 10 * REFUND_CAP
    with rejected("InsufficientCollateral"):
        m.send("setCapacity", 11, sender=p)
    with rejected("CapacityTooLarge"):
        m.send("setCapacity", 2**32, sender=p)
    rc = m.send("setCapacity", 4, sender=p)
    assert m.events(rc, "CapacitySet")[0]["args"]["capacity"] == 4
    with rejected("CapacityChangeTooSoon"):
        m.send("setCapacity", 5, sender=p)
    m.chain.advance(2 * 100)
    with rejected("CapacityChangeTooLarge"):
        m.send("setCapacity", 9, sender=p)
    with rejected("CapacityChangeTooLarge"):
        m.send("setCapacity", 1, sender=p)
    m.send("setCapacity", 8, sender=p)
    # 8 units back 8 refundCap: 2 free (3 would be free at capacity 0: the error says so)
    with rejected("CollateralBacksCapacity"):
        m.send("withdrawCollateral", 3 * REFUND_CAP, sender=p)
    rc = m.send("withdrawCollateral", 2 * REFUND_CAP, sender=p)
    assert m.events(rc, "CollateralWithdrawn")[0]["args"]["amount"] == 2 * REFUND_CAP
    m.send("setCapacity", 0, sender=p)  # exit is always allowed
    m.send("withdrawCollateral", 8 * REFUND_CAP, sender=p)
    assert m.collateral(p) == 0
    with rejected("ZeroAmount"):
        m.send("withdrawCollateral", 0, sender=p)
    with rejected("ZeroAmount"):
        m.send("stake", sender=p, value=0)
    conserved(m, accounts)


def test_collateral_is_locked_while_an_ask_awaits_settlement(proofphi: Driver, accounts: Accounts
                                                              ) -> None:
    m = proofphi
    m.prover_ready(accounts.p1, 1, extra=REFUND_CAP)
    r = m.next_round()
    m.commit_ask(r, accounts.p1, MILLI)
    settle_deadline = m.times(r)[2]
    with rejected("CapacityLockedByAsk") as info:
        m.send("setCapacity", 0, sender=accounts.p1)
    assert (info.value.args_["round"], info.value.args_["unlocksBy"]) == (r, settle_deadline)
    with rejected("CollateralLockedByAsk") as info:
        m.send("withdrawCollateral", REFUND_CAP, sender=accounts.p1)
    assert (info.value.args_["round"], info.value.args_["unlocksBy"]) == (r, settle_deadline)
    m.close(r)
    with rejected("CollateralLockedByAsk"):
        m.send("withdrawCollateral", REFUND_CAP, sender=accounts.p1)
    with rejected("CapacityLockedByAsk") as info:
        m.send("exit", sender=accounts.p1)  # exit waits for the ask like setCapacity
    assert info.value.args_["unlocksBy"] == settle_deadline
    m.settle(r, *m.clear(r))
    m.send("setCapacity", 0, sender=accounts.p1)
    m.send("withdrawCollateral", 2 * REFUND_CAP, sender=accounts.p1)


def test_a_settled_ask_locks_until_one_commit_period_before_its_deadline(
        chain: TesterChain, pow_verifier: Contract, accounts: Accounts) -> None:
    """Settled early, an ask still locks while an earlier round could settle (settle period
    longer than the commit period): `unlocksBy` says when (settle deadline − commit period), and
    that moment is exact."""
    cfg = replace(market_config(accounts, pow_verifier.address, Mechanism.PROOFPHI),
                  settle_period=3 * PERIOD)
    m = Driver(chain, deploy_market(chain.w3, cfg, accounts.owner), accounts.keeper,
               accounts.owner)
    m.prover_ready(accounts.p1, 1, extra=REFUND_CAP)
    r = m.next_round()
    m.commit_ask(r, accounts.p1, MILLI)
    m.close(r)
    m.settle(r, *m.clear(r))
    unlocks = m.times(r)[2] - PERIOD
    assert m.chain.now() + 2 < unlocks
    with rejected("CollateralLockedByAsk") as info:
        m.send("withdrawCollateral", REFUND_CAP, sender=accounts.p1)
    assert info.value.args_["unlocksBy"] == unlocks
    m.chain.travel_to(unlocks - 2)
    with rejected("CollateralLockedByAsk"):
        m.send("withdrawCollateral", REFUND_CAP, sender=accounts.p1)
    m.chain.travel_to(unlocks)
    m.send("withdrawCollateral", REFUND_CAP, sender=accounts.p1)


def test_withdrawing_collateral_that_backs_capacity_says_lower_capacity_first(
        proofphi: Driver, accounts: Accounts) -> None:
    """The amount would be free at capacity 0: the error says so (and how much), not a bare
    InsufficientCollateral; asking for more than even capacity 0 frees stays that error."""
    m = proofphi
    p = accounts.p1
    m.prover_ready(p, 3, extra=REFUND_CAP)
    with rejected("CollateralBacksCapacity") as info:
        m.send("withdrawCollateral", 2 * REFUND_CAP, sender=p)
    free = 4 * REFUND_CAP + m.min_escrow  # prover_ready stakes one ask's invalid-order deposit
    assert (info.value.args_["capacity"], info.value.args_["withdrawable"]) == (3, free)
    with rejected("InsufficientCollateral"):
        m.send("withdrawCollateral", free + 1, sender=p)
    m.send("withdrawCollateral", REFUND_CAP, sender=p)  # the part capacity does not hold


def test_exit_sets_capacity_zero_and_withdraws_all_but_the_backing_of_open_jobs(
        proofphi: Driver, accounts: Accounts) -> None:
    """One call to leave: capacity 0, everything not backing outstanding units sent; the
    backing of open jobs stays (and is still slashable), the rest follows once proven."""
    m = proofphi
    _, s = two_task_round(m, accounts)
    p = accounts.p1
    assert m.outstanding(p) == 2
    m.send("stake", sender=p, value=REFUND_CAP + 7)
    collateral = m.collateral(p)
    assert collateral == 3 * REFUND_CAP + 7 + m.min_escrow
    eth = m.chain.w3.eth.get_balance(p)
    rc = m.send("exit", sender=p)
    gas = rc["gasUsed"] * rc["effectiveGasPrice"]
    assert m.events(rc, "CapacitySet")[0]["args"]["capacity"] == 0
    sent = m.events(rc, "CollateralWithdrawn")[0]["args"]["amount"]
    assert sent == collateral - 2 * REFUND_CAP
    assert m.collateral(p) == 2 * REFUND_CAP
    assert m.chain.w3.eth.get_balance(p) == eth + sent - gas
    assert m.market.functions.proverInfo(p).call()[1] == 0
    m.prove(s, 0)
    m.prove(s, 1)
    rc = m.send("exit", sender=p)  # again: all of it now
    assert m.events(rc, "CollateralWithdrawn")[0]["args"]["amount"] == 2 * REFUND_CAP + 6 * MILLI
    assert m.collateral(p) == 0
    rc = m.send("exit", sender=p)  # nothing left: capacity stays 0, nothing sent
    assert m.events(rc, "CollateralWithdrawn") == []
    conserved(m, accounts)


def test_commit_bid_deposits_its_value_in_the_same_transaction(proofphi: Driver,
                                                                accounts: Accounts) -> None:
    """`commitBid` with value: the value joins the free balance (Deposited) before the escrow
    is locked, so a new requester bids in one transaction; the rest stays free."""
    m = proofphi
    r = m.next_round()
    q = accounts.r1
    assert m.balance(q) == 0
    c = m.commitment(r, q, 0, 5 * MILLI, 1, os.urandom(32))
    rc = m.send("commitBid", r, c, CIPHERTEXT, 5 * MILLI, os.urandom(32), sender=q,
                value=7 * MILLI)
    assert m.events(rc, "Deposited")[0]["args"]["amount"] == 7 * MILLI
    assert m.events(rc, "BidCommitted")[0]["args"]["escrow"] == 5 * MILLI
    assert m.balance(q) == 2 * MILLI
    with rejected("InsufficientBalance") as info:  # value counts, but must cover the rest
        m.send("commitBid", r, c, CIPHERTEXT, 5 * MILLI, os.urandom(32), sender=q,
               value=2 * MILLI)
    assert (info.value.args_["available"], info.value.args_["required"]) == (4 * MILLI, 5 * MILLI)
    assert m.balance(q) == 2 * MILLI  # the failed call's value went back with the revert
    conserved(m, accounts)


def test_an_unsettled_ask_locks_collateral_until_its_deadline(dara: Driver, accounts: Accounts
                                                              ) -> None:
    """A round unsettled at its deadline can no longer settle: the lock ends exactly there."""
    m = dara
    m.prover_ready(accounts.p1, 1)
    r = m.next_round()
    m.commit_ask(r, accounts.p1, MILLI)
    deadline = m.times(r)[2]
    m.chain.travel_to(deadline - 2)  # the transaction's block is the next one: deadline − 1
    with rejected("CollateralLockedByAsk"):
        m.send("withdrawCollateral", 1, sender=accounts.p1)
    m.chain.travel_to(deadline)
    m.send("setCapacity", 0, sender=accounts.p1)
    m.send("withdrawCollateral", REFUND_CAP, sender=accounts.p1)


def test_a_prover_with_outstanding_units_cannot_withdraw_their_backing(
        proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    _, s = two_task_round(m, accounts)
    assert m.outstanding(accounts.p1) == 2
    m.send("setCapacity", 0, sender=accounts.p1)
    m.send("withdrawCollateral", m.min_escrow, sender=accounts.p1)  # the ask's unused deposit
    with rejected("InsufficientCollateral"):
        m.send("withdrawCollateral", 1, sender=accounts.p1)
    m.prove(s, 0)
    # one unit proven: its payment (3 milli) and one unit's backing are free
    free = REFUND_CAP + 3 * MILLI
    with rejected("InsufficientCollateral"):
        m.send("withdrawCollateral", free + 1, sender=accounts.p1)
    m.send("withdrawCollateral", free, sender=accounts.p1)


def test_commit_ask_needs_capacity_and_is_once_per_round(proofphi: Driver, accounts: Accounts
                                                         ) -> None:
    m = proofphi
    r = m.next_round()
    with rejected("NoCapacity"):
        m.send("commitAsk", r, os.urandom(32), CIPHERTEXT, sender=accounts.p1)
    m.prover_ready(accounts.p1, 3)
    rc = m.send("commitAsk", r, os.urandom(32), CIPHERTEXT, sender=accounts.p1)
    ev = m.events(rc, "AskCommitted")[0]["args"]
    assert (ev["round"], ev["prover"], ev["index"], ev["capacity"]) == (r, accounts.p1, 0, 3)
    with rejected("AskAlreadyCommitted"):
        m.send("commitAsk", r, os.urandom(32), CIPHERTEXT, sender=accounts.p1)


# ------------------------------------------------------------------------- settlement


def test_proofphi_settlement_charges_refunds_and_logs_outcome(proofphi: Driver, accounts: Accounts
                                                              ) -> None:
    m = proofphi
    r, s = two_task_round(m, accounts)
    assert [b.charge for b in s.bids] == [8 * MILLI, 8 * MILLI, 0, 0]
    assert [(e.bid_index, e.ask_index, e.units, e.payment) for e in s.entries] == [
        (0, 0, 1, 3 * MILLI), (1, 0, 1, 3 * MILLI)]
    ev = m.events(s.receipt, "RoundSettled")[0]["args"]
    assert ev["jobRoot"] == s.tree.root
    pages = [e["args"] for rc in s.receipts for e in m.events(rc, "BidsSettled")]
    assert [c for p in pages for c in p["charges"]] == [8 * MILLI, 8 * MILLI, 0, 0]
    packed = [j for p in pages for j in p["jobs"]]
    assert packed[1] == (1 << 224) | (0 << 192) | (1 << 160) | 3 * MILLI
    assert (ev["totalCharged"], ev["totalPaid"], ev["jobCount"]) == (16 * MILLI, 6 * MILLI, 2)
    # unused escrow back: r1 had 10 and 1, charged 8 on the first
    assert m.balance(accounts.r1) == 3 * MILLI
    assert m.balance(accounts.r3) == 8 * MILLI
    assert m.outstanding(accounts.p1) == 2
    info = m.market.functions.roundInfo(r).call()
    assert info[0] == 4 and info[1] == 2 and info[4] == s.tree.root and info[7] == 1
    conserved(m, accounts)


def test_settle_is_keeper_only_once_and_within_its_window(proofphi: Driver, accounts: Accounts
                                                          ) -> None:
    m = proofphi
    m.prover_ready(accounts.p1, 1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, MILLI)
    m.commit_ask(r, accounts.p1, 0)
    args = m.clear(r)
    with rejected("RoundNotClosed"):
        m.settle(r, *args)
    m.close(r)
    with rejected("NotKeeper"):
        m.settle(r, *args, sender=accounts.r1)
    m.settle(r, *args)
    with rejected("RoundAlreadyFinal"):
        m.settle(r, *args)
    r2 = m.next_round()
    m.commit_bid(r2, accounts.r1, MILLI)
    args2 = m.clear(r2)
    m.past_settle_deadline(r2)
    with rejected("SettleDeadlinePassed"):
        m.settle(r2, *args2)


def _settle_args(m: Driver, acc: Accounts) -> tuple[int, list[BidReveal], list[AskReveal],
                                                      list[int], list[int], list[JobEntry]]:
    """Bids 10, 9, 8 milli (bid 0 escrows 1 milli more than its value); p1 asks cost 1 milli for
    2 of its 3 units, p2 cost 3 milli for 1. Prooφ's outcome, and for DARA the same trade written
    by hand: bids 0 and 1 served by p1, charged 8 milli each, each unit paid 3 milli."""
    m.prover_ready(acc.p1, 3 if m.mechanism == 1 else 2)
    m.prover_ready(acc.p2, 1)
    r = m.next_round()
    m.commit_bid(r, acc.r1, 10 * MILLI, escrow=11 * MILLI)
    m.commit_bid(r, acc.r2, 9 * MILLI)
    m.commit_bid(r, acc.r3, 8 * MILLI)
    m.commit_ask(r, acc.p1, 1 * MILLI, quantity=2)
    m.commit_ask(r, acc.p2, 3 * MILLI)
    m.close(r)
    if m.mechanism == 0:
        return (r, *m.clear(r))
    bids, asks = m.reveals(r, charges={0: 8 * MILLI, 1: 8 * MILLI})
    return r, bids, asks, [], [], [JobEntry(0, 0, 1, 3 * MILLI), JobEntry(1, 0, 1, 3 * MILLI)]


@pytest.mark.parametrize("change", ["missing", "extra", "reordered", "mismatched", "wrong_escrow"])
def test_settle_rejects_reveals_that_do_not_reproduce_the_commitments(
        proofphi: Driver, accounts: Accounts, change: str) -> None:
    m = proofphi
    r, bids, asks, bo, ao, jobs = _settle_args(m, accounts)
    if change == "missing":
        bids = [bids[0], bids[2]]
    elif change == "extra":
        bids = [*bids, replace(bids[2], task=os.urandom(32))]
    elif change == "reordered":
        bids = [bids[1], bids[0], bids[2]]
    elif change == "mismatched":
        bids[2] = replace(bids[2], value=bids[2].value - 1)
    else:
        bids[2] = replace(bids[2], escrow=bids[2].escrow + 1)
    with rejected("RevealsMismatch"):
        m.settle(r, bids, asks, bo, ao, jobs)


def test_a_page_must_end_on_a_checkpoint_or_the_round(dara: Driver, accounts: Accounts) -> None:
    m = dara
    r, bids, asks, _, _, jobs = _settle_args(m, accounts)
    plan = m.plan(r, bids, asks, jobs)
    m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
    page = plan.pages[0]
    one = (0).to_bytes(4, "big") + (1).to_bytes(4, "big") + (1).to_bytes(4, "big") \
        + page.data[12:12 + 69 + 70 + 22]
    with rejected("PageMisaligned"):  # one bid: not a multiple of the interval (2), not the end
        m.send("settleBids", r, page.table, one, sender=accounts.keeper)
    with rejected("AskTableMismatch"):
        m.send("settleBids", r, page.table[:-1] + b"\x01", page.data, sender=accounts.keeper)
    with rejected("PageMalformed"):
        m.send("settleBids", r, page.table, page.data + b"\x00", sender=accounts.keeper)
    with rejected("PageMalformed"):
        m.send("settleBids", r, page.table, page.data[:-1], sender=accounts.keeper)
    m.send("settleBids", r, page.table, page.data, sender=accounts.keeper)
    assert m.market.functions.roundInfo(r).call()[7] == 1


def test_settle_rejects_a_mismatched_ask_reveal(proofphi: Driver, accounts: Accounts) -> None:
    r, bids, asks, bo, ao, jobs = _settle_args(proofphi, accounts)
    asks[1] = replace(asks[1], cost=asks[1].cost + 1)
    with rejected("RevealsMismatch"):
        proofphi.settle(r, bids, asks, bo, ao, jobs)


def test_settle_rejects_overcharge_underpay_and_overallocation(dara: Driver, accounts: Accounts
                                                               ) -> None:
    m = dara
    r, bids, asks, bo, ao, jobs = _settle_args(m, accounts)
    over = list(bids)
    over[0] = replace(bids[0], charge=bids[0].value + 1)  # still within its escrow
    with rejected("Overcharged"):
        m.settle(r, over, asks, bo, ao, jobs)
    under = [replace(jobs[0], payment=asks[0].cost - 1), *jobs[1:]]
    with rejected("Underpaid"):
        m.settle(r, bids, asks, bo, ao, under)
    greedy = [replace(jobs[0], payment=bids[0].charge + 1), *jobs[1:]]
    with rejected("PaymentExceedsCharge"):
        m.settle(r, bids, asks, bo, ao, greedy)
    # give bid 2 a unit of ask 0 too: ask 0 offers 2 units (of a capacity of 3), it would sell 3
    charged = list(bids)
    charged[2] = replace(bids[2], charge=bids[0].charge)
    extra = [*jobs, JobEntry(2, 0, 1, jobs[0].payment)]
    with rejected("AskOverAllocated"):
        m.settle(r, charged, asks, bo, ao, extra)
    with rejected("ChargeWithoutAllocation"):
        m.settle(r, charged, asks, bo, ao, jobs)
    two_units = [replace(jobs[0], units=2), *jobs[1:]]
    with rejected("UnitsMismatch"):
        m.settle(r, bids, asks, bo, ao, two_units)
    plan = m.plan(r, bids, asks, [JobEntry(0, 0, 1, jobs[0].payment), JobEntry(0, 1, 1, 0),
                                  jobs[1]])
    with rejected("UnitsMismatch"):  # bid 0 (size 1) given two jobs
        m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper)
        m.send("settleBids", *plan.pages[0].args(r), sender=accounts.keeper)
    m.settle(r, bids, asks, bo, ao, jobs)
    assert m.outstanding(accounts.p1) == 2


def test_proofphi_claims_are_checked_against_the_reveals(proofphi: Driver, accounts: Accounts
                                                         ) -> None:
    """ℓ = 1 here (p1 sells 2 units, p2 sets the price); pivot A is bid 2 (8 milli, rank 2)."""
    m = proofphi
    r, bids, asks, bo, ao, jobs = _settle_args(m, accounts)
    honest = m.plan(r, bids, asks, jobs).claim
    assert (honest.ell, honest.has_a, honest.a_index, honest.a_value, honest.has_b) == (
        1, True, 2, 8 * MILLI, False)
    cases = {
        "no trade although ask 1 passes": (replace(honest, ell=0, has_a=False), 4),
        "pivot A one rank too high (bid 1)": (replace(honest, a_index=1, a_value=9 * MILLI), 4),
        "pivot A with a value it did not bid": (replace(honest, a_value=7 * MILLI), 2),
        "pivot A below the price": (replace(honest, a_value=2 * MILLI), 2),
        "pivot B past the last ask": (replace(honest, has_b=True, b_index=2, b_value=8 * MILLI), 3),
        "ell beyond the asks": (replace(honest, ell=2), 1),
    }
    for name, (claim, code) in cases.items():
        with pytest.raises(SettlementRejected) as info:
            m.settle(r, bids, asks, bo, ao, jobs, claim=claim)
        assert (info.value.name, info.value.args_["code"]) == ("ProofPhiClaimInvalid", code), name
    reversed_order = list(reversed(m.plan(r, bids, asks, jobs).ask_order))
    plan = m.plan(r, bids, asks, jobs)
    with rejected("AskOrderInvalid"):
        m.send("beginSettlement", r, plan.asks, reversed_order, plan.claim.as_tuple(),
               sender=accounts.keeper)
    s = m.settle(r, bids, asks, bo, ao, jobs)
    assert [b.charge for b in s.bids] == [8 * MILLI, 8 * MILLI, 0]


def test_settle_rejects_unacceptable_valid_reveals(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    m.prover_ready(accounts.p1, 2)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, 2 * MILLI, size=2)  # Prooφ tasks have size 1
    m.commit_ask(r, accounts.p1, MILLI, quantity=1)  # Prooφ asks sell their whole capacity
    m.close(r)
    bids, asks = m.reveals(r, invalid_asks=[0])
    with rejected("RevealsMismatch"):  # a Prooφ page carries no size: the commitment needs 1
        m.settle(r, bids, asks, [0], [], [])
    bids, asks = m.reveals(r, invalid_bids=[0])
    with rejected("AskRevealUnacceptable"):
        m.settle(r, bids, asks, [], [0], [])
    bids, asks = m.reveals(r, invalid_bids=[0], invalid_asks=[0])
    m.settle(r, bids, asks, [], [], [])
    # each invalid order forfeits minEscrow to the keeper: the bid from its escrow, the ask
    # from its prover's collateral (once: at the first beginSettlement that marked it, the one
    # whose page was refused above; a begin again does not take it twice)
    assert m.balance(accounts.r1) == 2 * MILLI - m.min_escrow
    assert m.collateral(accounts.p1) == 2 * REFUND_CAP
    assert m.balance(accounts.keeper) == 2 * m.min_escrow
    conserved(m, accounts)


def test_copied_commitment_settles_only_as_invalid(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    m.prover_ready(accounts.p1, 1)
    r = m.next_round()
    honest = m.commit_bid(r, accounts.r1, 5 * MILLI)
    m.commit_bid(r, accounts.r2, 5 * MILLI, raw_commitment=honest.commitment)
    m.commit_ask(r, accounts.p1, MILLI)
    m.close(r)
    bids, asks = m.reveals(r)
    # opening the copy with the honest bid's (value, size, salt) does not reproduce it
    bids[1] = replace(bids[1], value=honest.value, size=honest.size, salt=honest.salt)
    with rejected("RevealsMismatch"):
        m.settle(r, bids, asks, [0, 1], [0], [])
    bids, asks, bo, ao, jobs = m.clear(r, invalid_bids=[1])
    m.settle(r, bids, asks, bo, ao, jobs)
    assert m.balance(accounts.r2) == 5 * MILLI - m.min_escrow


def test_dara_settlement_with_multi_unit_bids(dara: Driver, accounts: Accounts) -> None:
    m = dara
    m.prover_ready(accounts.p1, 3)
    m.prover_ready(accounts.p2, 3)
    m.prover_ready(accounts.p3, 2)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, 30 * MILLI, size=2, escrow=40 * MILLI)
    m.commit_bid(r, accounts.r2, 20 * MILLI, size=2)
    m.commit_bid(r, accounts.r3, 12 * MILLI, size=1)
    m.commit_bid(r, accounts.r1, 5 * MILLI, size=3)
    m.commit_ask(r, accounts.p1, 1 * MILLI, quantity=2)
    m.commit_ask(r, accounts.p2, 2 * MILLI)
    m.commit_ask(r, accounts.p3, 4 * MILLI)
    s = m.clear_and_settle(r)
    assert sum(b.charge for b in s.bids) >= sum(j.payment for j in s.jobs)
    for k, _job in enumerate(s.jobs):
        m.prove(s, k)
    conserved(m, accounts)


# ----------------------------------------------------------------------- proofs, slashing


def test_submit_proof_pays_prover_collateral_and_keeps_margin(proofphi: Driver, accounts: Accounts
                                                              ) -> None:
    m = proofphi
    r, s = two_task_round(m, accounts)
    before = m.collateral(accounts.p1)
    rc = m.prove(s, 0)
    ev = m.events(rc, "ProofAccepted")[0]["args"]
    assert (ev["round"], ev["prover"], ev["jobIndex"]) == (r, accounts.p1, 0)
    assert (ev["payment"], ev["margin"]) == (3 * MILLI, 5 * MILLI)
    assert m.collateral(accounts.p1) == before + 3 * MILLI
    assert m.outstanding(accounts.p1) == 1
    assert m.market.functions.isResolved(r, 0).call()
    assert m.market.functions.uncollectedMargin(r).call() == 5 * MILLI
    with rejected("JobAlreadyResolved"):
        m.prove(s, 0)
    with rejected("NotJobProver"):
        m.prove(s, 1, sender=accounts.p2)
    with rejected("ProofRejected"):
        m.prove(s, 1, proof=b"\xff" * 31 + b"\x01")
    for field, forged in [("leaf", replace(s.jobs[1], payment=s.jobs[1].payment + 1)),
                          ("jobIndex", replace(s.jobs[1], job_index=2)),
                          ("proofDeadline", replace(s.jobs[1],
                                                    proof_deadline=s.jobs[1].proof_deadline - 1))]:
        with rejected("JobNotInRound") as info:
            m.send("submitProof", r, forged.as_tuple(), s.proof(1), b"\x00" * 32,
                   sender=accounts.p1)
        assert info.value.args_["field"].rstrip(b"\0") == field.encode()
    with rejected("RoundNotSettled"):
        m.send("submitProof", r + 5, s.jobs[1].as_tuple(), s.proof(1), b"\x00" * 32,
               sender=accounts.p1)
    m.past_proof_deadline(s)
    with rejected("ProofDeadlinePassed"):
        m.prove(s, 1)
    conserved(m, accounts)


def test_margins_move_to_treasury_and_owner_withdraws(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    r, s = two_task_round(m, accounts)
    m.prove(s, 0)
    m.prove(s, 1)
    rc = m.send("collectMargins", r, sender=accounts.anyone)
    assert m.events(rc, "MarginsCollected")[0]["args"]["amount"] == 10 * MILLI
    assert m.liabilities()[1] == 10 * MILLI
    with rejected("OwnableUnauthorizedAccount"):
        m.send("withdrawTreasury", MILLI, sender=accounts.anyone)
    with rejected("InsufficientBalance"):
        m.send("withdrawTreasury", 11 * MILLI, sender=accounts.owner)
    rc = m.send("withdrawTreasury", 10 * MILLI, sender=accounts.owner)
    assert m.events(rc, "TreasuryWithdrawn")[0]["args"]["amount"] == 10 * MILLI
    # the prover takes its earnings out of collateral once nothing is outstanding
    m.send("setCapacity", 0, sender=accounts.p1)
    m.send("withdrawCollateral", m.collateral(accounts.p1), sender=accounts.p1)
    conserved(m, accounts)


def test_slash_refunds_charge_and_compensates_from_collateral(proofphi: Driver, accounts: Accounts
                                                             ) -> None:
    m = proofphi
    _r, s = two_task_round(m, accounts)
    m.prove(s, 1)
    with rejected("ProofDeadlineNotReached"):
        m.slash(s, 0, accounts.anyone)
    m.past_proof_deadline(s)
    before_r1 = m.balance(accounts.r1)
    coll = m.collateral(accounts.p1)
    rc = m.slash(s, 0, accounts.anyone)
    ev = m.events(rc, "JobSlashed")[0]["args"]
    assert (ev["requester"], ev["refund"], ev["compensation"]) == (accounts.r1, 8 * MILLI,
                                                                  REFUND_CAP)
    assert m.balance(accounts.r1) == before_r1 + 8 * MILLI + REFUND_CAP
    assert m.collateral(accounts.p1) == coll - REFUND_CAP
    assert m.outstanding(accounts.p1) == 0
    with rejected("JobAlreadyResolved"):
        m.slash(s, 0, accounts.anyone)
    with rejected("JobAlreadyResolved"):
        m.slash(s, 1, accounts.anyone)  # proven
    conserved(m, accounts)


# -------------------------------------------------------------------------------- liveness


def test_void_round_releases_all_escrow_after_the_deadline(proofphi: Driver, accounts: Accounts
                                                            ) -> None:
    m = proofphi
    r = m.next_round()
    m.commit_bid(r, accounts.r1, 3 * MILLI)
    m.commit_bid(r, accounts.r2, 4 * MILLI)
    m.close(r)
    with rejected("VoidTooEarly"):
        m.void(r, accounts.anyone)
    m.past_settle_deadline(r)
    b0, b1 = m.bids[r]
    with rejected("PageMisaligned"):  # one bid of two: not a checkpoint (every 2 bids here)
        m.send("voidRound", r, [(b0.requester, b0.escrow, b0.task, b0.commitment)],
               sender=accounts.anyone)
    with rejected("RevealsMismatch"):
        m.send("voidRound", r, [(b0.requester, b0.escrow + 1, b0.task, b0.commitment),
                                (b1.requester, b1.escrow, b1.task, b1.commitment)],
               sender=accounts.anyone)
    rc = m.void(r, accounts.anyone)
    ev = m.events(rc, "RoundVoided")[0]["args"]
    assert (ev["bidCount"], ev["released"]) == (2, 7 * MILLI)
    assert m.balance(accounts.r1) == 3 * MILLI and m.balance(accounts.r2) == 4 * MILLI
    with rejected("RoundAlreadyFinal"):
        m.void(r, accounts.anyone)
    assert m.liabilities()[0] == 0
    conserved(m, accounts)


def test_round_phase_follows_chain_time(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    phase = m.market.functions.roundPhase
    r = m.next_round()
    assert phase(r).call() == 1 and phase(r + 1).call() == 0  # COMMIT, UPCOMING
    m.commit_bid(r, accounts.r1, MILLI)
    m.close(r)
    assert phase(r).call() == 2  # SETTLE
    m.past_settle_deadline(r)
    assert phase(r).call() == 3  # VOIDABLE
    m.void(r, accounts.anyone)
    assert phase(r).call() == 6  # VOIDED
    r2, s = two_task_round(m, accounts)
    assert phase(r2).call() == 4  # PROOF
    m.past_proof_deadline(s)
    assert phase(r2).call() == 5  # SLASHABLE


def test_void_rejects_a_settled_round(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    r, _ = two_task_round(m, accounts)
    m.past_settle_deadline(r)
    with rejected("RoundAlreadyFinal"):
        m.void(r, accounts.anyone)
