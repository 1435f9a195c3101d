"""Nobody is slashed for an impossible task: in a market whose verifier is a ``Groth16Registry``
the keeper runs every circuit task's registered witness generator before the round clears, and a
task whose witness cannot be computed is settled as invalid (``unprovable``) with public evidence
(the circuit in the task word, the inputs in ``BidCommitted``) that the audit re-runs.

Real chain (eth-tester), real keeper, real snarkjs; the circuit is ``examples/circuits/range32``
(not total: ``x`` must fit 32 bits), registered from its prebuilt artifacts by file URI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.chain.groth16 import accept_circuits, register_circuit, registry_at
from bridge.chain.market import RoundStatus
from bridge.client.round_audit import audit_round
from bridge.client.watchtower import Watchtower
from bridge.keeper.pipeline import RoundPipeline
from bridge.keeper.store import OpeningRow
from bridge.sim.world import World
from bridge.zkstore import Artifacts, key_bytes, layout_name, sha256_file
from tests.e2e.conftest import WorldFactory, cli

GWEI = 10**9
BUILT = Path(__file__).resolve().parents[2] / "examples" / "circuits" / "range32"


def range32() -> tuple[bytes, Artifacts]:
    """range32's key and artifacts as ``bridge circuit register`` would name them."""
    wasm, zkey = BUILT / "range32.wasm", BUILT / "range32.zkey"
    key = key_bytes(json.loads((BUILT / "range32_vk.json").read_text()))
    return key, Artifacts(1, 1, sha256_file(wasm), sha256_file(zkey), wasm.as_uri(),
                          zkey.as_uri(), layout_name("range32", [("x", 1)]))


def _world(make_world: WorldFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
           ) -> tuple[World, int]:
    """A fixed-price market (it trades a lone bid) on an empty Groth16Registry with range32
    registered and accepted; returns the world and the circuit's registration index."""
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))  # a fresh artifact cache
    world = make_world("fixedprice", provers=1, requesters=2, seed=4, miss=False, capacity=(4, 4),
                       proofs="groth16-registry")
    reg = registry_at(world.w3, world.market.params.verifier)
    key, art = range32()
    cid, index = register_circuit(reg, key, art, world.funder)
    accept_circuits(reg, world.market.address, [cid], world.funder)
    return world, index


def _round(world: World, index: int, xs: list[int]) -> int:
    """One round: the prover asks, requester i bids on range32 with x = xs[i]; settled."""
    world.next_round()
    r = world.market.current_round()
    world.provers[0].ask(cost=10 * GWEI)
    for q, x in zip(world.requesters, xs, strict=True):
        q.bid(value=100 * GWEI, size=None, escrow=100 * GWEI, circuit=index, inputs=[x])
    world.travel_to(world.market.params.closes_at(r) + 1)
    world.keeper.run_until_idle()
    assert world.market.round_info(r).status is RoundStatus.SETTLED
    return r


def test_a_task_the_circuit_rejects_is_marked_unprovable_and_the_audit_agrees(
        make_world: WorldFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world, index = _world(make_world, monkeypatch, tmp_path)
    r = _round(world, index, [2**32 - 1, 2**32])  # the largest 32-bit x, and one past it

    result = audit_round(world.market, r, world.deploy_block)
    assert result.ok, [d.line() for d in result.differences]
    assert [(v.subject, v.reason, v.check.ok) for v in result.marks] == [
        ("bid 1", "unprovable", True)]
    assert "Assert Failed" in result.marks[0].check.explanation
    # the provable task trades, the impossible one has no job: nobody can be slashed for it
    jobs = world.requesters[0].settled_jobs(r, world.deploy_block)
    assert [(v.job.bid_index, v.job.prover) for v in jobs] == [(0, world.provers[0].address)]
    # the requester of the impossible task sees why, and that the keeper was right
    out = cli(world, "requester", "status", key=bytes(world.requesters[1].account.key))
    assert out.exit_code == 0, out.output
    assert "your bid was invalid: unprovable — the keeper's evidence confirms it" in out.output


def test_a_keeper_that_marks_a_provable_task_unprovable_is_flagged(
        make_world: WorldFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world, index = _world(make_world, monkeypatch, tmp_path)
    honest = RoundPipeline._apply_rules

    def lying(self: RoundPipeline, r: int, rows: list[OpeningRow]) -> None:
        honest(self, r, rows)
        for row in rows:  # the keeper claims requester 0's task cannot be proven
            if row.side == 0 and row.index == 0 and row.valid:
                self._mark_invalid(row, "unprovable", "claimed")

    monkeypatch.setattr(RoundPipeline, "_apply_rules", lying)
    tower = Watchtower(world.market, world.deploy_block)
    r = _round(world, index, [7, 2**31])
    result = audit_round(world.market, r, world.deploy_block)
    assert not result.ok
    [mark] = result.marks
    assert (mark.subject, mark.reason, mark.check.ok) == ("bid 0", "unprovable", False)
    assert "the task is provable and the mark is provably wrong" in mark.check.explanation
    found = tower.poll()
    assert [(d.kind, d.round) for d in found] == [("invalid_mark", r)]
