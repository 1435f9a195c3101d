"""``PostedPriceMarket`` on eth-tester: the whole flow, each refusal, every window at its boundary.

The running example is the seed's (t0 needs both nodes, t1 either): maker A posts the whole
allocation with slack, maker B undercuts it on t1 and n1; with tolerances A's proposal stays and
is re-priced (the library's ``KEPT_REPRICED``), which the contract accepts because every posted
term is within A's tolerances and A's margin is unchanged. Funds are conserved after every step:
the contract's balance equals ``totalLocked`` plus ``burned`` plus the free balances.

Every registration carries a deposit of ``BOND`` (γ). Fake participants (issue 21, item 5): a
booked participant that rejects, or never answers, forfeits it (burned: paid to nobody), and the
maker's bond comes back, so the fake's creator ends exactly ``BOND`` (plus gas) worse off than if
it had not registered, and the maker is not harmed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from web3.logs import DISCARD

from bridge.chain.deploy import deploy
from bridge.chain.posted_price import (
    PostedPriceConfig,
    deploy_posted_price_market,
    proposal_to_chain,
)
from bridge.chain.tester import TesterChain
from bridge.mechanisms.posted_price import Proposal, Verdict, run
from tests.contracts.conftest import Accounts
from tests.contracts.posted_price import (
    BITS,
    BOND,
    CPU,
    FORFEITED,
    HELD,
    PERIOD,
    PP,
    RETURNED,
    T0,
    T1,
    A,
    B,
    D,
    proof,
)
from tests.contracts.test_guards import ZERO, _field, reverts


def test_round_trades_reprices_proves_slashes_and_pays_every_wei(pp: PP) -> None:
    a = pp.acc
    _, propose_end, *_ = pp.open_proposals()
    pp.propose(A, a.owner)
    pp.propose(B, a.anyone)
    pp.conserved()
    assert pp.market.functions.totalLocked().call() == (2 + 7) * BOND  # bonds and deposits

    _, steps = run(pp.library_market(), [s.proposal for s in pp.submitted()])
    assert [s.verdict for s in steps] == [Verdict.FIRST, Verdict.KEPT_REPRICED]
    pp.next_block_at(propose_end)  # settlement opens at the proposal deadline
    pp.send("settle", pp.round, pp.book(), sender=a.keeper)
    *_, accept_end, proof_end = pp.deadlines()
    q0, q1 = (pp.market.functions.requestInfo(pp.round, i).call() for i in (0, 1))
    assert (q0[8], q1[8]) == (7_000, 3_000)  # t0 raised to π̄, t1 on B's price
    n0, n1 = (pp.market.functions.nodeInfo(pp.round, i).call() for i in (0, 1))
    assert (n0[11], n1[11]) == (2_000, 2_000)  # n0 lowered by the rest of Δ, n1 on B's reward
    assert n0[6] == 2 and n1[6] == 1  # loads

    assert pp.refused("acceptRequest", pp.round, 0, sender=a.r1, value=6_999).name == "WrongPayment"
    pp.send("acceptRequest", pp.round, 0, sender=a.r1, value=7_000)
    assert pp.deposit(0, 0) == RETURNED and pp.balance(a.r1) == BOND  # back on acceptance
    pp.send("acceptRequest", pp.round, 1, sender=a.r2, value=3_000)
    pp.send("acceptNode", pp.round, 0, sender=a.p1, value=2 * CPU)
    assert pp.refused("submitProof", pp.round, 0, 0, proof(pp, T0, a.p1),
                      sender=a.p1).name == "PartNotTraded"
    pp.next_block_at(accept_end - 1)  # the last second of the acceptance window
    receipt = pp.send("acceptNode", pp.round, 1, sender=a.p2, value=CPU)
    traded = pp.market.events.PartTraded().process_receipt(receipt, errors=DISCARD)
    assert traded[0]["args"]["part"] == 1
    assert pp.refused("rejectNode", pp.round, 1, sender=a.p2).name == "AcceptanceClosed"
    pp.conserved()

    pp.send("submitProof", pp.round, 0, 0, proof(pp, T0, a.p1), sender=a.p1)
    assert pp.refused("slash", pp.round, 0, 1, sender=a.anyone).name == "ProofWindowOpen"
    pp.next_block_at(proof_end - 1)  # the last second of the proof window
    pp.send("submitProof", pp.round, 1, 0, proof(pp, T1, a.p1), sender=a.p1)
    assert pp.refused("submitProof", pp.round, 0, 1, proof(pp, T0, a.p2),
                      sender=a.p2).name == "ProofWindowClosed"
    pp.send("slash", pp.round, 0, 1, sender=a.anyone)  # at proof_end exactly
    assert pp.refused("slash", pp.round, 0, 1, sender=a.anyone).name == "JobNotOpen"

    subs = pp.submitted()
    for s in subs:
        pp.send("closeProposal", pp.round, s.index, s.data, sender=a.anyone)
    assert pp.refused("closeProposal", pp.round, 0, subs[0].data,
                      sender=a.anyone).name == "ProposalAlreadyClosed"
    assert pp.refused("releaseDeposit", pp.round, 0, 0, sender=a.anyone).name == "NoDeposit"
    pp.release_unbooked()  # t2, n2, n3 were not booked: their deposits come back
    pp.conserved()
    f = pp.market.functions
    assert f.totalLocked().call() == 0 and f.burned().call() == 0
    assert f.balanceOf(a.owner).call() == BOND + 6_000  # A's bond and its margin
    assert f.balanceOf(a.anyone).call() == 2 * BOND  # B was not booked; n3's deposit
    assert f.balanceOf(a.p1).call() == 2 * CPU + 2_000 + BOND  # collateral, reward, deposit
    assert f.balanceOf(a.r1).call() == CPU + 2_000 + BOND  # n1's job collateral and reward
    assert [pp.balance(x) for x in (a.p2, a.r2, a.r3, a.p3)] == [BOND] * 4  # deposits only
    before = pp.chain.w3.eth.get_balance(a.p1)
    receipt = pp.send("withdraw", sender=a.p1)
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert pp.chain.w3.eth.get_balance(a.p1) == before + 2 * CPU + 2_000 + BOND - gas
    assert pp.refused("withdraw", sender=a.p1).name == "NothingToWithdraw"
    pp.conserved()


def test_a_rejection_voids_the_part_burns_the_rejecters_deposit_and_returns_the_bond(
        pp: PP) -> None:
    a = pp.acc
    pp.register()
    _, propose_end, settle_end, *_ = pp.deadlines()
    pp.next_block_at(propose_end - 1)  # the last second of the proposal window
    pp.propose(A, a.owner)
    assert pp.refused("propose", pp.round, proposal_to_chain(pp.library_market(), B),
                      sender=a.anyone, value=BOND).name == "ProposalWindowNotOpen"
    pp.next_block_at(settle_end - 1)  # the last second of the settlement window
    pp.send("settle", pp.round, pp.book(), sender=a.keeper)
    *_, accept_end, _ = pp.deadlines()
    pp.send("acceptRequest", pp.round, 0, sender=a.r1, value=6_000)
    receipt = pp.send("rejectNode", pp.round, 0, sender=a.p1)
    burned = pp.market.events.DepositForfeited().process_receipt(receipt, errors=DISCARD)
    assert [dict(x["args"]) for x in burned] == [{"round": pp.round, "side": 1, "index": 0,
                                                 "account": a.p1, "amount": BOND}]
    assert pp.deposit(1, 0) == FORFEITED and pp.market.functions.burned().call() == BOND
    assert pp.refused("acceptNode", pp.round, 1, sender=a.p2,
                      value=CPU).name == "PartVoided"
    # nothing is left to reject: a second "no" would only burn a deposit for nothing
    assert pp.refused("rejectNode", pp.round, 1, sender=a.p2).name == "PartVoided"
    assert pp.refused("rejectNode", pp.round, 0, sender=a.p1).name == "AlreadyResponded"
    assert pp.refused("rejectRequest", pp.round, 1, sender=a.r1).name == "NotParticipant"
    data = pp.submitted()[0].data
    assert pp.refused("closeProposal", pp.round, 0, data,
                      sender=a.anyone).name == "AcceptanceOpen"
    assert pp.refused("slash", pp.round, 0, 0, sender=a.anyone).name == "PartNotTraded"
    pp.next_block_at(accept_end)  # the part can no longer trade: close at the deadline
    receipt = pp.send("closeProposal", pp.round, 0, data, sender=a.anyone)
    closed = pp.market.events.ProposalClosed().process_receipt(receipt, errors=DISCARD)[0]
    assert (closed["args"]["outcome"], closed["args"]["makerCredit"]) == (3, BOND)  # REJECTED
    pp.release_unbooked()
    f = pp.market.functions
    assert f.balanceOf(a.r1).call() == 6_000 + BOND  # the price it paid and its deposit
    assert f.balanceOf(a.p1).call() == 0  # the rejecter: nothing, its deposit burned
    # p2 and r2 never answered, but a rejection had voided their part: deposits back
    assert pp.deposit(1, 1) == RETURNED and f.balanceOf(a.p2).call() == BOND
    assert pp.deposit(0, 1) == RETURNED and f.balanceOf(a.r2).call() == BOND
    assert f.balanceOf(a.owner).call() == BOND  # the maker keeps its bond
    assert f.totalLocked().call() == 0 and f.burned().call() == BOND
    pp.conserved()


def test_registration_closes_at_its_deadline_and_an_unsettled_round_returns_bonds(pp: PP) -> None:
    a = pp.acc
    pp.round = pp.market.functions.roundCount().call()
    pp.send("openRound", sender=a.anyone)
    register_end, _, settle_end, *_ = pp.deadlines()
    for deposit in (0, BOND - 1, BOND + 1):  # registration carries exactly the deposit
        err = pp.refused("registerRequest", pp.round, 1, 0, 1, 5_000, T1, sender=a.r2,
                         value=deposit)
        assert (err.name, err.args_["expected"]) == ("WrongPayment", BOND)
        assert pp.refused("registerNode", pp.round, 1, 1, 0, sender=a.p1,
                          value=deposit).name == "WrongPayment"
    pp.send("registerRequest", pp.round, 1, 0, 1, 5_000, T1, sender=a.r2, value=BOND)
    assert pp.deposit(0, 0) == HELD and pp.market.functions.totalLocked().call() == BOND
    c = proposal_to_chain(pp.library_market(), Proposal.make({0: [0]}, {0: 100}, {0: 100}))
    assert pp.refused("propose", pp.round, c, sender=a.owner,
                      value=BOND).name == "ProposalWindowNotOpen"
    assert pp.refused("registerRequest", pp.round, 1, 0, 1, CPU + 1, T1, sender=a.r2,
                      value=BOND).name == "InvalidRegistration"  # max price above collateral
    pp.next_block_at(register_end - 1)  # the last second of registration
    pp.send("registerNode", pp.round, 1, 1, 0, sender=a.p1, value=BOND)
    err = pp.refused("registerNode", pp.round, 1, 1, 0, sender=a.p2, value=BOND)
    assert (err.name, err.args_["closedAt"]) == ("RegistrationClosed", register_end)
    pp.send("propose", pp.round, c, sender=a.owner, value=BOND)  # at register_end
    pp.conserved()
    pp.chain.travel_to(settle_end - 2)
    assert pp.refused("closeProposal", pp.round, 0, c, sender=a.anyone).name == "RoundNotSettled"
    assert pp.refused("releaseDeposit", pp.round, 0, 0,
                      sender=a.anyone).name == "RoundNotSettled"  # the keeper may still settle
    for side, index in ((0, 1), (1, 1), (2, 0)):  # no such request, node, or side
        assert pp.refused("releaseDeposit", pp.round, side, index,
                          sender=a.anyone).name == "NoDeposit"
    pp.chain.travel_to(settle_end - 1)
    assert pp.refused("settle", pp.round, [], sender=a.keeper).name == "SettleWindowNotOpen"
    pp.send("closeProposal", pp.round, 0, c, sender=a.anyone)  # the keeper never settled
    pp.send("releaseDeposit", pp.round, 0, 0, sender=a.anyone)  # nobody was asked: all back
    pp.send("releaseDeposit", pp.round, 1, 0, sender=a.anyone)
    assert pp.refused("releaseDeposit", pp.round, 1, 0, sender=a.anyone).name == "NoDeposit"
    assert pp.market.functions.balanceOf(a.owner).call() == BOND
    assert pp.balance(a.r2) == BOND and pp.balance(a.p1) == BOND
    assert pp.market.functions.totalLocked().call() == 0
    pp.conserved()


def test_proposals_are_refused_for_each_rule(pp: PP) -> None:
    a = pp.acc
    pp.register()
    pp.next_block_at(pp.deadlines()[0])
    m = pp.library_market()

    def code(data: Any, value: int = BOND) -> int:
        err = pp.refused("propose", pp.round, data, sender=a.owner, value=value)
        assert err.name == "ProposalInvalid", err
        return int(err.args_["code"])

    good = list(proposal_to_chain(m, A))

    def bad(**changes: list[int]) -> list[Any]:
        names = ("requests", "prices", "maxPrices", "assignment", "nodes", "rewards", "minRewards")
        return [changes.get(n, good[i]) for i, n in enumerate(names)]

    assert pp.refused("propose", pp.round, good, sender=a.owner,
                      value=BOND - 1).name == "WrongPayment"
    assert code(bad(requests=[], prices=[], maxPrices=[], assignment=[])) == 1
    assert code(bad(prices=[6_000])) == 2
    assert code(bad(requests=[1, 0], prices=[4_000, 6_000], maxPrices=[5_000, 7_000])) == 3
    assert code(bad(requests=[0, 3])) == 3  # no request 3
    assert code(bad(maxPrices=[5_999, 5_000])) == 4
    assert code(bad(maxPrices=[7_001, 5_000])) == 5  # above r1's registered maximum
    assert code(bad(nodes=[1, 0])) == 6
    assert code(bad(minRewards=[3_001, 500])) == 7
    assert code(bad(minRewards=[499, 500])) == 8  # below p1's registered minimum
    assert code(bad(assignment=[0, 1])) == 9
    assert code(bad(assignment=[1, 0, 0])) == 9
    assert code(bad(nodes=[0], rewards=[500], minRewards=[500], assignment=[0, 0, 0])) == 9
    assert code(bad(nodes=[0], rewards=[3_000], minRewards=[500])) == 10
    assert code(bad(assignment=[0, 2, 0], nodes=[0, 2], minRewards=[500, 0])) == 11
    assert code(bad(assignment=[0, 3, 3], nodes=[0, 3], minRewards=[500, 0])) == 12
    assert code(bad(nodes=[0, 1, 3], rewards=[3_000, 1_000, 0],
                    minRewards=[500, 500, 0])) == 13
    assert code(bad(prices=[6_000, 4_000], rewards=[9_000, 1_001], minRewards=[500, 500])) == 14
    pp.send("propose", pp.round, good, sender=a.owner, value=BOND)


def test_settlement_checks_the_book(pp: PP) -> None:
    a = pp.acc
    _, propose_end, *_ = pp.open_proposals()
    pp.propose(A, a.owner)
    pp.propose(B, a.anyone)
    pp.propose(D, a.anyone)
    good = pp.book()
    assert pp.refused("settle", pp.round, good, sender=a.keeper).name == "SettleWindowNotOpen"
    pp.next_block_at(propose_end)
    assert pp.refused("settle", pp.round, good, sender=a.anyone).name == "NotKeeper"
    subs = pp.submitted()
    a_data, b_data = subs[0].data, subs[1].data

    def code(book: list[Any]) -> int:
        err = pp.refused("settle", pp.round, book, sender=a.keeper)
        assert err.name == "BookInvalid", err
        return int(err.args_["code"])

    (idx, _, data, prices, rewards), = good
    assert code([(idx, 2, data, prices, rewards)]) == 1
    assert code([(idx, 1, data, prices, rewards), (idx, 1, data, prices, rewards)]) == 2
    assert code([(idx, 1, data, prices[:1], rewards)]) == 3
    assert code([(idx, 1, data, [7_001, 2_999], rewards)]) == 4
    assert code([(idx, 1, data, prices, [499, 3_501])]) == 5
    assert code([(0, 1, a_data, [6_000, 4_000], [3_000, 1_000]),
                 (1, 2, b_data, [3_000], [2_000])]) == 6
    assert code([(idx, 1, data, prices, [2_000, 2_001])]) == 8
    assert code([(0, 1, a_data, [6_000, 4_000], [3_000, 1_000]),
                 (2, 2, subs[2].data, [1_000], [1_000])]) == 7
    err = pp.refused("settle", pp.round, [(1, 1, a_data, prices, rewards)], sender=a.keeper)
    assert err.name == "ProposalMismatch"
    pp.send("settle", pp.round, good, sender=a.keeper)
    assert pp.refused("settle", pp.round, good, sender=a.keeper).name == "RoundAlreadySettled"
    assert pp.refused("closeProposal", pp.round, 1, a_data,
                      sender=a.anyone).name == "ProposalMismatch"
    pp.send("closeProposal", pp.round, 2, subs[2].data, sender=a.anyone)  # not booked: bond back
    assert pp.market.functions.balanceOf(a.anyone).call() == BOND


# ----------------------------------------------------------------------------------------------
# Fake participants (issue 21, item 5): rejecting or ignoring costs the fake's creator its
# deposit, nobody collects it, and the maker's bond comes back.
# ----------------------------------------------------------------------------------------------


def test_a_fake_requester_that_rejects_loses_its_deposit_and_the_maker_keeps_its_bond(
        pp: PP) -> None:
    """r3 is a Sybil: it registers t2 (max price 5000), maker D books it on n0, and it rejects.
    Before the fix it collected D's whole bond for free; now it ends exactly ``BOND`` (plus gas)
    poorer than if it had never registered, and the maker ends where it started."""
    a = pp.acc
    fake_before, maker_before = pp.wallet(a.r3), pp.wallet(a.owner)
    _, propose_end, *_ = pp.open_proposals()
    pp.propose(D, a.owner)  # t2 (the fake) on n0, price 1000 within the fake's own maximum
    pp.next_block_at(propose_end)
    pp.send("settle", pp.round, pp.book(), sender=a.keeper)
    *_, accept_end, _ = pp.deadlines()
    pp.send("acceptNode", pp.round, 0, sender=a.p1, value=CPU)  # the honest node accepts
    pp.send("rejectRequest", pp.round, 2, sender=a.r3)  # the fake says no
    pp.conserved()
    pp.next_block_at(accept_end)
    pp.send("closeProposal", pp.round, 0, pp.submitted()[0].data, sender=a.anyone)
    pp.release_unbooked()
    pp.conserved()
    f = pp.market.functions
    assert f.totalLocked().call() == 0 and f.burned().call() == BOND

    assert pp.balance(a.r3) == 0  # no share of any bond
    assert pp.refused("withdraw", sender=a.r3).name == "NothingToWithdraw"
    assert pp.wallet(a.r3) == fake_before - BOND - pp.gas[a.r3]  # strictly worse off
    pp.send("withdraw", sender=a.owner)
    assert pp.wallet(a.owner) == maker_before - pp.gas[a.owner]  # the maker is made whole
    assert pp.balance(a.p1) == CPU + BOND  # the honest node: collateral and deposit back
    # were the maker the fake's creator, the pair would still lose the deposit: nobody but the
    # burn receives it
    assert (pp.wallet(a.r3) + pp.gas[a.r3]) + (pp.wallet(a.owner) + pp.gas[a.owner]) == (
        fake_before + maker_before - BOND)


def test_a_fake_node_that_never_answers_loses_its_deposit_and_everyone_else_is_refunded(
        pp: PP) -> None:
    """p2 is a Sybil node: booked in A, it stays silent, so the part cannot trade. Before the fix
    silence voided the part at no cost; now the deposit is burned when the window runs out."""
    a = pp.acc
    fake_before = pp.wallet(a.p2)
    _, propose_end, *_ = pp.open_proposals()
    pp.propose(A, a.owner)
    pp.next_block_at(propose_end)
    pp.send("settle", pp.round, pp.book(), sender=a.keeper)
    *_, accept_end, _ = pp.deadlines()
    pp.send("acceptRequest", pp.round, 0, sender=a.r1, value=6_000)
    pp.send("acceptRequest", pp.round, 1, sender=a.r2, value=4_000)
    pp.send("acceptNode", pp.round, 0, sender=a.p1, value=2 * CPU)
    pp.next_block_at(accept_end - 1)  # the last second it could still answer
    err = pp.refused("releaseDeposit", pp.round, 1, 1, sender=a.anyone)
    assert (err.name, err.args_["closesAt"]) == ("AcceptanceOpen", accept_end)
    pp.next_block_at(accept_end)
    receipt = pp.send("closeProposal", pp.round, 0, pp.submitted()[0].data, sender=a.anyone)
    closed = pp.market.events.ProposalClosed().process_receipt(receipt, errors=DISCARD)[0]
    assert (closed["args"]["outcome"], closed["args"]["makerCredit"]) == (2, BOND)  # VOIDED
    burned = pp.market.events.DepositForfeited().process_receipt(receipt, errors=DISCARD)
    assert [(x["args"]["side"], x["args"]["index"], x["args"]["account"]) for x in burned] == [
        (1, 1, a.p2)]
    assert pp.deposit(1, 1) == FORFEITED
    assert pp.refused("releaseDeposit", pp.round, 1, 1, sender=a.anyone).name == "NoDeposit"
    pp.release_unbooked()
    pp.conserved()
    f = pp.market.functions
    assert f.totalLocked().call() == 0 and f.burned().call() == BOND
    assert pp.balance(a.p2) == 0
    assert pp.wallet(a.p2) == fake_before - BOND - pp.gas[a.p2]
    assert pp.balance(a.owner) == BOND  # the maker's bond back
    assert pp.balance(a.r1) == 6_000 + BOND and pp.balance(a.r2) == 4_000 + BOND
    assert pp.balance(a.p1) == 2 * CPU + BOND


# A's participants: (side, index); each scenario lists the answers in the order they are sent
# ("silent" sends nothing), or None for a round the keeper never settles.
R1, R2, N0, N1 = (0, 0), (0, 1), (1, 0), (1, 1)
SCENARIOS: dict[str, list[tuple[tuple[int, int], str]] | None] = {
    "never settled": None,
    "all accept": [(N1, "accept"), (R1, "accept"), (N0, "accept"), (R2, "accept")],
    "all silent": [],
    "two accept, two silent": [(R2, "accept"), (N0, "accept")],
    "a rejection first, then the others find the part void": [
        (N1, "reject"), (R1, "accept"), (R2, "reject"), (N0, "accept")],
    "accept, reject, one refused, one silent": [(R1, "accept"), (R2, "reject"),
                                                (N0, "accept")],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_any_answers_release_every_deposit_and_only_failures_are_burned(pp: PP, name: str) -> None:
    """A's four participants answer as the scenario says. Funds are conserved after every step;
    once the proposal is closed and the deposits released nothing is locked; exactly the
    failures are burned (the rejecter, or every silent participant of a part nobody rejected);
    every other participant gets its deposit and any payment back; the maker never loses its
    bond."""
    a = pp.acc
    scenario = SCENARIOS[name]
    _, propose_end, settle_end, *_ = pp.open_proposals()
    pp.propose(A, a.owner)
    account = {R1: a.r1, R2: a.r2, N0: a.p1, N1: a.p2}
    amount = {R1: 6_000, R2: 4_000, N0: 2 * CPU, N1: CPU}  # A's own terms (nothing re-priced)
    answers: dict[tuple[int, int], str] = {}
    rejected = False
    if scenario is None:
        pp.next_block_at(settle_end)
    else:
        pp.next_block_at(propose_end)
        pp.send("settle", pp.round, pp.book(), sender=a.keeper)
        *_, accept_end, _ = pp.deadlines()
        for who, answer in scenario:
            fn = answer + ("Request" if who[0] == 0 else "Node")
            value = amount[who] if answer == "accept" else 0
            if rejected:  # nothing is left to answer
                assert pp.refused(fn, pp.round, who[1], sender=account[who],
                                  value=value).name == "PartVoided"
                continue
            pp.send(fn, pp.round, who[1], sender=account[who], value=value)
            answers[who] = answer
            rejected = answer == "reject"
            pp.conserved()
        if len(answers) == 4 and not rejected:  # traded: prove every job
            for t, n, task in ((0, 0, T0), (0, 1, T0), (1, 0, T1)):
                prover = account[(1, n)]
                pp.send("submitProof", pp.round, t, n, proof(pp, task, prover), sender=prover)
        pp.next_block_at(accept_end)
    pp.send("closeProposal", pp.round, 0, pp.submitted()[0].data, sender=a.anyone)
    pp.conserved()
    pp.release_unbooked()
    pp.conserved()
    f = pp.market.functions
    assert f.totalLocked().call() == 0
    traded = len(answers) == 4 and not rejected
    silent = set(account) - set(answers) if scenario is not None else set()
    failed = {w for w, x in answers.items() if x == "reject"} | (silent if not rejected else set())
    assert f.burned().call() == BOND * len(failed)
    for who, acct in account.items():
        assert pp.deposit(*who) == (FORFEITED if who in failed else RETURNED), who
        if not traded:
            back = amount[who] if answers.get(who) == "accept" else 0
            assert pp.balance(acct) == (0 if who in failed else BOND + back), who
    assert pp.balance(a.owner) == BOND + (6_000 if traded else 0)


def test_the_constructor_refuses_each_invalid_field_and_takes_each_at_its_bound(
        _session_chain: TesterChain, accounts: Accounts) -> None:
    """Each field of ``Config`` alone at its first invalid value is refused with its name; every
    one at its last valid value deploys (found by ``make mutate``: no test reached these)."""
    w3 = _session_chain.w3
    snap = _session_chain.snapshot()
    try:
        verifier = deploy(w3, "ProofOfWorkVerifier", BITS, sender=accounts.owner)
        cfg = PostedPriceConfig(accounts.keeper, verifier.address, PERIOD, PERIOD, PERIOD,
                                PERIOD, PERIOD, BOND, CPU, 8, 8, 8)
        bad = [("keeper", {"keeper": ZERO}), ("verifier", {"verifier": accounts.anyone}),
               ("registerPeriod", {"register_period": 0}),
               ("proposePeriod", {"propose_period": 0}), ("settlePeriod", {"settle_period": 0}),
               ("acceptPeriod", {"accept_period": 0}), ("proofPeriod", {"proof_period": 0}),
               ("bond", {"bond": 0}), ("collateralPerUnit", {"collateral_per_unit": 0}),
               ("maxRequests", {"max_requests": 0}), ("maxRequests", {"max_requests": 257}),
               ("maxNodes", {"max_nodes": 0}), ("maxNodes", {"max_nodes": 257}),
               ("maxProposals", {"max_proposals": 0})]
        for name, change in bad:
            with reverts("InvalidConfig", field=_field(name)):
                deploy_posted_price_market(w3, replace(cfg, **change), accounts.owner)
        widest = replace(cfg, register_period=1, propose_period=1, settle_period=1,
                         accept_period=1, proof_period=1, bond=1, collateral_per_unit=1,
                         max_requests=256, max_nodes=256, max_proposals=1)
        f = deploy_posted_price_market(w3, widest, accounts.owner).functions
        assert (f.maxRequests().call(), f.maxNodes().call(), f.maxProposals().call()) == (
            256, 256, 1)
    finally:
        _session_chain.revert(snap)


def test_registration_takes_each_field_at_its_bound_and_a_round_fills_exactly(pp: PP) -> None:
    """At its largest valid value each registration field is taken and one past it refused; the
    round takes exactly ``maxRequests`` requests and ``maxNodes`` nodes (found by ``make
    mutate``: these boundaries were reached by no test)."""
    a, d = pp.acc, BOND
    r = pp.round = pp.market.functions.roundCount().call()
    pp.send("openRound", sender=a.anyone)
    u32 = 2**32 - 1
    for args, what in (((u32 + 1, 0, 1, 0, T0), "size"), ((1, 0, 0, 0, T0), "replicas"),
                       ((1, 0, 9, 0, T0), "replicas"), ((2, 0, 1, 2 * CPU + 1, T0), "maxPrice")):
        e = pp.refused("registerRequest", r, *args, sender=a.r1, value=d)
        assert (e.name, e.args_) == ("InvalidRegistration", {"field": _field(what)}), e
    pp.send("registerRequest", r, u32, 0, 8, CPU * u32, T0, sender=a.r1, value=d)
    pp.send("registerRequest", r, 2, 0, 1, 2 * CPU, T0, sender=a.r1, value=d)
    for _ in range(6):
        pp.send("registerRequest", r, 1, 0, 1, 0, T0, sender=a.r2, value=d)
    e = pp.refused("registerRequest", r, 1, 0, 1, 0, T0, sender=a.r2, value=d)
    assert (e.name, e.args_) == ("RoundFull", {"round": r, "kind": 0, "cap": 8}), e
    for capacity, what in ((0, "capacity"), (u32 + 1, "capacity")):
        e = pp.refused("registerNode", r, capacity, 1, 0, sender=a.p1, value=d)
        assert (e.name, e.args_) == ("InvalidRegistration", {"field": _field(what)}), e
    pp.send("registerNode", r, u32, 1, 0, sender=a.p1, value=d)
    for _ in range(7):
        pp.send("registerNode", r, 1, 1, 0, sender=a.p2, value=d)
    e = pp.refused("registerNode", r, 1, 1, 0, sender=a.p2, value=d)
    assert (e.name, e.args_) == ("RoundFull", {"round": r, "kind": 1, "cap": 8}), e
