"""``PostedPriceMarket``'s guards that no other test reached, each checked for its exact error.

Found by ``make mutate``: with the guard dropped, or its comparison moved by one, every test
still passed. Each test here refuses the call just past the guard's bound with the exact custom
error (name and arguments) and, where there is a bound, takes the call at it. The market, the
running example (its registrations and proposal ``A``) and the ``pp`` fixture are
``tests/contracts/posted_price.py``'s (``PostedPriceMarket.sol:349`` and ``:519``'s
``index >= proposals`` moved to ``>`` are equivalent: the index ``proposals`` has no stored hash,
so the hash check refuses it with the same ``ProposalMismatch``).
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.types import TxParams

from bridge.chain.posted_price import proposal_to_chain
from bridge.chain.revert import call_decoded
from bridge.errors import SettlementRejected
from bridge.mechanisms.posted_price import Proposal
from tests.contracts.posted_price import (
    BOND,
    CPU,
    FORFEITED,
    PP,
    RETURNED,
    T0,
    T1,
    A,
    proof,
)

CAP = 8  # the fixture market's maxProposals (and maxRequests, maxNodes)
# E: t2 on n3, the last request and the last node; disjoint from A, so it books as a part of its
# own; its price may rise by one.
E = Proposal.make({2: [3]}, {2: 1_000}, {3: 1_000}, max_prices={2: 1_001})


def refused(pp: PP, fn: str, *args: Any, sender: str, value: int = 0) -> tuple[str, dict[str, Any]]:
    """The name and arguments of the error ``fn(*args)`` gets in the next block."""
    err = pp.refused(fn, *args, sender=sender, value=value)
    return err.name, err.args_


def stamp(pp: PP, receipt: Any) -> int:
    """The timestamp of the block ``receipt``'s transaction landed in."""
    return int(pp.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def small_round(pp: PP) -> list[Any]:
    """Open a round with one request (r2's) and one node (p1's); at the registration deadline,
    the chain data of a proposal booking the one on the other."""
    a = pp.acc
    pp.round = pp.market.functions.roundCount().call()
    pp.send("openRound", sender=a.anyone)
    pp.send("registerRequest", pp.round, 1, 0, 1, 5_000, T1, sender=a.r2, value=BOND)
    pp.send("registerNode", pp.round, 1, 1, 0, sender=a.p1, value=BOND)
    pp.next_block_at(pp.deadlines()[0])
    return list(proposal_to_chain(pp.library_market(), Proposal.make({0: [0]}, {0: 100},
                                                                     {0: 100})))


def test_a_round_takes_exactly_max_proposals(pp: PP) -> None:
    """``maxProposals`` proposals are taken; the next is refused (a proposal costs the keeper a
    book entry to consider: the cap bounds the round's settlement)."""
    a = pp.acc
    c = small_round(pp)
    for _ in range(CAP):
        pp.send("propose", pp.round, c, sender=a.owner, value=BOND)
    assert refused(pp, "propose", pp.round, c, sender=a.anyone, value=BOND) == (
        "RoundFull", {"round": pp.round, "kind": 2, "cap": CAP})
    assert pp.market.functions.roundInfo(pp.round).call()[4] == CAP  # proposals


def test_a_proposal_must_list_requests_and_nodes_once_each_and_only_registered_ones(
        pp: PP) -> None:
    """Requests and nodes are listed strictly increasing: the same one twice in a row is refused,
    as is the node index one past the last registered; the last request and the last node are
    taken, and so is a strictly increasing list."""
    a = pp.acc
    pp.register()  # requests 0..2, nodes 0..3
    pp.next_block_at(pp.deadlines()[0])
    m = pp.library_market()
    good = list(proposal_to_chain(m, A))  # requests [0, 1], nodes [0, 1]
    names = ("requests", "prices", "maxPrices", "assignment", "nodes", "rewards", "minRewards")

    def bad(**changes: list[int]) -> list[Any]:
        return [changes.get(n, good[i]) for i, n in enumerate(names)]

    r = pp.round
    for data, code in ((bad(requests=[0, 0]), 3), (bad(nodes=[0, 0]), 6),
                       (bad(nodes=[0, 4]), 6)):  # 4: one past the last node
        assert refused(pp, "propose", r, data, sender=a.owner, value=BOND) == (
            "ProposalInvalid", {"round": r, "code": code, "at": 1}), data
    pp.send("propose", r, good, sender=a.owner, value=BOND)
    pp.send("propose", r, proposal_to_chain(m, E), sender=a.anyone, value=BOND)  # t2, n3
    assert pp.market.functions.roundInfo(r).call()[4] == 2


def test_settlement_refuses_a_part_left_unbalanced_when_the_next_part_begins(pp: PP) -> None:
    """Each part of the book must balance by itself: part 1 one wei short is refused at its last
    entry even when part 2 makes up the wei (else one part's participants would pay for
    another's); each part balanced, the book settles."""
    a = pp.acc
    _, propose_end, *_ = pp.open_proposals()
    pp.propose(A, a.owner)
    pp.propose(E, a.anyone)
    subs = pp.submitted()
    a_data, e_data = subs[0].data, subs[1].data
    pp.next_block_at(propose_end)
    r = pp.round
    # A's n1 paid one wei more than A offered (-1), E's t2 charged one wei more (+1)
    for second in ((1, 2, e_data, [1_001], [1_000]), (1, 2, e_data, [1_000], [1_000])):
        book = [(0, 1, a_data, [6_000, 4_000], [3_000, 1_001]), second]
        assert refused(pp, "settle", r, book, sender=a.keeper) == (
            "BookInvalid", {"round": r, "code": 8, "entry": 0}), second
    pp.send("settle", r, [(0, 1, a_data, [6_000, 4_000], [3_000, 1_000]),
                          (1, 2, e_data, [1_000], [1_000])], sender=a.keeper)
    assert pp.market.functions.roundInfo(r).call()[5] == 2  # parts


def test_only_booked_participants_answer_after_settlement_and_silence_costs_after_the_window(
        pp: PP) -> None:
    """Only a booked participant answers, in its own name, once the round is settled; a node
    accepts with exactly its collateral. In a part that did not trade (and nobody voided), the
    proposal closes and a silent participant's deposit is forfeited only once the acceptance
    window has ended: refused at its last second, taken at its end."""
    a = pp.acc
    _, propose_end, *_ = pp.open_proposals()
    pp.propose(A, a.owner)
    r = pp.round
    assert refused(pp, "acceptRequest", r, 0, sender=a.r1, value=6_000) == (
        "RoundNotSettled", {"round": r})
    pp.next_block_at(propose_end)
    pp.send("settle", r, pp.book(), sender=a.keeper)
    *_, accept_end, _ = pp.deadlines()

    # r2, p2 are booked too, but not as request 0 / node 0
    assert refused(pp, "acceptRequest", r, 0, sender=a.r2, value=6_000) == (
        "NotParticipant", {"round": r, "side": 0, "index": 0, "caller": a.r2})
    assert refused(pp, "acceptNode", r, 0, sender=a.p2, value=2 * CPU) == (
        "NotParticipant", {"round": r, "side": 1, "index": 0, "caller": a.p2})
    assert refused(pp, "rejectNode", r, 0, sender=a.p2) == (
        "NotParticipant", {"round": r, "side": 1, "index": 0, "caller": a.p2})
    # t2 is registered but not in the book (price 0: a free acceptance without the guard)
    assert refused(pp, "acceptRequest", r, 2, sender=a.r3) == (
        "NotAllocated", {"round": r, "side": 0, "index": 2})
    assert refused(pp, "rejectRequest", r, 2, sender=a.r3) == (
        "NotAllocated", {"round": r, "side": 0, "index": 2})
    for value in (2 * CPU - 1, 2 * CPU + 1, 0):  # n0 carries two units of load
        assert refused(pp, "acceptNode", r, 0, sender=a.p1, value=value) == (
            "WrongPayment", {"expected": 2 * CPU, "given": value})
    pp.send("acceptNode", r, 0, sender=a.p1, value=2 * CPU)

    # r2 and p2 stay silent: the part cannot trade, but nobody voided it, so their deposits are
    # forfeited once the window has passed, not before
    data = pp.submitted()[0].data
    pp.next_block_at(accept_end - 1)  # the last second of the acceptance window
    assert refused(pp, "closeProposal", r, 0, data, sender=a.anyone) == (
        "AcceptanceOpen", {"round": r, "closesAt": accept_end})
    assert refused(pp, "releaseDeposit", r, 1, 1, sender=a.anyone) == (
        "AcceptanceOpen", {"round": r, "closesAt": accept_end})
    pp.send("acceptRequest", r, 0, sender=a.r1, value=6_000)  # still answerable here
    snap = pp.chain.snapshot()  # each at accept_end exactly
    assert stamp(pp, pp.send("closeProposal", r, 0, data, sender=a.anyone)) == accept_end
    assert pp.market.functions.proposalInfo(r, 0).call()[3] is True  # closed
    pp.chain.revert(snap)
    assert stamp(pp, pp.send("releaseDeposit", r, 1, 1, sender=a.anyone)) == accept_end
    assert pp.deposit(1, 1) == FORFEITED
    pp.send("closeProposal", r, 0, data, sender=a.anyone)
    pp.conserved()


def test_a_proof_is_refused_from_another_account_for_a_job_not_open_and_when_invalid(
        pp: PP) -> None:
    """In a traded part: only the job's node proves it, only a job assigned to it and not yet
    proven, and only with a proof the verifier takes."""
    a = pp.acc
    _, propose_end, *_ = pp.open_proposals()
    pp.propose(A, a.owner)  # t0 on n0 and n1, t1 on n0
    pp.next_block_at(propose_end)
    pp.send("settle", pp.round, pp.book(), sender=a.keeper)
    r = pp.round
    for fn, index, sender, value in (("acceptRequest", 0, a.r1, 6_000),
                                     ("acceptRequest", 1, a.r2, 4_000),
                                     ("acceptNode", 0, a.p1, 2 * CPU),
                                     ("acceptNode", 1, a.p2, CPU)):
        pp.send(fn, r, index, sender=sender, value=value)

    good = proof(pp, T0, a.p1)
    # p2 (node 1) sends node 0's job with node 0's proof
    assert refused(pp, "submitProof", r, 0, 0, good, sender=a.p2) == (
        "NotParticipant", {"round": r, "side": 1, "index": 0, "caller": a.p2})
    # t1 is n0's alone: n1 has no such job, even with a valid proof of its own
    assert refused(pp, "submitProof", r, 1, 1, proof(pp, T1, a.p2), sender=a.p2) == (
        "JobNotOpen", {"round": r, "request": 1, "node": 1})
    # the right proof cut short (the verifier takes exactly 32 bytes)
    assert refused(pp, "submitProof", r, 0, 0, good[:31], sender=a.p1) == (
        "ProofInvalid", {"round": r, "request": 0, "node": 0})
    pp.send("submitProof", r, 0, 0, good, sender=a.p1)
    assert refused(pp, "submitProof", r, 0, 0, good, sender=a.p1) == (  # proven: not again
        "JobNotOpen", {"round": r, "request": 0, "node": 0})
    pp.conserved()


def test_an_unsettled_round_returns_bonds_and_deposits_from_the_settlement_deadline(
        pp: PP) -> None:
    """The keeper never settles: a proposal's bond and a registration's deposit are held through
    the settlement window's last second (the keeper could still book them) and come back at its
    deadline exactly."""
    a = pp.acc
    c = small_round(pp)
    r = pp.round
    pp.send("propose", r, c, sender=a.owner, value=BOND)
    settle_end = pp.deadlines()[2]
    pp.next_block_at(settle_end - 1)
    assert refused(pp, "closeProposal", r, 0, c, sender=a.anyone) == (
        "RoundNotSettled", {"round": r})
    for side in (0, 1):
        assert refused(pp, "releaseDeposit", r, side, 0, sender=a.anyone) == (
            "RoundNotSettled", {"round": r})
    pp.next_block_at(settle_end)
    snap = pp.chain.snapshot()  # each at settle_end exactly
    assert stamp(pp, pp.send("closeProposal", r, 0, c, sender=a.anyone)) == settle_end
    assert pp.balance(a.owner) == BOND
    pp.chain.revert(snap)
    assert stamp(pp, pp.send("releaseDeposit", r, 0, 0, sender=a.anyone)) == settle_end
    assert pp.deposit(0, 0) == RETURNED and pp.balance(a.r2) == BOND
    pp.send("releaseDeposit", r, 1, 0, sender=a.anyone)
    pp.send("closeProposal", r, 0, c, sender=a.anyone)
    assert pp.market.functions.totalLocked().call() == 0
    pp.conserved()


def test_a_round_exists_only_once_opened(pp: PP) -> None:
    """Round ids are ``0 .. roundCount - 1``: ``roundCount`` itself is refused until opened."""
    a = pp.acc
    n = pp.market.functions.roundCount().call()
    for round_ in (n, n + 1):
        assert refused(pp, "deadlines", round_, sender=a.anyone) == (
            "NoSuchRound", {"round": round_})
        assert refused(pp, "registerRequest", round_, 1, 0, 1, 0, T0, sender=a.r1,
                       value=BOND) == ("NoSuchRound", {"round": round_})
    pp.send("openRound", sender=a.anyone)
    pp.send("registerRequest", n, 1, 0, 1, 0, T0, sender=a.r1, value=BOND)
    assert refused(pp, "deadlines", n + 1, sender=a.anyone) == ("NoSuchRound", {"round": n + 1})
    assert refused(pp, "registerRequest", n + 1, 1, 0, 1, 0, T0, sender=a.r1, value=BOND) == (
        "NoSuchRound", {"round": n + 1})


def forwarder(target: str) -> bytes:
    """Init code of a contract that forwards any call with data (and its value) to ``target``,
    passing back what it returns or reverts with, and refuses plain ether (empty call data)."""
    address = bytes.fromhex(target[2:])
    runtime = bytes.fromhex(
        "36600757"  # 00: if calldatasize, jump to 07
        "5f5ffd"  # 04: revert()
        "5b365f5f37"  # 07: calldatacopy(0, 0, calldatasize)
        "5f5f365f3473") + address + bytes.fromhex(  # 0c: call(gas, target, callvalue,
        "5af1"  # 26:      0, calldatasize, 0, 0)
        "3d5f5f3e"  # 28: returndatacopy(0, 0, returndatasize)
        "603257"  # 2c: if the call succeeded, jump to 32
        "3d5ffd"  # 2f: revert(0, returndatasize)
        "5b3d5ff3")  # 32: return(0, returndatasize)
    assert len(runtime) == 0x36 and runtime[0x32] == 0x5B and runtime[0x07] == 0x5B
    # codecopy(0, 9, len); return(0, len)
    return bytes([0x60, len(runtime), 0x80, 0x60, 0x09, 0x5F, 0x39, 0x5F, 0xF3]) + runtime


def test_a_withdrawal_to_an_account_that_refuses_ether_reverts_and_keeps_the_balance(
        pp: PP) -> None:
    """A contract that refuses plain ether has a free balance (its node's deposit, returned in a
    round never settled): its withdrawal reverts with ``TransferFailed`` and the balance stays
    (without the check it would be zeroed and the wei kept by nobody)."""
    a, w3, market = pp.acc, pp.chain.w3, pp.market
    tx = w3.eth.send_transaction({"from": a.p3, "data": HexBytes(forwarder(market.address))})
    created = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    assert created is not None
    wallet = to_checksum_address(created)
    r = pp.round = market.functions.roundCount().call()
    pp.send("openRound", sender=a.anyone)
    tx = w3.eth.send_transaction({"from": a.p3, "to": wallet, "value": Web3.to_wei(BOND, "wei"),
                                  "data": HexBytes(market.encode_abi("registerNode",
                                                                     args=[r, 1, 1, 0]))})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    assert market.functions.nodeInfo(r, 0).call()[0] == wallet
    pp.next_block_at(pp.deadlines()[2])
    pp.send("releaseDeposit", r, 1, 0, sender=a.anyone)  # nobody was asked: the deposit back
    assert pp.balance(wallet) == BOND

    withdraw: TxParams = {"from": a.p3, "to": wallet,
                          "data": HexBytes(market.encode_abi("withdraw"))}
    abi: list[dict[str, Any]] = [dict(entry) for entry in market.abi]
    with pytest.raises(SettlementRejected) as info:
        call_decoded(abi, lambda: w3.eth.call(withdraw, "pending"))
    assert (info.value.name, info.value.args_) == (
        "TransferFailed", {"to": wallet, "amount": BOND})
    assert pp.balance(wallet) == BOND
    f = market.functions
    assert w3.eth.get_balance(market.address) == (  # every wei still owed to someone
        f.totalLocked().call() + f.burned().call() + BOND + pp.balance(a.anyone))
