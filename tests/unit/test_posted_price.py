"""Posted-price market makers (docs/mechanisms.md): the seed's running example for each of its four
attempts, every validation refusal, the boundaries of the improvement test, acceptance and the
penalty, and properties on small random markets against enumeration.

The running example: request t1 needs both nodes, t2 either one; no node can run both; values 6
and 4, costs 1 and 1. Amounts here are in hundredths of a token (t1 is worth 600) so that "a tad
less" is a whole number of units.
"""

from __future__ import annotations

import itertools
import pickle
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bridge.errors import ClearingError, InvalidInput
from bridge.mechanisms.posted_price import (
    Book,
    InvalidProposal,
    Market,
    Mode,
    Node,
    Part,
    Penalty,
    Private,
    Proposal,
    ProposalFault,
    Request,
    Verdict,
    best_response,
    check_book,
    check_proposal,
    improve,
    iterate_best_responses,
    margin,
    monopoly,
    optimum,
    run,
    settle,
    surplus,
    valid_allocations,
    violations,
    welfare,
)

T1, T2, N1, N2 = 1, 2, 11, 12
X = frozenset({"x"})
SEED = Market(
    [Request(T1, 1, "x", replicas=2), Request(T2, 1, "x")], [Node(N1, 1, X), Node(N2, 1, X)]
)
TRUTH = Private({T1: 600, T2: 400}, {N1: 100, N2: 100})
A1 = {T1: {N1, N2}}  # t1 on both nodes: welfare 4
A2 = {T2: {N1}}  # t2 on n1: welfare 3
A3 = {T2: {N2}}  # t2 on n2: welfare 3


def truthful(
    alloc: dict[int, set[int]], prices: dict[int, int], rewards: dict[int, int], maker: str = ""
) -> Proposal:
    """A proposal whose tolerances are the true values and costs (the seed's construction)."""
    nodes = {n for ns in alloc.values() for n in ns}
    return Proposal.make(
        alloc,
        prices,
        rewards,
        max_prices={t: TRUTH.values[t] for t in alloc},
        min_rewards={n: TRUTH.costs[n] for n in nodes},
        maker=maker,
    )


# ----------------------------------------------------------------------------------------------
# The instance
# ----------------------------------------------------------------------------------------------


def test_seed_instance_has_exactly_the_four_valid_allocations_and_their_welfare() -> None:
    allocs = list(valid_allocations(SEED))
    assert allocs == [{}, {T2: frozenset({N1})}, {T2: frozenset({N2})}, {T1: frozenset({N1, N2})}]
    assert [welfare(TRUTH, a) for a in allocs] == [0, 300, 300, 400]
    assert optimum(SEED, TRUTH) == (400, {T1: frozenset({N1, N2})})


def test_surplus_is_welfare_minus_margin() -> None:
    # the seed's rule with margin 1 token: welfare 4 of which participants keep 3
    assert margin({T1: 600}, {N1: 250, N2: 250}) == 100
    assert surplus(TRUTH, {T1: frozenset({N1, N2})}, {T1: 600}, {N1: 250, N2: 250}) == 300


# ----------------------------------------------------------------------------------------------
# Attempt 1: one market maker
# ----------------------------------------------------------------------------------------------


def test_attempt1_monopolist_extracts_all_welfare() -> None:
    p = monopoly(SEED, TRUTH, maker="M")
    assert dict(p.allocation) == {T1: frozenset({N1, N2})}
    assert dict(p.prices) == {T1: 600} and dict(p.rewards) == {N1: 100, N2: 100}
    assert p.margin == welfare(TRUTH, p.allocation) == 400
    book, _ = run(SEED, [p])
    s = settle(TRUTH, book, gamma=50)
    assert s.maker_margins == {"M": 400} and s.welfare == 400
    assert surplus(TRUTH, book.allocation, book.prices, book.rewards) == 0  # participants keep 0
    # one unit more and t1 refuses: the part is void and the maker pays γ to t1
    greedy = Proposal.make(A1, {T1: 601}, {N1: 100, N2: 100}, maker="M")
    s = settle(TRUTH, run(SEED, [greedy])[0], gamma=50)
    assert s.traded == () and s.rejected_requests == {T1} and s.penalties == {"M": 50}
    assert s.request_compensation == {T1: 50} and s.maker_margins == {} and s.welfare == 0


# ----------------------------------------------------------------------------------------------
# Attempt 2: lowest margin wins
# ----------------------------------------------------------------------------------------------


def test_attempt2_fixed_allocation_competition_drives_margin_down() -> None:
    alice = Proposal.make(A1, {T1: 600}, {N1: 100, N2: 100}, maker="alice")
    bob = Proposal.make(A1, {T1: 600}, {N1: 100, N2: 101}, maker="bob")  # margin 399
    book, steps = run(SEED, [alice, bob], mode=Mode.MIN_MARGIN)
    assert [s.verdict for s in steps] == [Verdict.FIRST, Verdict.REPLACED]
    assert book.proposals == (bob,)
    same = Proposal.make(A1, {T1: 600}, {N1: 100, N2: 101}, maker="alice")  # equal margin
    assert improve(SEED, book, same, mode=Mode.MIN_MARGIN)[1].verdict is Verdict.KEPT


def test_attempt2_minimum_margin_can_end_in_the_null_allocation() -> None:
    bob = Proposal.make({}, {}, {}, maker="bob")  # nothing allocated, margin 0
    assert violations(SEED, bob) == ()
    book, _ = run(SEED, [bob], mode=Mode.MIN_MARGIN)
    # nothing Alice can post beats it: every valid proposal has margin >= 0
    for alloc in valid_allocations(SEED):
        nodes = {n for ns in alloc.values() for n in ns}
        zero = Proposal.make(alloc, {t: 0 for t in alloc}, {n: 0 for n in nodes}, maker="alice")
        assert improve(SEED, book, zero, mode=Mode.MIN_MARGIN)[1].verdict is Verdict.KEPT
    below = Proposal.make(A1, {T1: 0}, {N1: 1, N2: 0}, maker="alice")  # margin −1
    assert improve(SEED, book, below, mode=Mode.MIN_MARGIN)[1].verdict is Verdict.INVALID
    assert book.allocation == {} and settle(TRUTH, book, gamma=50).welfare == 0


# ----------------------------------------------------------------------------------------------
# Attempt 3: Pareto improvements for the conflicting participants, no tolerances
# ----------------------------------------------------------------------------------------------


def test_attempt3_seed_challenge_alpha1_beats_alpha2_at_half_a_token() -> None:
    # b: t2 on n1, 4 from t2, 4 to n1 (margin 0); i: t1 on both, n1 gets 4½, n2 gets 1, t1 pays 6
    b = Proposal.make(A2, {T2: 400}, {N1: 400}, maker="b")
    i = Proposal.make(A1, {T1: 600}, {N1: 450, N2: 100}, maker="i")
    book, steps = run(SEED, [b, i], mode=Mode.PARETO)
    assert steps[1].verdict is Verdict.REPLACED and steps[1].delta == 50
    assert book.proposals == (i,) and i.margin == 50


def _rules_for_alpha1(step: int) -> list[tuple[int, int, int]]:
    """Every individually rational, budget-balanced (π(t1), ϕ(n1), ϕ(n2)) on a grid."""
    return [
        (p, r1, r2)
        for p in range(0, 601, step)
        for r1 in range(100, 601, step)
        for r2 in range(100, 601, step)
        if r1 + r2 <= p
    ]


def test_attempt3_every_alpha1_rule_loses_to_alpha2_or_alpha3() -> None:
    rules = _rules_for_alpha1(25)
    assert len(rules) > 100
    for p, r1, r2 in rules:
        b = Proposal.make(A1, {T1: p}, {N1: r1, N2: r2}, maker="b")
        # the cheaper node is paid at most 3 tokens: offer it one unit more for serving t2 alone
        node = N1 if r1 <= r2 else N2
        reward = min(r1, r2) + 1
        i = Proposal.make({T2: {node}}, {T2: 400}, {node: reward}, maker="i")
        _, steps = run(SEED, [b, i], mode=Mode.PARETO)
        assert steps[1].verdict is Verdict.REPLACED, (p, r1, r2)
        assert i.margin >= 99  # "a margin of at least 1" token, less the one unit of strictness


def test_attempt3_every_alpha2_rule_loses_to_alpha1() -> None:
    for price in range(100, 401, 10):
        for r in range(100, price + 1, 10):
            b = Proposal.make(A2, {T2: price}, {N1: r}, maker="b")
            i = Proposal.make(A1, {T1: 600}, {N1: r + 1, N2: 100}, maker="i")
            _, steps = run(SEED, [b, i], mode=Mode.PARETO)
            assert steps[1].verdict is Verdict.REPLACED and i.margin >= 99


def test_attempt3_best_responses_cycle_between_alpha1_and_a_single_node() -> None:
    d = iterate_best_responses(SEED, TRUTH, mode=Mode.PARETO)
    assert d.cycled and not d.converged and not d.reached_optimum
    seen = {frozenset(s.proposal.allocation) for s in d.history}
    assert frozenset({T1}) in seen and frozenset({T2}) in seen
    # the cycle keeps a margin of about a token (the seed: "at least 1")
    tail = [s.proposal.margin for s in d.history[-20:]]
    assert min(tail) >= 99


# ----------------------------------------------------------------------------------------------
# Attempt 4: with tolerances
# ----------------------------------------------------------------------------------------------


def _ir_challengers(step: int) -> list[Proposal]:
    """Every individually rational, budget-balanced proposal on α2, α3 and α1 (grid ``step``)."""
    out = []
    for node in (N1, N2):
        for price in range(0, 401, step):
            for r in range(100, price + 1, step):
                out.append(truthful({T2: {node}}, {T2: price}, {node: r}, maker="i"))
    for p, r1, r2 in _rules_for_alpha1(step * 2):
        out.append(truthful(A1, {T1: p}, {N1: r1, N2: r2}, maker="i"))
    return out


def test_attempt4_welfare_maximizing_allocation_survives_every_challenge() -> None:
    incumbent = truthful(A1, {T1: 600}, {N1: 300, N2: 300}, maker="b")  # margin 0
    book, _ = run(SEED, [incumbent])
    challengers = _ir_challengers(20)
    assert len(challengers) > 300
    verdicts = set()
    for i in challengers:  # one after the other: re-pricings accumulate
        book, step = improve(SEED, book, i)
        verdicts.add(step.verdict)
        assert step.verdict in (Verdict.KEPT, Verdict.KEPT_REPRICED), i
        assert book.allocation == {T1: frozenset({N1, N2})} and book.margin == 0
        assert book.proposals == (incumbent,)
    assert verdicts == {Verdict.KEPT, Verdict.KEPT_REPRICED}
    # every re-pricing stayed within the truth: everyone still accepts
    assert settle(TRUTH, book, gamma=50).traded == book.parts


def test_attempt4_the_same_alpha2_challenge_is_absorbed_by_repricing() -> None:
    # Attempt 3's winning move against α1 at (6; 3, 3) only re-prices the incumbent now
    b = truthful(A1, {T1: 600}, {N1: 300, N2: 300}, maker="b")
    i = truthful(A2, {T2: 400}, {N1: 301}, maker="i")
    assert run(SEED, [b, i], mode=Mode.PARETO)[1][1].verdict is Verdict.REPLACED
    book, steps = run(SEED, [b, i])
    assert steps[1].verdict is Verdict.KEPT_REPRICED
    assert (steps[1].delta, steps[1].slack) == (1, 200)  # n2 can go down from 3 to its cost 1
    assert book.prices == {T1: 600} and book.rewards == {N1: 301, N2: 299}
    assert book.margin_of("b") == 0


def test_attempt4_best_responses_converge_on_alpha1_with_near_zero_margin() -> None:
    d = iterate_best_responses(SEED, TRUTH)  # starts from the monopolist's proposal
    assert d.converged and not d.cycled and d.reached_optimum
    assert d.book.allocation == {T1: frozenset({N1, N2})}
    assert 0 <= d.margin <= 3  # three participants, each strictly better by one unit per step
    assert d.history[0].proposal.margin == 400
    # from the worse allocation α2 at full margin it also ends on α1
    start = truthful(A2, {T2: 400}, {N1: 100}, maker="A")
    d2 = iterate_best_responses(SEED, TRUTH, start=start)
    assert d2.reached_optimum and d2.book.allocation == {T1: frozenset({N1, N2})}


# ----------------------------------------------------------------------------------------------
# Boundaries of the improvement test
# ----------------------------------------------------------------------------------------------

# incumbent α1: t1 pays 5 (may go to 6), nodes get 2 each (may go down to 1): margin 1
SLACKY = Proposal.make(
    A1,
    {T1: 500},
    {N1: 200, N2: 200},
    max_prices={T1: 600},
    min_rewards={N1: 100, N2: 100},
    maker="b",
)


def _challenge_n1(reward: int, price: int = 600) -> Proposal:
    # the mechanism never sees values: a price above t2's value is fine for the test
    return Proposal.make(A2, {T2: price}, {N1: reward}, maker="i")


def test_slack_equal_to_improvement_keeps_the_incumbent() -> None:
    # ∇ = (6 − 5) + (2 − 1) = 2 tokens; Δ = ϕ_i(n1) − 2 tokens
    book, steps = run(SEED, [SLACKY, _challenge_n1(400)])
    assert (steps[1].delta, steps[1].slack) == (200, 200)
    assert steps[1].verdict is Verdict.KEPT_REPRICED
    assert book.prices == {T1: 600} and book.rewards == {N1: 400, N2: 100}
    assert book.margin == SLACKY.margin == 100


def test_improvement_one_unit_above_slack_replaces() -> None:
    book, steps = run(SEED, [SLACKY, _challenge_n1(401)])
    assert (steps[1].delta, steps[1].slack) == (201, 200)
    assert steps[1].verdict is Verdict.REPLACED and steps[1].displaced == (SLACKY,)
    assert book.allocation == {T2: frozenset({N1})}


def test_repricing_takes_requests_first_then_nodes_by_id() -> None:
    book, _ = run(SEED, [SLACKY, _challenge_n1(350)])  # Δ = 150: t1 gives 100, n2 gives 50
    assert book.prices == {T1: 600} and book.rewards == {N1: 350, N2: 150}
    book, _ = run(SEED, [SLACKY, _challenge_n1(250)])  # Δ = 50: t1 alone
    assert book.prices == {T1: 550} and book.rewards == {N1: 250, N2: 200}


def test_equal_terms_for_one_conflicting_participant_is_not_an_improvement() -> None:
    # n1 offered exactly its current 2 tokens: not strictly better, whatever the rest
    _, steps = run(SEED, [SLACKY, _challenge_n1(200)])
    assert steps[1].verdict is Verdict.KEPT and steps[1].delta is None
    _, steps = run(SEED, [SLACKY, _challenge_n1(201)])
    assert steps[1].verdict is Verdict.KEPT_REPRICED and steps[1].delta == 1
    # on α1 itself: t1 cheaper but n2 unchanged → kept; both nodes better too → considered
    same = Proposal.make(A1, {T1: 499}, {N1: 201, N2: 200}, maker="i")
    assert run(SEED, [SLACKY, same])[1][1].verdict is Verdict.KEPT
    better = Proposal.make(A1, {T1: 499}, {N1: 201, N2: 201}, maker="i")
    _, steps = run(SEED, [SLACKY, better])
    assert steps[1].verdict is Verdict.REPLACED and (steps[1].delta, steps[1].slack) == (3, 0)


def test_equal_price_for_a_conflicting_request_is_not_an_improvement() -> None:
    # both nodes strictly better, but t1 pays exactly what it pays now
    same_price = Proposal.make(A1, {T1: 500}, {N1: 201, N2: 201}, maker="i")
    assert run(SEED, [SLACKY, same_price])[1][1].verdict is Verdict.KEPT
    b = Proposal.make(A2, {T2: 300}, {N1: 200}, min_rewards={N1: 100})
    assert run(SEED, [b, Proposal.make(A3, {T2: 300}, {N2: 0})])[1][1].verdict is Verdict.KEPT
    assert run(SEED, [b, Proposal.make(A3, {T2: 299}, {N2: 0})])[1][1].verdict is (
        Verdict.KEPT_REPRICED
    )


def test_repricing_takes_slack_in_ascending_id_order_within_requests_and_within_nodes() -> None:
    market = Market(
        [Request(1, 1, "x"), Request(2, 1, "x"), Request(3, 1, "x", replicas=2)],
        [Node(11, 1, X), Node(12, 1, X), Node(13, 2, X), Node(14, 2, X)],
    )
    # two requests with slack 10 each; the challenger shares only nodes 13 and 14
    b = Proposal.make(
        {1: {13}, 2: {14}}, {1: 50, 2: 50}, {13: 20, 14: 20}, max_prices={1: 60, 2: 60}
    )
    i = Proposal.make({3: {13, 14}}, {3: 100}, {13: 26, 14: 26})
    book, steps = run(market, [b, i])
    assert steps[1].verdict is Verdict.KEPT_REPRICED and steps[1].delta == 12
    assert book.prices == {1: 60, 2: 52}
    # two nodes with slack 10 each; the challenger shares only the request
    b2 = Proposal.make({3: {11, 12}}, {3: 100}, {11: 40, 12: 40}, min_rewards={11: 30, 12: 30})
    i2 = Proposal.make({3: {13, 14}}, {3: 85}, {13: 10, 14: 10})
    book, steps = run(market, [b2, i2])
    assert (steps[1].delta, steps[1].slack) == (15, 20)
    assert book.prices == {3: 85} and book.rewards == {11: 30, 12: 35}


def test_request_conflict_counts_price_improvement() -> None:
    # t2 on n1 at 3, then t2 on n2 at 2.99: the request is shared, the nodes are not
    b = Proposal.make(A2, {T2: 300}, {N1: 200}, max_prices={T2: 300}, min_rewards={N1: 150})
    i = Proposal.make(A3, {T2: 299}, {N2: 100})
    book, steps = run(SEED, [b, i])
    assert (steps[1].delta, steps[1].slack) == (1, 50)  # n1 may drop from 2 to 1.5
    assert steps[1].verdict is Verdict.KEPT_REPRICED
    assert book.prices == {T2: 299} and book.rewards == {N1: 199}
    at_slack = Proposal.make(A3, {T2: 250}, {N2: 100})  # Δ = 50 = ∇
    assert run(SEED, [b, at_slack])[1][1].verdict is Verdict.KEPT_REPRICED
    above = Proposal.make(A3, {T2: 249}, {N2: 100})  # Δ = 51 > ∇
    assert run(SEED, [b, above])[1][1].verdict is Verdict.REPLACED


# ----------------------------------------------------------------------------------------------
# Specialization: non-conflicting proposals merge
# ----------------------------------------------------------------------------------------------

WIDE = Market(
    [Request(1, 1, "x"), Request(2, 1, "y"), Request(3, 1, "x", replicas=2)],
    [Node(11, 1, X), Node(12, 1, frozenset({"y"})), Node(13, 1, X)],
)


def test_non_conflicting_proposals_merge_and_a_challenger_faces_only_its_conflicts() -> None:
    px = Proposal.make({1: {11}}, {1: 50}, {11: 40}, max_prices={1: 60}, maker="x")
    py = Proposal.make({2: {12}}, {2: 30}, {12: 20}, min_rewards={12: 10}, maker="y")
    book, steps = run(WIDE, [px, py])
    assert [s.verdict for s in steps] == [Verdict.FIRST, Verdict.MERGED]
    assert len(book.parts) == 2 and book.margin == 20
    # request 3 on nodes 11 and 13 shares node 11 with px only; py's slack (10) does not count
    ch = Proposal.make({3: {11, 13}}, {3: 100}, {11: 45, 13: 50}, maker="z")
    kept, step = improve(WIDE, book, ch)
    assert step.verdict is Verdict.KEPT_REPRICED and (step.delta, step.slack) == (5, 10)
    assert kept.prices == {1: 55, 2: 30} and kept.rewards == {11: 45, 12: 20}
    assert len(kept.parts) == 2 and kept.parts[1] == book.parts[1]
    ch2 = Proposal.make({3: {11, 13}}, {3: 100}, {11: 51, 13: 49}, maker="z")
    replaced, step = improve(WIDE, book, ch2)
    assert step.verdict is Verdict.REPLACED and (step.delta, step.slack) == (11, 10)
    assert step.displaced == (px,) and replaced.proposals == (py, ch2)
    # with merge off a non-conflicting proposal is dropped
    _, steps = run(WIDE, [px, py], merge=False)
    assert steps[1].verdict is Verdict.DISCARDED


def test_joint_repricing_links_conflicting_parts_and_keeps_each_makers_margin() -> None:
    market = Market(
        [Request(1, 1, "x"), Request(2, 1, "x"), Request(3, 1, "x", replicas=2)],
        [Node(11, 1, X), Node(12, 1, X)],
    )
    px = Proposal.make({1: {11}}, {1: 50}, {11: 40}, max_prices={1: 50}, maker="x")
    py = Proposal.make({2: {12}}, {2: 30}, {12: 20}, max_prices={2: 90}, maker="y")
    # request 3 needs both nodes: it conflicts with both parts through n11 and n12
    ch = Proposal.make({3: {11, 12}}, {3: 100}, {11: 45, 12: 25}, maker="z")
    book, steps = run(market, [px, py, ch])
    # Δ = (45 − 40) + (25 − 20) = 10; ∇ = slack of t1 (0) + t2 (60) = 60
    assert (steps[2].delta, steps[2].slack) == (10, 60)
    assert steps[2].verdict is Verdict.KEPT_REPRICED
    assert len(book.parts) == 1 and book.parts[0].proposals == (px, py)
    assert book.prices == {1: 50, 2: 40} and book.rewards == {11: 45, 12: 25}
    assert book.margin_of("x") == 10 and book.margin_of("y") == 10 and book.margin == 20
    # a rejection by y's request voids the linked part; only y pays γ
    s = settle(Private({1: 50, 2: 39, 3: 0}, {11: 0, 12: 0}), book, gamma=7)
    assert s.voided == book.parts and s.penalties == {"y": 7} and s.request_compensation == {2: 7}


# ----------------------------------------------------------------------------------------------
# Validation: one refusal per reason, and the boundaries
# ----------------------------------------------------------------------------------------------

OK = Proposal.make(
    A1, {T1: 500}, {N1: 200, N2: 200}, max_prices={T1: 600}, min_rewards={N1: 100, N2: 100}
)


def _with(**changes: object) -> Proposal:
    fields = {
        "allocation": {T1: {N1, N2}},
        "prices": {T1: 500},
        "rewards": {N1: 200, N2: 200},
        "max_prices": {T1: 600},
        "min_rewards": {N1: 100, N2: 100},
    }
    fields.update(changes)
    return Proposal.make(
        fields["allocation"],
        fields["prices"],
        fields["rewards"],  # type: ignore[arg-type]
        max_prices=fields["max_prices"],
        min_rewards=fields["min_rewards"],
    )  # type: ignore[arg-type]


TWO = Market([Request(1, 2, "x"), Request(2, 1, "y")], [Node(11, 3, X), Node(12, 2, X)])


@pytest.mark.parametrize(
    ("market", "proposal", "fault", "words"),
    [
        (SEED, _with(prices={T1: 500.0}), ProposalFault.NOT_AN_INT, "price of request 1"),
        (SEED, _with(rewards={N1: True, N2: 200}), ProposalFault.NOT_AN_INT, "reward of node 11"),
        (SEED, _with(min_rewards={N1: -1, N2: 100}), ProposalFault.NEGATIVE_AMOUNT, "min reward"),
        (SEED, _with(allocation={9: {N1, N2}}), ProposalFault.UNKNOWN_REQUEST, "request 9"),
        (SEED, _with(allocation={T1: {N1, 99}}), ProposalFault.UNKNOWN_NODE, "node 99"),
        (SEED, _with(prices={T1: 500, T2: 0}), ProposalFault.PRICE_KEYS, "extra [2]"),
        (SEED, _with(max_prices={}), ProposalFault.PRICE_KEYS, "missing [1]"),
        (SEED, _with(rewards={N1: 400}), ProposalFault.REWARD_KEYS, "missing [12]"),
        (
            SEED,
            _with(allocation={T1: {N1}}, rewards={N1: 400}, min_rewards={N1: 1}),
            ProposalFault.REPLICAS,
            "needs 2 nodes, got 1",
        ),
        (TWO, Proposal.make({2: {11}}, {2: 5}, {11: 5}), ProposalFault.TAG, "tag 'y'"),
        (
            SEED,
            Proposal.make({T1: {N1, N2}, T2: {N1}}, {T1: 600, T2: 400}, {N1: 300, N2: 300}),
            ProposalFault.CAPACITY,
            "node 11 gets 2 units, capacity 1",
        ),
        (SEED, _with(max_prices={T1: 499}), ProposalFault.MAX_PRICE_BELOW_PRICE, "499 < price 500"),
        (
            SEED,
            _with(min_rewards={N1: 201, N2: 100}),
            ProposalFault.MIN_REWARD_ABOVE_REWARD,
            "201 > reward 200",
        ),
        (
            SEED,
            _with(prices={T1: 399}, max_prices={T1: 399}),
            ProposalFault.NEGATIVE_MARGIN,
            "margin is -1",
        ),
    ],
)
def test_validation_refuses_with_a_typed_reason(
    market: Market, proposal: Proposal, fault: ProposalFault, words: str
) -> None:
    found = violations(market, proposal)
    assert found and found[0].fault is fault and words in found[0].detail
    with pytest.raises(InvalidProposal, match=re.escape(words)) as err:
        check_proposal(market, proposal)
    assert err.value.fault is fault and err.value.fix in str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, ClearingError)
    again = pickle.loads(pickle.dumps(err.value))
    assert again.fault is fault and str(again) == str(err.value)
    book, step = improve(market, Book(), proposal)
    assert step.verdict is Verdict.INVALID and step.violation == found[0] and book == Book()


def test_every_fault_has_a_fix_and_a_test() -> None:
    from bridge.mechanisms.posted_price import FIXES

    assert set(FIXES) == set(ProposalFault)


def test_validation_boundaries_are_inclusive() -> None:
    assert violations(SEED, OK) == ()
    # tolerance equal to the term, margin exactly zero, capacity exactly full
    tight = _with(prices={T1: 400}, max_prices={T1: 400}, min_rewards={N1: 200, N2: 200})
    assert tight.margin == 0 and violations(SEED, tight) == ()
    full = Proposal.make({1: {11}, 2: {12}}, {1: 0, 2: 0}, {11: 0, 12: 0})
    assert (
        violations(
            Market([Request(1, 3, "x"), Request(2, 2, "x")], [Node(11, 3, X), Node(12, 2, X)]), full
        )
        == ()
    )
    over = Market([Request(1, 3, "x"), Request(2, 2, "x")], [Node(11, 2, X), Node(12, 2, X)])
    assert [v.fault for v in violations(over, full)] == [ProposalFault.CAPACITY]
    # amounts of zero are fine, −1 is not
    zero = Proposal.make(A1, {T1: 0}, {N1: 0, N2: 0})
    assert violations(SEED, zero) == ()


def test_market_and_private_refuse_malformed_input() -> None:
    with pytest.raises(InvalidInput, match="size"):
        Market([Request(1, 0, "x")], [])
    with pytest.raises(InvalidInput, match="replicas"):
        Market([Request(1, 1, "x", replicas=0)], [])
    with pytest.raises(InvalidInput, match="request ids must be unique"):
        Market([Request(1, 1, "x"), Request(1, 2, "x")], [])
    with pytest.raises(InvalidInput, match="capacity"):
        Market([], [Node(1, -1, X)])
    with pytest.raises(InvalidInput, match="frozenset"):
        Market([], [Node(1, 1, {"x"})])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="value of 1"):
        Private({1: -1}, {})
    with pytest.raises(InvalidInput, match="gamma"):
        settle(TRUTH, Book(), gamma=-1)
    with pytest.raises(InvalidInput, match="Penalty"):
        settle(TRUTH, Book(), gamma=1, penalty="rejecter")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# Acceptance and the penalty
# ----------------------------------------------------------------------------------------------


def test_acceptance_boundaries_price_equal_value_and_reward_equal_cost_accept() -> None:
    at = Proposal.make(A1, {T1: 600}, {N1: 100, N2: 100}, maker="m")
    assert settle(TRUTH, run(SEED, [at])[0], gamma=9).traded != ()
    low = Proposal.make(A1, {T1: 600}, {N1: 99, N2: 101}, maker="m")
    s = settle(TRUTH, run(SEED, [low])[0], gamma=9)
    assert s.traded == () and s.rejected_nodes == {N1} and s.node_compensation == {N1: 9}


def test_penalty_is_split_with_the_remainder_to_the_first_rejecting_participant() -> None:
    p = Proposal.make(A1, {T1: 900}, {N1: 50, N2: 60}, maker="m")  # all three reject
    s = settle(TRUTH, run(SEED, [p])[0], gamma=10)
    assert s.penalties == {"m": 10}
    assert s.request_compensation == {T1: 4} and s.node_compensation == {N1: 3, N2: 3}
    s = settle(TRUTH, run(SEED, [p])[0], gamma=2)
    assert s.request_compensation == {T1: 2 // 3 + 2 % 3} and s.node_compensation == {N1: 0, N2: 0}


def test_on_chain_rule_burns_the_first_rejecters_deposit_and_pays_nobody() -> None:
    """``Penalty.REJECTER`` (``PostedPriceMarket``): the maker pays nothing, the rejecter
    forfeits γ, and nobody receives it, so a fake participant cannot profit by rejecting."""
    greedy = Proposal.make(A1, {T1: 601}, {N1: 100, N2: 100}, maker="M")
    s = settle(TRUTH, run(SEED, [greedy])[0], gamma=50, penalty=Penalty.REJECTER)
    assert s.traded == () and s.rejected_requests == {T1}
    assert s.request_forfeits == {T1: 50} and s.node_forfeits == {}
    assert s.penalties == {} and s.request_compensation == {} and s.node_compensation == {}
    # all three would reject: the first in answer order (requests, then nodes) voids the part,
    # the others find it void and keep their deposits
    p = Proposal.make(A1, {T1: 900}, {N1: 50, N2: 60}, maker="m")
    s = settle(TRUTH, run(SEED, [p])[0], gamma=10, penalty=Penalty.REJECTER)
    assert s.request_forfeits == {T1: 10} and s.node_forfeits == {}
    low = Proposal.make(A1, {T1: 600}, {N1: 99, N2: 98}, maker="m")
    s = settle(TRUTH, run(SEED, [low])[0], gamma=10, penalty=Penalty.REJECTER)
    assert s.node_forfeits == {N1: 10} and s.request_forfeits == {}
    # the seed's rule is still the default
    assert settle(TRUTH, run(SEED, [low])[0], gamma=10).penalties == {"m": 10}


def test_a_rejected_part_does_not_void_the_others() -> None:
    px = Proposal.make({1: {11}}, {1: 50}, {11: 40}, maker="x")
    py = Proposal.make({2: {12}}, {2: 30}, {12: 20}, maker="y")
    book, _ = run(WIDE, [px, py])
    s = settle(Private({1: 49, 2: 30, 3: 0}, {11: 0, 12: 20, 13: 0}), book, gamma=5)
    assert s.voided == (book.parts[0],) and s.traded == (book.parts[1],)
    assert s.charges == {2: 30} and s.payouts == {12: 20} and s.maker_margins == {"y": 10}
    assert s.penalties == {"x": 5} and s.margin == 10 and s.welfare == 30 - 20


def test_check_book_catches_a_margin_that_moved() -> None:
    bad = Book((Part((SLACKY,), {T1: 500}, {N1: 200, N2: 199}),))
    with pytest.raises(ClearingError, match="margin"):
        check_book(bad)
    outside = Book((Part((SLACKY,), {T1: 601}, {N1: 200, N2: 301}),))
    with pytest.raises(ClearingError, match="outside"):
        check_book(outside)


# ----------------------------------------------------------------------------------------------
# Properties on small random markets
# ----------------------------------------------------------------------------------------------

TAGS = ("a", "b")


@st.composite
def markets(draw: st.DrawFn) -> tuple[Market, Private]:
    nodes = [
        Node(
            10 + j,
            draw(st.integers(0, 3)),
            frozenset(draw(st.sets(st.sampled_from(TAGS), min_size=1))),
        )
        for j in range(draw(st.integers(1, 3)))
    ]
    requests = [
        Request(i, draw(st.integers(1, 2)), draw(st.sampled_from(TAGS)), draw(st.integers(1, 2)))
        for i in range(draw(st.integers(1, 3)))
    ]
    private = Private(
        {r.id: draw(st.integers(0, 30)) for r in requests},
        {n.id: draw(st.integers(0, 10)) for n in nodes},
    )
    return Market(requests, nodes), private


def _brute_force_allocations(market: Market) -> list[dict[int, frozenset[int]]]:
    options = []
    for _ in market.requests:
        subsets = [
            frozenset(c)
            for k in range(len(market.nodes) + 1)
            for c in itertools.combinations([n.id for n in market.nodes], k)
            if c
        ]
        options.append([None, *subsets])
    out = []
    for choice in itertools.product(*options):
        alloc = {r.id: ns for r, ns in zip(market.requests, choice, strict=True) if ns is not None}
        nodes = {n for ns in alloc.values() for n in ns}
        zero = Proposal.make(alloc, {t: 0 for t in alloc}, {n: 0 for n in nodes})
        if violations(market, zero) == ():
            out.append(alloc)
    return out


@settings(max_examples=60, deadline=None)
@given(markets())
def test_valid_allocations_match_brute_force_over_validation(mp: tuple[Market, Private]) -> None:
    market, _ = mp
    key = lambda a: sorted((t, sorted(ns)) for t, ns in a.items())  # noqa: E731
    got = sorted(map(key, valid_allocations(market)))
    assert got == sorted(map(key, _brute_force_allocations(market)))


@st.composite
def ir_proposal(draw: st.DrawFn, market: Market, private: Private, maker: str) -> Proposal:
    """An individually rational proposal with truthful tolerances on a random valid allocation
    of non-negative welfare: start from π = v, ϕ = c (margin = welfare) and hand a random part
    of the welfare back to random participants."""
    allocs = [a for a in valid_allocations(market) if welfare(private, a) >= 0]
    alloc = draw(st.sampled_from(allocs))
    nodes = sorted({n for ns in alloc.values() for n in ns})
    prices = {t: private.values[t] for t in alloc}
    rewards = {n: private.costs[n] for n in nodes}
    give = draw(st.integers(0, welfare(private, alloc)))
    for t in sorted(alloc):
        cut = draw(st.integers(0, min(give, prices[t])))
        prices[t] -= cut
        give -= cut
    for n in nodes:
        extra = give if n == nodes[-1] else draw(st.integers(0, give))
        rewards[n] += extra
        give -= extra
    return Proposal.make(
        alloc,
        prices,
        rewards,
        max_prices={t: private.values[t] for t in alloc},
        min_rewards={n: private.costs[n] for n in nodes},
        maker=maker,
    )


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_replacement_needs_strictly_higher_surplus_with_truthful_tolerances(
    data: st.DataObject,
) -> None:
    """The seed's claim, one direction: an incumbent posting its true values and costs as
    tolerances is only replaced by an individually rational challenger with more surplus."""
    market, private = data.draw(markets())
    b = data.draw(ir_proposal(market, private, "b"))
    i = data.draw(ir_proposal(market, private, "i"))
    book, _ = run(market, [b])
    after, step = improve(market, book, i)
    s_b = surplus(private, b.allocation, b.prices, b.rewards)
    s_i = surplus(private, i.allocation, i.prices, i.rewards)
    if step.verdict is Verdict.REPLACED:
        assert s_i > s_b
    if step.verdict is Verdict.KEPT_REPRICED:
        assert surplus(private, after.allocation, after.prices, after.rewards) == s_b
        assert settle(private, after, gamma=1).traded == after.parts  # still acceptable


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_optimum_at_zero_margin_survives_every_challenger(data: st.DataObject) -> None:
    market, private = data.draw(markets())
    w, alloc = optimum(market, private)
    nodes = sorted({n for ns in alloc.values() for n in ns})
    assume(nodes)
    # zero margin: requests pay their value, the welfare goes to the first node
    rewards = {n: private.costs[n] for n in nodes}
    rewards[nodes[0]] += w
    b = Proposal.make(
        alloc,
        {t: private.values[t] for t in alloc},
        rewards,
        max_prices={t: private.values[t] for t in alloc},
        min_rewards={n: private.costs[n] for n in nodes},
        maker="b",
    )
    book, _ = run(market, [b])
    for k in range(5):
        i = data.draw(ir_proposal(market, private, f"i{k}"))
        book, step = improve(market, book, i)
        assert step.verdict is not Verdict.REPLACED
        assert welfare(private, book.allocation) == w


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_posted_books_never_lose_money_and_settlement_conserves_it(data: st.DataObject) -> None:
    market, private = data.draw(markets())
    mode = data.draw(st.sampled_from([Mode.TOLERANCES, Mode.PARETO]))
    # participants' private values may differ from what the makers assumed: rejections happen
    other = Private(
        {t: data.draw(st.integers(0, 30)) for t in private.values},
        {n: data.draw(st.integers(0, 10)) for n in private.costs},
    )
    book = Book()
    for k in range(4):
        book, _ = improve(
            market, book, data.draw(ir_proposal(market, private, f"m{k % 2}")), mode=mode
        )
        assert book.margin >= 0
        assert book.margin == sum(p.margin for p in book.proposals)
    gamma = data.draw(st.integers(0, 20))
    penalty = data.draw(st.sampled_from(list(Penalty)))
    s = settle(other, book, gamma, penalty=penalty)
    assert s.margin >= 0 and s.margin == sum(s.maker_margins.values())
    forfeits = sum(s.request_forfeits.values()) + sum(s.node_forfeits.values())
    paid_in = sum(s.charges.values()) + sum(s.penalties.values()) + forfeits
    paid_out = (
        sum(s.payouts.values())
        + sum(s.maker_margins.values())
        + sum(s.request_compensation.values())
        + sum(s.node_compensation.values())
        + forfeits  # burned
    )
    assert paid_in == paid_out
    if penalty is Penalty.REJECTER:  # nobody is paid for a void part; one γ per void part
        assert s.penalties == s.request_compensation == s.node_compensation == {}
        assert forfeits == gamma * len(s.voided)
        assert set(s.request_forfeits) <= s.rejected_requests
        assert set(s.node_forfeits) <= s.rejected_nodes
    else:
        assert forfeits == 0
    for t, x in s.charges.items():
        assert x <= other.values[t]
    for n, x in s.payouts.items():
        assert x >= other.costs[n]


@settings(max_examples=25, deadline=None)
@given(markets())
def test_surplus_never_decreases_along_best_responses_with_tolerances(
    mp: tuple[Market, Private],
) -> None:
    market, private = mp
    d = iterate_best_responses(market, private, ("A", "B", "C"), max_steps=500)
    assert not d.cycled
    last = -1
    for k in range(1, len(d.history) + 1):
        book, _ = run(market, [s.proposal for s in d.history[:k]])
        s = surplus(private, book.allocation, book.prices, book.rewards)
        assert s >= last
        last = s
    if d.converged:
        assert all(best_response(market, private, d.book, m) is None for m in ("A", "B", "C"))


UNIT = Private({T1: 6, T2: 4}, {N1: 1, N2: 1})  # the seed's example in whole tokens
PAIR = Market([Request(1, 1, "x"), Request(2, 1, "x")], [Node(11, 1, X), Node(12, 1, X)])


def _every_ir_proposal(market: Market, private: Private, maker: str) -> list[Proposal]:
    """Every valid, individually rational proposal with truthful tolerances (small markets)."""
    top = max(private.values.values())
    out = []
    for alloc in valid_allocations(market):
        if not alloc:
            continue
        ts = sorted(alloc)
        ns = sorted({n for nodes in alloc.values() for n in nodes})
        for prices in itertools.product(*[range(private.values[t] + 1) for t in ts]):
            for rewards in itertools.product(*[range(private.costs[n], top + 1) for n in ns]):
                if sum(prices) >= sum(rewards):
                    out.append(
                        Proposal.make(
                            alloc,
                            dict(zip(ts, prices, strict=True)),
                            dict(zip(ns, rewards, strict=True)),
                            max_prices={t: private.values[t] for t in ts},
                            min_rewards={n: private.costs[n] for n in ns},
                            maker=maker,
                        )
                    )
    return out


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_best_response_is_the_most_profitable_winning_proposal(data: st.DataObject) -> None:
    market, private = data.draw(
        st.sampled_from([(SEED, UNIT), (PAIR, Private({1: 5, 2: 3}, {11: 1, 12: 2}))])
    )
    mode = data.draw(st.sampled_from([Mode.TOLERANCES, Mode.PARETO]))
    book = Book()
    for k in range(data.draw(st.integers(0, 2))):
        book, _ = improve(
            market, book, data.draw(ir_proposal(market, private, "AB"[k % 2])), mode=mode
        )
    _check_best_response(market, private, book, mode)


def _check_best_response(market: Market, private: Private, book: Book, mode: Mode) -> None:
    """``best_response`` of maker B gains exactly the most any winning proposal gains, on the
    allocation of highest welfare among those that do (the documented tie rule)."""
    best = (0, 0)
    for p in _every_ir_proposal(market, private, "B"):
        if mode is Mode.PARETO:
            p = Proposal.make(p.allocation, p.prices, p.rewards, maker="B")
        after, step = improve(market, book, p, mode=mode)
        if step.verdict in (Verdict.FIRST, Verdict.MERGED, Verdict.REPLACED):
            gain = after.margin_of("B") - book.margin_of("B")
            best = max(best, (gain, welfare(private, p.allocation)))
    got = best_response(market, private, book, "B", mode=mode)
    if best[0] < 1:
        assert got is None
    else:
        assert got is not None
        after, _ = improve(market, book, got, mode=mode)
        assert after.margin_of("B") - book.margin_of("B") == best[0]
        assert welfare(private, got.allocation) == best[1]


X3 = Market(
    [Request(0, 1, "x"), Request(1, 1, "x", replicas=2)],
    [Node(10, 2, X), Node(11, 2, X), Node(12, 2, X)],
)
X2 = Market([Request(0, 1, "x"), Request(1, 1, "x")], [Node(10, 1, X), Node(11, 2, X)])


@pytest.mark.parametrize(
    ("market", "private", "incumbent"),
    [
        # the best answer prices shared request 0 at exactly 0 (its price now is 1)
        (
            X3,
            Private({0: 3, 1: 6}, {10: 0, 11: 1, 12: 0}),
            Proposal.make(
                {0: {10}, 1: {10, 11}},
                {0: 1, 1: 4},
                {10: 2, 11: 1},
                max_prices={0: 3, 1: 6},
                min_rewards={10: 0, 11: 1},
                maker="A",
            ),
        ),
        # no shared node: the whole shortfall comes off the shared request's price, down to 0
        (
            X2,
            Private({0: 3, 1: 5}, {10: 0, 11: 2}),
            Proposal.make(
                {1: {10}}, {1: 1}, {10: 0}, max_prices={1: 5}, min_rewards={10: 0}, maker="A"
            ),
        ),
    ],
)
def test_best_response_at_the_price_floor(
    market: Market, private: Private, incumbent: Proposal
) -> None:
    _check_best_response(market, private, run(market, [incumbent])[0], Mode.TOLERANCES)


def test_a_lone_maker_posts_the_monopoly_and_stops() -> None:
    d = iterate_best_responses(SEED, TRUTH, ("solo",))
    assert d.converged and d.steps == 1 and d.margin == 400 and not d.reached_optimum
    with pytest.raises(InvalidInput, match="distinct"):
        iterate_best_responses(SEED, TRUTH, ("a", "a"))
    with pytest.raises(InvalidInput, match="distinct"):
        iterate_best_responses(SEED, TRUTH, ())


def test_best_response_needs_a_gain_of_one_tick() -> None:
    # α1 at margin 3 with three participants: undercutting all three leaves 0, so B passes
    b = truthful(A1, {T1: 600}, {N1: 299, N2: 298}, maker="A")
    book, _ = run(SEED, [b])
    assert best_response(SEED, TRUTH, book, "B") is None
    b4 = truthful(A1, {T1: 600}, {N1: 298, N2: 298}, maker="A")
    got = best_response(SEED, TRUTH, run(SEED, [b4])[0], "B")
    assert got is not None and dict(got.prices) == {T1: 599} and got.margin == 1
    assert dict(got.rewards) == {N1: 299, N2: 299}
    assert (
        best_response(SEED, TRUTH, run(SEED, [b4])[0], "A") is None
    )  # the holder never undercuts itself


def test_ties_go_to_the_first_allocation_in_enumeration_order() -> None:
    # three allocations of welfare 3: the optimum reported is the first, t2 on n1
    assert optimum(SEED, Private({T1: 5, T2: 4}, {N1: 1, N2: 1})) == (3, {T2: frozenset({N1})})
    # against α1 at (6; 3, 3) without tolerances, α2 and α3 gain the same: α2 comes first
    book, _ = run(SEED, [truthful(A1, {T1: 600}, {N1: 300, N2: 300}, maker="A")], mode=Mode.PARETO)
    got = best_response(SEED, TRUTH, book, "B", mode=Mode.PARETO)
    assert got is not None and dict(got.allocation) == {T2: frozenset({N1})} and got.margin == 99


def test_dynamics_stop_at_the_step_limit_and_converge_only_when_every_maker_passes() -> None:
    d = iterate_best_responses(SEED, TRUTH, mode=Mode.PARETO, max_steps=3)
    assert d.steps == 3 and not d.converged and not d.cycled and len(d.margins) == 3
    d3 = iterate_best_responses(SEED, TRUTH, ("A", "B", "C"))
    assert d3.converged and d3.reached_optimum
    assert all(best_response(SEED, TRUTH, d3.book, m) is None for m in ("A", "B", "C"))
    assert {s.proposal.maker for s in d3.history} == {"A", "B", "C"}


def test_one_pass_is_not_convergence(monkeypatch: pytest.MonkeyPatch) -> None:
    import bridge.mechanisms.posted_price.dynamics as dyn

    real = dyn.best_response
    calls: list[str] = []

    def scripted(market: Market, private: Private, book: Book, maker: str, **kw: object) -> object:
        calls.append(maker)
        if maker == "B" or len(calls) > 3:  # B always passes; after A, B, C everyone passes
            return None
        return real(market, private, book, maker, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(dyn, "best_response", scripted)
    d = iterate_best_responses(SEED, TRUTH, ("A", "B", "C"))
    assert calls[:3] == ["A", "B", "C"] and d.steps == 2 and d.converged
    assert [s.proposal.maker for s in d.history] == ["A", "C"]
