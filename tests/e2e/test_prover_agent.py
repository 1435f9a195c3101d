"""The prover agent and the requester's wait, stepped tick by tick on the plugin's chain.

The real-time versions (agents as processes on anvil, SIGKILL, a stream of requests over ten
rounds) are in ``tests/integration/test_agents.py``; here each step is deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.agents.config import ProverAgentConfig
from bridge.agents.prover import ProverAgent, StartRefused
from bridge.client.participant import Participant
from bridge.client.requester import Requester
from bridge.testing import LocalMarket

GWEI = 10**9


def _agent(m: LocalMarket, tmp_path: Path, name: str, *, key: bytes | None = None,
           fund: int = 10**20, drain: bool = False, **overrides: object) -> ProverAgent:
    account = m.account(key=key, fund=fund) if key is None or fund else m.account(key=key, fund=0)
    settings: dict[str, object] = {
        "rpc": "eth-tester", "market": m.address, "database": f"sqlite:///{tmp_path / name}.db",
        "cost_per_unit": "40gwei", "capacity": 1, "max_stake": "0.001ether",
        "from_block": m.deploy_block, "poll_interval": 0.2, **overrides}
    cfg = ProverAgentConfig(**settings).validate()  # type: ignore[arg-type]
    agent = ProverAgent(cfg, account, w3=m.w3, drain=drain)
    agent.startup_checks()
    return agent


def _tick_until(agents: list[ProverAgent], done: Callable[[], bool], limit: int = 40) -> None:
    import time

    for _ in range(limit):
        for a in agents:
            a.tick()
        if done():
            return
        time.sleep(0.05)  # proofs run on the agents' worker threads
    raise AssertionError("agents did not get there")


def test_agents_ask_once_per_round_prove_their_jobs_and_get_paid(
        bridge_market: LocalMarket, bridge_requester: Callable[..., Participant],
        tmp_path: Path) -> None:
    m = bridge_market
    agents = [_agent(m, tmp_path, "a"), _agent(m, tmp_path, "b", cost_per_unit="60gwei")]
    r = m.next_round()
    for a in agents:
        a.tick()  # stakes (within max_stake), declares capacity 1, asks
        a.tick()  # a second tick in the same round sends nothing
    assert [a.metrics.asks._value.get() for a in agents] == [1, 1]
    assert all(m.market.prover_info(a.address)["last_ask_round_plus_one"] == r + 1
               for a in agents)
    for value in (120, 90):
        bridge_requester().bid(value=value * GWEI, size=1, escrow=value * GWEI,
                               task=os.urandom(32))
    settled = m.settle(r)
    (job,) = settled.jobs
    winner = next(a for a in agents if a.address == job.prover)
    _tick_until(agents, lambda: m.outcome(r).jobs[0].status == "proven")
    rows = winner.store.jobs()
    assert [(row.round, row.job_index, row.state) for row in rows] == [(r, 0, "proven")]
    assert winner.metrics.earnings._value.get() == job.payment
    assert winner.metrics.units_sold._value.get() == 1
    staked = int(winner.store.get("staked_by_agent") or 0)
    assert 0 < staked <= 10**15  # topped up on its own, within max_stake
    collateral = m.market.prover_info(winner.address)["collateral"]
    assert collateral == staked + job.payment  # what it staked plus its payment
    assert m.ledger_problems() == []


def test_a_restarted_agent_never_asks_twice_and_still_proves(
        bridge_market: LocalMarket, bridge_requester: Callable[..., Participant],
        tmp_path: Path) -> None:
    from bridge.agents.store import AskRow

    m = bridge_market
    a = _agent(m, tmp_path, "a")
    b = _agent(m, tmp_path, "b", cost_per_unit="60gwei")
    r = m.next_round()
    a.tick()
    b.tick()
    with a.store.session() as s:  # a crash right after the ask landed, before it was recorded
        s.delete(s.get(AskRow, r))
    a.close()
    a2 = _agent(m, tmp_path, "a", key=bytes(a.participant.account.key), fund=0)
    a2.tick()
    assert a2.metrics.asks._value.get() == 0  # the chain says it asked: nothing sent
    assert a2.store.asked(r)
    for value in (120, 90):
        bridge_requester().bid(value=value * GWEI, size=1, escrow=value * GWEI,
                               task=os.urandom(32))
    (job,) = m.settle(r).jobs
    assert job.prover == a.address  # the cheaper ask
    _tick_until([a2, b], lambda: m.outcome(r).jobs[0].status == "proven")
    assert m.ledger_problems() == []


def test_drain_releases_everything_and_finishes(
        bridge_market: LocalMarket, tmp_path: Path) -> None:
    m = bridge_market
    a = _agent(m, tmp_path, "a")
    m.next_round()
    a.tick()
    r = m.current_round()
    m.settle(r)  # nobody else: the round is finalized empty
    d = _agent(m, tmp_path, "a", key=bytes(a.participant.account.key), fund=0, drain=True)
    m.next_round()
    done = False
    for _ in range(10):
        done = d.tick()
        if done:
            break
    assert done
    info = m.market.prover_info(d.address)
    assert info["capacity"] == 0 and info["collateral"] == 0
    assert d.metrics.asks._value.get() == 0


@pytest.mark.parametrize(("overrides", "message"), [
    ({"capacity": 50, "max_stake": "0"}, "capacity 50 needs"),
    ({"backends": {"poseidon-chain-16": "builtin"}}, "tasks are proofs of work"),
])
def test_bad_settings_refuse_to_start_before_sending_anything(
        bridge_market: LocalMarket, tmp_path: Path, overrides: dict[str, object],
        message: str) -> None:
    acct = bridge_market.account()
    before = bridge_market.w3.eth.get_transaction_count(acct.address)
    with pytest.raises(StartRefused, match=message):
        _agent(bridge_market, tmp_path, "x", key=bytes(acct.key), fund=0, **overrides)
    assert bridge_market.w3.eth.get_transaction_count(acct.address) == before


def test_an_unfunded_key_is_refused(bridge_market: LocalMarket, tmp_path: Path) -> None:
    with pytest.raises(StartRefused, match="has no ETH for gas"):
        _agent(bridge_market, tmp_path, "x", key=os.urandom(32), fund=0)


def test_requester_gets_a_checked_proof_or_its_refund(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant], tmp_path: Path) -> None:
    """The requester's wait runs on its own thread while the test plays keeper and provers."""
    import threading

    m = bridge_market
    provers = [bridge_prover(capacity=1), bridge_prover(capacity=1)]
    me = Requester(bridge_requester(deposit=0), from_block=m.deploy_block, poll_interval=0.05,
                   timeout=60)
    r = m.next_round()
    results: list[object] = []
    t = threading.Thread(target=lambda: results.append(
        me.request(value=120 * GWEI, out=tmp_path / "proof")))
    t.start()
    while m.market.round_info(r).bid_count == 0:
        pass
    bridge_requester().bid(value=90 * GWEI, size=1, escrow=90 * GWEI, task=os.urandom(32))
    for p, cost in zip(provers, (40, 60), strict=True):
        p.ask(cost=cost * GWEI)
    m.settle(r)
    m.prove_all(r, provers)
    t.join(60)
    (result,) = results
    assert result.status == "proven" and result.round == r  # type: ignore[attr-defined]
    assert (tmp_path / "proof" / "proof.bin").read_bytes() == result.proof  # type: ignore[attr-defined]
    assert result.charge == 90 * GWEI  # type: ignore[attr-defined]


@pytest.mark.realtime  # snarkjs proofs (node processes)
@pytest.mark.bridge_market(proofs="groth16")
def test_agents_prove_circuit_tasks_with_snarkjs(
        bridge_market: LocalMarket, bridge_requester: Callable[..., Participant],
        tmp_path: Path) -> None:
    from bridge.client.tasks import registered

    m = bridge_market
    circuit = sorted(registered(m.market).values(), key=lambda c: c.id)[0]
    agents = [_agent(m, tmp_path, "a"), _agent(m, tmp_path, "b", cost_per_unit="60gwei")]
    assert set(agents[0].backends) == {c.name for c in registered(m.market).values()}
    r = m.next_round()
    for a in agents:
        a.tick()
    for value in (120, 90):
        bridge_requester().bid(value=value * GWEI, size=None, escrow=value * GWEI,
                               circuit=circuit.id, inputs=[7] * circuit.inputs)
    (job,) = m.settle(r).jobs
    _tick_until(agents, lambda: m.outcome(r).jobs[0].status == "proven", limit=200)
    winner = next(a for a in agents if a.address == job.prover)
    assert winner.metrics.proof_seconds._sum.get() > 0  # snarkjs ran in the agent's pool


@pytest.mark.bridge_market(proofs="groth16")
def test_a_circuit_backend_naming_an_unknown_circuit_is_refused(
        bridge_market: LocalMarket, tmp_path: Path) -> None:
    with pytest.raises(StartRefused, match="names circuit 'sha-9000', which this market does "
                                           "not register; registered: merkle-root-8"):
        _agent(bridge_market, tmp_path, "x", backends={"sha-9000": "builtin"})


def test_earnings_above_the_threshold_are_withdrawn_before_the_next_ask(
        bridge_market: LocalMarket, bridge_requester: Callable[..., Participant],
        tmp_path: Path) -> None:
    m = bridge_market
    agents = [_agent(m, tmp_path, "a", withdraw_above="10gwei"),
              _agent(m, tmp_path, "b", cost_per_unit="60gwei", withdraw_above="10gwei")]
    r = m.next_round()
    for a in agents:
        a.tick()
    for value in (120, 90):
        bridge_requester().bid(value=value * GWEI, size=1, escrow=value * GWEI,
                               task=os.urandom(32))
    (job,) = m.settle(r).jobs
    winner = next(a for a in agents if a.address == job.prover)
    _tick_until(agents, lambda: m.outcome(r).jobs[0].status == "proven")
    r2 = m.current_round()  # the agents asked again meanwhile (and staked for it)
    m.settle(r2)  # nobody bid: the round ends, its asks' lock with it
    collateral = m.market.prover_info(winner.address)["collateral"]
    m.next_round()
    winner.tick()  # the free collateral is withdrawn first, then the next ask is sent
    info = m.market.prover_info(winner.address)
    # what capacity 1 (the ask) needs: its backing and the invalid-ask deposit minEscrow
    needs = m.settings.refund_cap + m.settings.min_escrow
    assert info["collateral"] == needs
    assert collateral - info["collateral"] >= job.payment  # the earnings came out
    from bridge.client.participant import event_logs

    (w,) = event_logs(m.market, "CollateralWithdrawn", m.deploy_block,
                      {"prover": winner.address})
    assert int(w["args"]["amount"]) == collateral - needs
    assert info["last_ask_round_plus_one"] == m.current_round() + 1
    assert m.ledger_problems() == []


@pytest.mark.bridge_market(mechanism="fixedprice", initial_price=35 * GWEI)
def test_agents_log_the_posted_price_next_to_their_cost_and_still_ask_at_cost(
        bridge_market: LocalMarket, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from bridge.agents.store import AskRow

    m = bridge_market
    at = _agent(m, tmp_path, "at", cost_per_unit="35gwei")  # the boundary: it sells
    dear = _agent(m, tmp_path, "dear", cost_per_unit="35.000000001gwei", capacity=2)
    r = m.next_round()
    with caplog.at_level(logging.INFO, logger="bridge.agents.prover"):
        for a in (at, dear):
            a.tick()
    said = [(rec.levelname, rec.getMessage()) for rec in caplog.records
            if rec.name == "bridge.agents.prover" and "posted price" in rec.getMessage()]
    assert said == [
        ("INFO", f"round {r}: ask 1 unit at cost 35 gwei (posted price 35 gwei: sells if demand "
                 "allows)"),
        ("WARNING", f"round {r}: ask 2 units at cost 35.000000001 gwei: cost above the posted "
                    "price 35 gwei: this ask cannot sell")]
    assert [a.metrics.asks._value.get() for a in (at, dear)] == [1, 1]  # both still asked
    sealed = []
    for a in (at, dear):
        with a.store.session() as s:
            row = s.get(AskRow, r)
            sealed.append((int(row.cost), row.units))
    assert sealed == [(35 * GWEI, 1), (35 * GWEI + 1, 2)]  # each at its true cost


@pytest.mark.bridge_market(mechanism="fixedprice", initial_price=35 * GWEI)
def test_requester_on_a_fixedprice_market_says_and_returns_the_posted_price(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant]) -> None:
    import threading

    m = bridge_market
    prover = bridge_prover(capacity=1)
    said: list[str] = []
    me = Requester(bridge_requester(deposit=0), from_block=m.deploy_block, poll_interval=0.05,
                   timeout=60, say=said.append)
    r = m.next_round()
    results: list[object] = []
    t = threading.Thread(target=lambda: results.append(me.request(value=120 * GWEI)))
    t.start()
    while m.market.round_info(r).bid_count == 0 and t.is_alive():
        pass
    prover.ask(cost=20 * GWEI)
    m.settle(r)
    m.prove_all(r, [prover])
    t.join(60)
    (result,) = results
    assert f"round {r}: your 120 gwei ≥ the posted 35 gwei: you trade if supply allows" in said
    assert result.status == "proven"  # type: ignore[attr-defined]
    assert result.price == result.charge == 35 * GWEI  # type: ignore[attr-defined]
    assert result.as_dict()["price"] == 35 * GWEI  # type: ignore[attr-defined]
