"""Whole rounds with the real keeper: outcomes match the mechanism, money is conserved, a missed
proof is slashed, and the keeper settles exactly once across restarts."""

from __future__ import annotations

import pytest
from web3 import Web3

from bridge.client.participant import round_charges
from bridge.keeper.store import Phase
from bridge.mechanisms import Ask, Bid, clear
from bridge.sim.world import World
from tests.e2e.conftest import WorldFactory


def _recleared_charges(world: World, r: int) -> list[int]:
    """Charges a participant would compute from its own sealed records and the public logs."""
    records = {rec.commitment: rec for rec in world.requesters[0].salts.all()}
    ev = world.market.contract.events
    bids, asks = [], []
    bid_logs = ev.BidCommitted().get_logs(from_block=world.deploy_block,
                                          argument_filters={"round": r})
    for log in bid_logs:
        rec = records["0x" + bytes(log["args"]["commitment"]).hex()]
        bids.append(Bid(log["args"]["index"], rec.price, rec.quantity))
    for log in ev.AskCommitted().get_logs(from_block=world.deploy_block,
                                          argument_filters={"round": r}):
        rec = records["0x" + bytes(log["args"]["commitment"]).hex()]
        asks.append(Ask(log["args"]["index"], rec.price, rec.quantity))
    outcome = clear(world.cfg.mechanism, bids, asks)
    return [outcome.charges.get(i, 0) for i in range(len(bid_logs))]


def _settled_charges(world: World, r: int) -> list[int]:
    logs = world.market.contract.events.RoundSettled().get_logs(
        from_block=world.deploy_block, argument_filters={"round": r})
    assert len(logs) == 1, "exactly one settlement per round"
    charges = round_charges(world.market, r, world.deploy_block)
    assert charges is not None
    return charges


@pytest.mark.parametrize("mechanism", ["proofphi", "dara"])
def test_rounds_settle_as_the_mechanism_says_and_every_wei_is_accounted_for(
        make_world: WorldFactory, mechanism: str) -> None:
    world = make_world(mechanism, provers=4, requesters=6, seed=7)
    for _ in range(3):
        before = {q.address: world.market.balance_of(q.address) for q in world.requesters}
        report = world.run_round()
        charges = {b["requester"]: b["charge"] for b in report.bids}
        for j in (j for j in report.jobs if j["status"] == "slashed"):
            # refunded its charge share for the missed units, compensated refundCap per unit
            units = world.keeper.store.jobs(report.round)[j["job"]][2]["tuple"][5]
            assert j["compensation"] == world.cfg.refund_cap * units
            assert j["refund"] <= charges[j["requester"]]
            if mechanism == "proofphi":
                assert j["refund"] == charges[j["requester"]]
                assert (world.market.balance_of(j["requester"]) - before[j["requester"]]
                        == j["compensation"])
        assert report.phase == Phase.FINALIZED.value
        assert _settled_charges(world, report.round) == _recleared_charges(world, report.round)
        assert world.check_ledger() == []
    metrics = world.keeper.metrics.render().decode()
    traded = sum(1 for rep in world.reports if rep.jobs)
    assert f"bridge_rounds_settled_total {float(len(world.reports))}" in metrics
    assert f'bridge_bids_valid_total{{side="bid"}} {float(3 * 6)}' in metrics
    # one observation per settlement transaction: beginSettlement and one page per round here
    assert f"bridge_settlement_gas_count {float(2 * len(world.reports))}" in metrics
    assert "bridge_slashes_total" in metrics and traded > 0
    jobs = [j for rep in world.reports for j in rep.jobs]
    assert any(j["status"] == "proven" for j in jobs)
    slashed = [j for j in jobs if j["status"] == "slashed"]
    assert slashed, "the demo scenario has one prover that misses its proofs"
    for j in slashed:
        # the requester gets its charge share back plus refundCap per missed unit of collateral
        assert j["refund"] > 0
        assert j["compensation"] % world.cfg.refund_cap == 0 and j["compensation"] > 0


def test_keeper_restarted_between_every_pair_of_phases_settles_each_round_once(
        make_world: WorldFactory) -> None:
    world = make_world("dara", provers=3, requesters=4, seed=7, miss=False)
    for _ in range(2):
        world.next_round()
        r = world.commit_round()
        world.travel_to(world.market.params.closes_at(r) + 1)
        phases = []
        for _ in range(12):
            keeper = world.restart_keeper()
            keeper.read_logs()
            assert keeper.pipeline is not None
            phase = keeper.pipeline.step(r, keeper.view())
            phases.append(phase)
            if phase in (Phase.PROOFS, Phase.FINALIZED):
                break
        assert Phase.DECRYPTED in phases and Phase.CLEARED in phases and Phase.SETTLED in phases
        views = world.prove(r)
        world.finish(r, views)
        world.restart_keeper().run_until_idle()
        assert world.keeper.store.round_phase(r) is Phase.FINALIZED
        assert len(_settled_charges(world, r)) == 4
        assert len(world.keeper.store.settle_hashes(r)) == 1, "one settle transaction sent"
        world.account_round(r)
    assert world.check_ledger() == []


def test_invalid_bids_are_excluded_with_their_reason_and_the_rest_settle(
        make_world: WorldFactory) -> None:
    from bridge import sealed
    from bridge.client.participant import new_task

    world = make_world("proofphi", provers=3, requesters=4, seed=3, miss=False)
    world.next_round()
    r = world.commit_round()
    key = world.market.keeper_public_key()
    params = world.market.params
    q0, q1, q2 = world.requesters[:3]

    def commit_raw(q: object, commitment: bytes, ciphertext: bytes, escrow: int) -> None:
        q.sender.send(world.market.tx("commitBid", r, commitment, ciphertext, escrow,  # type: ignore[attr-defined]
                                      new_task()))

    salt = sealed.new_salt()
    good = sealed.commitment(chain_id=params.chain_id, market=world.market.address, round=r,
                             participant=q0.address, side=0, price=10**11, quantity=1, salt=salt)
    commit_raw(q0, good, b"\x04" + b"\x01" * 140, 10**11)  # not an envelope to the keeper key
    commit_raw(q1, good, sealed.seal(key, price=10**11, quantity=1, salt=salt), 10**11)  # copied
    salt2 = sealed.new_salt()
    over = sealed.commitment(chain_id=params.chain_id, market=world.market.address, round=r,
                             participant=q2.address, side=0, price=2 * 10**11, quantity=1,
                             salt=salt2)
    commit_raw(q2, over, sealed.seal(key, price=2 * 10**11, quantity=1, salt=salt2), 10**11)
    world.close_and_settle(r)
    rows = world.keeper.store.openings(r, side=0)
    reasons = {row.index: row.reason for row in rows if not row.valid}
    assert sorted(reasons.values()) == sorted(
        ["undecryptable", "commitment_mismatch", "value_above_escrow"])
    valid = [row for row in rows if row.valid]
    assert len(valid) == 4  # the four truthful bids settle
    charges = _settled_charges(world, r)
    assert all(charges[i] == 0 for i in reasons)
    views = world.prove(r)
    world.finish(r, views)
    world.account_round(r)
    assert world.keeper.store.round_phase(r) is Phase.FINALIZED
    assert world.check_ledger() == []


def test_keeper_stopped_past_the_deadline_voids_the_round_and_escrow_returns(
        make_world: WorldFactory) -> None:
    world = make_world("proofphi", provers=2, requesters=3, seed=3, miss=False)
    before = {q.address: world.market.balance_of(q.address) for q in world.requesters}
    world.next_round()
    r = world.commit_round()
    locked = {q.address: before[q.address] - world.market.balance_of(q.address)
              for q in world.requesters}
    assert all(v > 0 for v in locked.values())
    world.keeper.stop()  # the keeper is down through the whole settlement window
    world.travel_to(world.market.params.settle_deadline(r) + 1)
    keeper = world.new_keeper()
    world.keeper = keeper
    keeper.run_until_idle()
    assert keeper.store.round_phase(r) is Phase.VOIDED
    assert {q.address: world.market.balance_of(q.address) for q in world.requesters} == before
    voided = world.market.contract.events.RoundVoided().get_logs(
        from_block=world.deploy_block, argument_filters={"round": r})
    assert len(voided) == 1 and voided[0]["args"]["released"] == sum(locked.values())
    assert Web3.to_checksum_address(voided[0]["args"]["caller"]) == world.keeper_account.address
