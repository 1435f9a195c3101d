"""bridge.chain.settlement agrees with the contract: chains, leaves, tree, calldata, logs."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.chain.settlement import (
    MerkleTree,
    SettledPage,
    ask_chain,
    bid_chain,
    decode_settlement,
    jobs_from_logs,
    verify_proof,
)
from bridge.errors import SettlementRejected
from bridge.mechanisms import Ask, Bid, charge_shares, clear
from tests.contracts.conftest import REFUND_CAP, Accounts
from tests.contracts.flow import Driver

MILLI = 10**15


@given(st.integers(1, 40), st.data())
@settings(max_examples=30, deadline=None)
def test_merkle_proofs_verify_for_every_leaf(n: int, data: st.DataObject) -> None:
    leaves = [os.urandom(32) for _ in range(n)]
    tree = MerkleTree(leaves)
    k = data.draw(st.integers(0, n - 1))
    assert verify_proof(leaves[k], tree.proof(k), tree.root)
    assert not verify_proof(os.urandom(32), tree.proof(k), tree.root)


@given(
    bids=st.lists(st.tuples(st.integers(1, 60), st.integers(1, 4)), min_size=1, max_size=8),
    asks=st.lists(st.tuples(st.integers(0, 12), st.integers(1, 4)), min_size=1, max_size=5),
    mechanism=st.sampled_from(["dara", "proofphi"]),
)
@settings(max_examples=150, deadline=None)
def test_engine_outcomes_pass_the_contracts_per_job_rules(
        bids: list[tuple[int, int]], asks: list[tuple[int, int]], mechanism: str) -> None:
    """cost·units ≤ payment ≤ chargeShare for every job the engine produces (settle's checks)."""
    eb = [Bid(i, v, 1 if mechanism == "proofphi" else s) for i, (v, s) in enumerate(bids)]
    ea = [Ask(j, c, q) for j, (c, q) in enumerate(asks)]
    out = clear(mechanism, eb, ea)
    pays = out.job_payments()
    for bid_id, per_ask in out.assignment.items():
        shares = charge_shares(eb[bid_id], out.charges[bid_id], per_ask, ea)
        for ask_id, units in per_ask.items():
            assert ea[ask_id].cost * units <= pays[(bid_id, ask_id)] <= shares[ask_id]


def test_chain_words_leaves_and_logs_match_the_contract(proofphi: Driver, accounts: Accounts
                                                       ) -> None:
    m = proofphi
    m.prover_ready(accounts.p1, 2)
    m.prover_ready(accounts.p2, 1)
    r = m.next_round()
    for who, v in ((accounts.r1, 10), (accounts.r2, 9), (accounts.r3, 8)):
        m.commit_bid(r, who, v * MILLI)
    m.commit_ask(r, accounts.p1, MILLI)
    m.commit_ask(r, accounts.p2, 3 * MILLI)
    info = m.market.functions.roundInfo(r).call()
    assert info[2] == bid_chain([(b.commitment, b.requester, b.escrow, b.task)
                                 for b in m.bids[r]])
    assert info[3] == ask_chain([(a.commitment, a.prover, a.capacity) for a in m.asks[r]])
    s = m.clear_and_settle(r)
    # the prover's view: calldata of the settlement transactions
    w3 = m.chain.w3
    inputs = [bytes(w3.eth.get_transaction(rc["transactionHash"])["input"]) for rc in s.receipts]
    pages = [SettledPage(e["args"]["page"], e["args"]["firstBid"], e["args"]["firstJob"],
                         tuple(e["args"]["charges"]), tuple(e["args"]["jobs"]))
             for rc in s.receipts for e in m.events(rc, "BidsSettled")]
    charges = [c for p in pages for c in p.charges]
    decoded = decode_settlement(m.market.abi, "proofphi", inputs[0], inputs[1:], charges)
    assert decoded["bids"] == s.bids and decoded["asks"] == s.asks
    # and logs alone
    ev = m.events(s.receipt, "RoundSettled")[0]["args"]
    commits = [e["args"] for e in m.market.events.BidCommitted().get_logs(
        from_block=0, argument_filters={"round": r})]
    asks = [e["args"]["prover"] for e in m.market.events.AskCommitted().get_logs(
        from_block=0, argument_filters={"round": r})]
    jobs, tree, got_charges = jobs_from_logs(
        r, [(c["requester"], c["escrow"], c["task"]) for c in commits], asks, pages,
        m.proof_deadline(r))
    assert jobs == s.jobs and got_charges == [b.charge for b in s.bids]
    assert tree.root == ev["jobRoot"] == s.tree.root
    assert (ev["jobCount"], ev["pages"]) == (len(jobs), 1)


def test_collateral_reserved_for_outstanding_units_at_commit(proofphi: Driver, accounts: Accounts
                                                             ) -> None:
    """An ask reserves refundCap · (capacity + outstanding): a prover whose collateral backs only
    its unproven job cannot ask (so no settlement can fail on its collateral), then can once the
    job is proven."""
    m = proofphi
    m.prover_ready(accounts.p1, 1)
    m.prover_ready(accounts.p2, 1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, 10 * MILLI)
    m.commit_bid(r, accounts.r2, 9 * MILLI)
    m.commit_ask(r, accounts.p1, MILLI)
    m.commit_ask(r, accounts.p2, 2 * MILLI)
    s = m.clear_and_settle(r)
    me = m.min_escrow
    assert m.outstanding(accounts.p1) == 1 and m.collateral(accounts.p1) == REFUND_CAP + me
    r2 = m.next_round()
    try:
        m.send("commitAsk", r2, os.urandom(32), b"", sender=accounts.p1)
    except SettlementRejected as e:
        assert e.name == "InsufficientCollateral"
        assert e.args_["required"] == 2 * REFUND_CAP + me
    else:
        raise AssertionError("ask accepted while its collateral backs an outstanding unit")
    m.prove(s, 0)
    m.send("commitAsk", r2, os.urandom(32), b"", sender=accounts.p1)


def test_an_ask_pending_in_an_earlier_round_is_reserved_too(dara: Driver, accounts: Accounts
                                                           ) -> None:
    """With an earlier ask still unsettled, a new ask needs collateral for both: otherwise the
    earlier round's allocation could leave the later one's settlement unbacked."""
    m = dara
    m.prover_ready(accounts.p1, 2)
    r = m.next_round()
    m.commit_ask(r, accounts.p1, MILLI)
    r2 = m.next_round()  # round r closed, not settled: its settlement deadline is ahead
    try:
        m.send("commitAsk", r2, os.urandom(32), b"", sender=accounts.p1)
    except SettlementRejected as e:
        # each ask: its capacity's backing plus the invalid-order deposit minEscrow
        assert e.name == "InsufficientCollateral"
        assert e.args_["required"] == 4 * REFUND_CAP + 2 * m.min_escrow
    else:
        raise AssertionError("second ask accepted with collateral for one")
    m.send("stake", sender=accounts.p1, value=2 * REFUND_CAP + m.min_escrow - 1)
    with_one_short = None
    try:
        m.send("commitAsk", r2, os.urandom(32), b"", sender=accounts.p1)
    except SettlementRejected as e:
        with_one_short = e.name
    assert with_one_short == "InsufficientCollateral"
    m.send("stake", sender=accounts.p1, value=1)
    m.send("commitAsk", r2, os.urandom(32), b"", sender=accounts.p1)
