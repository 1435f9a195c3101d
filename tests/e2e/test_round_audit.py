"""Anyone can recompute a settled round from the chain: an honest settlement passes, a DARA
settlement that the contract accepts but that is not the mechanism's outcome is caught."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bridge.chain.connect import use_embedded
from bridge.cli import app
from bridge.client.round_audit import audit_round
from bridge.errors import SettlementRejected
from bridge.keeper.store import Phase
from tests.e2e.conftest import WorldFactory


def test_honest_round_recomputes_exactly(make_world: WorldFactory) -> None:
    world = make_world("dara", provers=3, requesters=4, seed=7, miss=False)
    report = world.run_round()
    result = audit_round(world.market, report.round, world.deploy_block)
    assert result.ok, result.differences
    assert result.valid_bids == 4 and result.invalid_bids == []
    previous = use_embedded(world.tester_chain)  # type: ignore[attr-defined]
    try:
        out = CliRunner().invoke(app, ["audit", str(report.round), "--rpc", "eth-tester",
                                       "--market", world.market.address, "--json"])
    finally:
        use_embedded(previous)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"round": report.round, "ok": True, "mechanism": "dara",
                                      "invalid_bids": [], "invalid_asks": [],
                                      "differences": []}


def test_feasible_but_wrong_dara_settlement_is_caught(make_world: WorldFactory) -> None:
    world = make_world("dara", provers=4, requesters=6, seed=7, miss=False)
    keeper = world.keeper
    pipeline = keeper.pipeline
    assert pipeline is not None
    for _ in range(5):  # the first round in which someone wins
        world.next_round()
        r = world.commit_round()
        world.travel_to(world.market.params.closes_at(r) + 1)
        keeper.read_logs()
        view = keeper.view()
        while keeper.store.round_phase(r) is not Phase.CLEARED:
            pipeline.step(r, view)
        outcome = keeper.store.outcome(r)
        assert outcome is not None
        winners = [i for i, b in enumerate(outcome["bids"]) if int(b[8]) > 0]
        if winners:
            break
        keeper.run_until_idle()
    winner = winners[0]
    paid = sum(int(e[3]) for e in outcome["entries"] if int(e[0]) == winner)
    assert int(outcome["bids"][winner][8]) > paid, "this seed needs a winner charged above its pay"
    outcome["bids"][winner][8] = paid  # undercharge a winner: still individually rational, balanced
    keeper.store.save_outcome(r, outcome)
    while keeper.store.round_phase(r) is not Phase.SETTLED:
        pipeline.step(r, view)
    plan = pipeline.plan(r)
    with pytest.raises(SettlementRejected) as rejected:  # decoded before anything is signed
        keeper.sender.send(world.market.tx("beginSettlement", *plan.begin_args()))
    assert rejected.value.name == "RoundAlreadyFinal" and rejected.value.args_["round"] == r
    result = audit_round(world.market, r, world.deploy_block)
    assert not result.ok
    assert any(d.startswith(f"bid {winner}: charged {paid}") for d in result.differences)
    previous = use_embedded(world.tester_chain)  # type: ignore[attr-defined]
    try:
        out = CliRunner().invoke(app, ["audit", str(r), "--rpc", "eth-tester",
                                       "--market", world.market.address])
    finally:
        use_embedded(previous)
    assert out.exit_code == 1
    assert f"DIFFERS: bid {winner}: charged {paid}" in out.output
