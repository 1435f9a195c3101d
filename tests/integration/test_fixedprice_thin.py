"""A thin fixedprice market on anvil (one block a second, the real keeper): one prover agent as a
process and one requester using the CLI, nobody else. Under a posted price a lone bid at a value
≥ the price trades with a lone ask at a cost ≤ the price (Prooφ and DARA would give up the only
ask), so the request is proven in the round it bids."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.testing import LocalMarket, MarketSettings, find_anvil
from bridge.testing.agents import BRIDGE, AgentProcess
from bridge.testing.agents import live_market as start_live_market

GWEI = 10**9
PRICE = 50 * GWEI


@pytest.fixture
def thin_market(tmp_path: Path) -> Iterator[LocalMarket]:
    """A Groth16 fixedprice market at 50 gwei a unit, 6 s rounds, 30 s to prove."""
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm ci` (make test does)")
    settings = MarketSettings(mechanism="fixedprice", proofs="groth16", initial_price=PRICE,
                              commit_period=6, settle_period=6, proof_period=30)
    with start_live_market(tmp_path, settings) as m:
        yield m


def test_one_agent_and_one_requester_trade_a_groth16_proof_at_the_posted_price(
        thin_market: LocalMarket, tmp_path: Path) -> None:
    from bridge.client.tasks import registered

    m = thin_market
    circuit = sorted(registered(m.market).values(), key=lambda c: c.id)[0]
    agent = AgentProcess(tmp_path, "agent", m, bytes(m.account().key), cost_gwei=20).start()
    buyer = m.account()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update({"BRIDGE_PRIVATE_KEY": "0x" + bytes(buyer.key).hex(),
                "BRIDGE_HOME": str(tmp_path / "cli-home")})
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps(list(range(1, circuit.inputs + 1))))
    try:
        done = subprocess.run(
            [BRIDGE, "requester", "request", "--circuit", circuit.name, "--input", str(inputs),
             "--value", "90gwei", "--wait", "--retries", "1", "--json",
             "--out", str(tmp_path / "proof"), "--rpc", str(m.chain.url),
             "--market", m.address, "--from-block", str(m.deploy_block)],
            env=env, capture_output=True, text=True, timeout=80, check=False)
    finally:
        code = agent.stop()
    assert done.returncode == 0, (done.stderr, agent.output()[-2000:])
    bought = json.loads(done.stdout)
    assert bought["status"] == "proven", bought
    r = int(bought["round"])  # the round that traded; from the chain: every round it bid in
    bid_rounds = sorted(int(e["args"]["round"]) for e in m.market.contract.events.BidCommitted()
                        .get_logs(from_block=m.deploy_block)
                        if e["args"]["requester"] == buyer.address)
    assert bid_rounds[-1] == r and r - bid_rounds[0] <= 1, (bid_rounds, bought)
    assert m.round_price(r) <= 90 * GWEI
    outcome = m.outcome(r)
    assert [(b.requester, b.charge) for b in outcome.bids if b.charge] == \
        [(buyer.address, m.round_price(r))]  # alone on its side: it pays the posted price
    assert [j.status for j in outcome.jobs] == ["proven"]
    assert code == 0, agent.output()[-2000:]
    assert m.ledger_problems() == []
