"""A fixedprice market end to end on eth-tester: the real keeper clears at the posted price,
learns and posts the next price by the public rule, and the audit and the watchtower recompute
every price from the chain (and flag one off the rule)."""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from bridge.chain.price_history import PriceHistory, locate_from_node
from bridge.client.participant import Participant
from bridge.client.round_audit import audit_round, check_price
from bridge.client.watchtower import Watchtower
from bridge.mechanisms.fixedprice import step_bounds
from bridge.testing import LocalMarket

GWEI = 10**9
PRICE = 50 * GWEI

pytestmark = pytest.mark.bridge_market(mechanism="fixedprice", initial_price=PRICE,
                                       commit_period=60, settle_period=60, proof_period=60,
                                       price_window=8, price_every=1, price_step_bps=2_000)


def test_a_lone_requester_trades_with_a_lone_prover_at_the_posted_price(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant]) -> None:
    m = bridge_market
    prover, requester = bridge_prover(capacity=1), bridge_requester()
    r = m.next_round()
    assert m.round_price(r) == PRICE
    requester.bid(value=90 * GWEI, size=1, escrow=90 * GWEI, task=os.urandom(32))
    prover.ask(cost=20 * GWEI)
    settled = m.settle(r)
    (job,) = settled.jobs
    assert [b.charge for b in settled.bids] == [PRICE]  # alone: it pays the posted price
    assert job.payment == PRICE and job.prover == prover.address
    assert [j.status for j in m.prove_all(r, [prover])] == ["proven"]
    assert m.ledger_problems() == []


def test_a_bid_below_the_posted_price_does_not_trade(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant]) -> None:
    m = bridge_market
    prover, requester = bridge_prover(capacity=1), bridge_requester()
    r = m.next_round()
    requester.bid(value=PRICE - 1, size=1, escrow=PRICE, task=os.urandom(32))
    prover.ask(cost=20 * GWEI)
    settled = m.settle(r)
    assert not settled.traded and [b.charge for b in settled.bids] == [0]


def _round(m: LocalMarket, provers: list[Participant], requesters: list[Participant],
           values: list[int], costs: list[int]) -> int:
    r = m.next_round()  # the keeper posts the next round's price as this one opens
    for q, v in zip(requesters, values, strict=True):
        q.bid(value=v, size=1, escrow=v, task=os.urandom(32))
    for p, c in zip(provers, costs, strict=True):
        p.ask(cost=c)
    m.settle(r)
    m.prove_all(r, provers)
    return r


def test_the_keeper_learns_the_price_by_the_rule_and_the_audit_recomputes_it(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant]) -> None:
    m = bridge_market
    provers = [bridge_prover(capacity=1), bridge_prover(capacity=1)]
    requesters = [bridge_requester(), bridge_requester()]
    watch = Watchtower(m.market, m.deploy_block)
    # values 200–240 gwei and costs 150–170 gwei: the welfare-maximising price lies between,
    # far above the initial 50 gwei, so every re-fit moves up by the full step
    rounds = [_round(m, provers, requesters, [200 * GWEI + k * GWEI, 240 * GWEI],
                     [150 * GWEI, 170 * GWEI]) for k in range(7)]
    prices = [m.round_price(r) for r in range(rounds[-1] + 2)]
    assert prices[0] == PRICE and prices[-1] > PRICE
    for a, b in pairwise(prices):  # each round moves at most one step
        lo, hi = step_bounds(a, 2_000)
        assert lo <= b <= hi
    history = PriceHistory(m.market, locate_from_node(m.market, m.deploy_block))
    assert [check_price(history, r) for r in range(1, rounds[-1] + 2)] == [None] * (
        rounds[-1] + 1)
    assert audit_round(m.market, rounds[-1], m.deploy_block).ok
    assert watch.poll() == []


def test_the_watchtower_and_the_audit_flag_a_price_off_the_rule(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant]) -> None:
    m = bridge_market
    provers = [bridge_prover(capacity=1)]
    requesters = [bridge_requester()]
    for _ in range(4):
        _round(m, provers, requesters, [120 * GWEI], [30 * GWEI])
    watch = Watchtower(m.market, m.deploy_block)
    assert watch.poll() == []
    # the keeper posts next round's price off the rule (within the contract's step bound)
    nxt = m.current_round() + 1
    rule_price = m.round_price(nxt)
    lo, _hi = step_bounds(m.round_price(nxt - 1), 2_000)
    wrong = lo if lo != rule_price else lo + 1
    m.keeper.sender.send(m.market.tx("postPrice", nxt, wrong))
    found = watch.poll()
    assert [(d.round, d.kind) for d in found] == [(nxt, "price")]
    assert "the price rule gives" in found[0].line()
    # once the round has traded and settled, `bridge audit` says the same
    r = _round(m, provers, requesters, [120 * GWEI], [30 * GWEI])
    assert r == nxt
    differences = audit_round(m.market, r, m.deploy_block).differences
    assert [d.kind for d in differences] == ["price"]


def test_bridge_deploy_takes_fixedprice_and_needs_an_initial_price(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.chain.connect import connect
    from bridge.chain.deployment import load_network, run_deploy
    from bridge.chain.market import Market
    from bridge.errors import ConfigError

    net = tmp_path / "net.toml"
    net.write_text('rpc = "http://x"\nchain_id = 1\nmechanism = "fixedprice"\n')
    with pytest.raises(ConfigError, match="initial_price"):
        load_network(str(net))
    net.write_text('rpc = "http://x"\nchain_id = 1\nmechanism = "fixedprice"\n'
                   'initial_price = "40gwei"\nprice_every = 0\n')
    with pytest.raises(ConfigError, match="price_every must be at least 1"):
        load_network(str(net))
    with pytest.raises(ConfigError, match="--initial-price"):
        run_deploy("local", mechanism="fixedprice", out_dir=tmp_path / "none")
    monkeypatch.setenv("BRIDGE_PRIVATE_KEY", "0x" + os.urandom(32).hex())
    res = run_deploy("local", mechanism="fixedprice", initial_price=40 * GWEI,
                     out_dir=tmp_path / "deployments", force=True)
    market = Market(connect("eth-tester"), res.record.market)
    p = market.params
    assert (p.mechanism, p.initial_price, market.round_price(0)) == ("fixedprice", 40 * GWEI,
                                                                    40 * GWEI)
    assert res.record.parameters["initial_price"] == 40 * GWEI
