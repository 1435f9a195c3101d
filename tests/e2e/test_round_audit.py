"""Anyone can recompute a settled round from the chain: an honest settlement passes, a DARA
settlement that the contract accepts but that is not the mechanism's outcome is caught."""

from __future__ import annotations

import json

import pytest

from bridge.client.round_audit import audit_round
from bridge.errors import SettlementRejected
from bridge.keeper.store import Phase
from tests.e2e.conftest import WorldFactory, cleared, cli


def test_honest_round_recomputes_exactly(make_world: WorldFactory) -> None:
    world = make_world("dara", provers=3, requesters=4, seed=7, miss=False)
    report = world.run_round()
    result = audit_round(world.market, report.round, world.deploy_block)
    assert result.ok, result.differences
    assert result.valid_bids == 4 and result.marks == []
    out = cli(world, "audit", str(report.round), "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"round": report.round, "ok": True, "mechanism": "dara",
                                      "marks": [], "discrepancies": []}


def test_feasible_but_wrong_dara_settlement_is_caught(make_world: WorldFactory) -> None:
    world = make_world("dara", provers=4, requesters=6, seed=7, miss=False)
    keeper = world.keeper
    pipeline = keeper.pipeline
    assert pipeline is not None
    for _ in range(5):  # the first round in which someone wins
        world.next_round()
        r = world.commit_round()
        view, outcome = cleared(world, r)
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
    assert any(d.kind == "charge" and d.subject == f"bid {winner}"
               and d.detail.startswith(f"charged {paid} wei") for d in result.differences)
    out = cli(world, "audit", str(r))
    assert out.exit_code == 1
    assert f"DISCREPANCY round {r} bid {winner}: charge: charged {paid} wei" in out.output
