"""bridge.chain.settlement agrees with the contract: chains, leaves, tree, calldata, logs."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.chain.settlement import (
    MerkleTree,
    ask_chain,
    bid_chain,
    decode_settle_input,
    job_leaf,
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
    # the prover's view: calldata of the settle transaction
    tx = m.chain.w3.eth.get_transaction(s.receipt["transactionHash"])
    decoded = decode_settle_input(m.market.abi, bytes(tx["input"]))
    assert decoded["entries"] == s.entries and decoded["bids"] == s.bids
    # and logs alone
    ev = m.events(s.receipt, "RoundSettled")[0]["args"]
    commits = [e["args"] for e in m.market.events.BidCommitted().get_logs(
        from_block=0, argument_filters={"round": r})]
    asks = [e["args"]["prover"] for e in m.market.events.AskCommitted().get_logs(
        from_block=0, argument_filters={"round": r})]
    jobs = jobs_from_logs([(c["requester"], c["escrow"], c["task"]) for c in commits], asks,
                          ev["charges"], ev["jobs"], s.jobs[0].proof_deadline)
    assert jobs == s.jobs
    assert MerkleTree([job_leaf(r, j) for j in jobs]).root == ev["jobRoot"]


def test_collateral_shortfall_blocks_asks_and_allocations(proofphi: Driver, accounts: Accounts
                                                          ) -> None:
    m = proofphi
    m.prover_ready(accounts.p1, 1)
    m.prover_ready(accounts.p2, 1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, 10 * MILLI)
    m.commit_bid(r, accounts.r2, 9 * MILLI)
    m.commit_ask(r, accounts.p1, MILLI)
    m.commit_ask(r, accounts.p2, 2 * MILLI)
    s = m.clear_and_settle(r)
    # p1 commits again in the next round, then is slashed below its capacity's backing
    r2 = m.current_round()
    m.commit_bid(r2, accounts.r1, 10 * MILLI)
    m.commit_bid(r2, accounts.r2, 9 * MILLI)
    m.commit_ask(r2, accounts.p1, MILLI)
    m.commit_ask(r2, accounts.p2, 2 * MILLI)
    m.close(r2)
    args = m.clear(r2)
    m.past_proof_deadline(s)
    m.slash(s, 0, accounts.anyone)
    assert m.collateral(accounts.p1) == 0
    try:
        m.settle(r2, *args)
    except SettlementRejected as e:
        assert e.name == "InsufficientCollateral" and e.args_["prover"] == accounts.p1
    else:
        raise AssertionError("settle allocated units to an unbacked prover")
    r3 = m.next_round()
    try:
        m.send("commitAsk", r3, os.urandom(32), b"", sender=accounts.p1)
    except SettlementRejected as e:
        assert e.name == "InsufficientCollateral"
        assert e.args_["required"] == REFUND_CAP
    else:
        raise AssertionError("ask accepted without collateral")
