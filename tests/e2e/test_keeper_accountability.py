"""A keeper cannot cheat unseen: every invalid mark carries evidence anyone checks, the outcome is
recomputed, and the bidder's own status says whether the keeper was right.

Real chain (eth-tester), real keeper, real encryption; the cheating keepers are the real pipeline
with one rule patched.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from ecies import encrypt as ecies_encrypt

from bridge import sealed
from bridge.chain.market import RoundStatus
from bridge.client.participant import Participant
from bridge.client.round_audit import audit_round
from bridge.client.watchtower import Watchtower
from bridge.errors import BridgeError
from bridge.health import HealthServer
from bridge.keeper.pipeline import RoundPipeline
from bridge.keeper.store import OpeningRow, Phase
from bridge.sim.world import World
from tests.e2e.conftest import WorldFactory, cleared, cli

GWEI = 10**9


def _key(p: Participant) -> bytes:
    return bytes(p.account.key)


def _settle(world: World, r: int) -> None:
    world.travel_to(world.market.params.closes_at(r) + 1)
    world.keeper.run_until_idle()


def test_a_keeper_that_marks_a_valid_bid_invalid_is_caught_by_everyone(
        make_world: WorldFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world("proofphi", provers=3, requesters=4, seed=11, miss=False)
    victim = world.requesters[0]
    honest_rules = RoundPipeline._apply_rules

    def censoring_rules(self: RoundPipeline, r: int, rows: list[OpeningRow]) -> None:
        honest_rules(self, r, rows)
        for row in rows:  # the keeper claims the victim's bid sealed more than its escrow
            if row.side == 0 and row.participant == victim.address and row.valid:
                self._mark_invalid(row, "value_above_escrow", "censored")

    monkeypatch.setattr(RoundPipeline, "_apply_rules", censoring_rules)
    tower = Watchtower(world.market, world.deploy_block)
    http = HealthServer(tower.metrics, "127.0.0.1", 0, stale_after=60).start()
    health = f"http://127.0.0.1:{http.port}/healthz"
    with pytest.raises(urllib.error.HTTPError) as stale:
        urllib.request.urlopen(health, timeout=5)
    assert stale.value.code == 503  # never polled yet
    world.next_round()
    r = world.commit_round()
    victim_index = next(int(e["args"]["index"]) for e in world._events("BidCommitted", r)
                        if e["args"]["requester"] == victim.address)
    assert tower.poll() == []
    _settle(world, r)
    assert world.market.round_info(r).status is RoundStatus.SETTLED  # the contract accepted it

    flagged = tower.poll()  # the watchtower, within the round (before its settle deadline)
    assert world.now() < world.market.params.settle_deadline(r)
    assert [(d.kind, d.subject) for d in flagged] == [("invalid_mark", f"bid {victim_index}")]
    assert "provably wrong" in flagged[0].detail
    samples = tower.metrics.render().decode()
    assert 'bridge_watch_discrepancies_total{kind="invalid_mark"} 1.0' in samples
    assert "bridge_watch_rounds_audited_total 1.0" in samples
    assert tower.poll() == []  # reported once
    with urllib.request.urlopen(health, timeout=5) as ok:
        assert json.loads(ok.read())["ok"] is True
    with urllib.request.urlopen(f"http://127.0.0.1:{http.port}/metrics", timeout=5) as page:
        assert b'bridge_watch_discrepancies_total{kind="invalid_mark"} 1.0' in page.read()
    http.stop()

    out = cli(world, "audit", "--follow", "--fail-fast", "--poll", "0.05")  # a fresh watchtower
    assert out.exit_code == 1, out.output
    assert f"ALERT round {r} bid {victim_index}: invalid_mark" in out.output

    out = cli(world, "audit", str(r))
    assert out.exit_code == 1, out.output
    assert (f"DISCREPANCY round {r} bid {victim_index}: invalid_mark: marked value_above_escrow"
            in out.output)
    assert audit_round(world.market, r, world.deploy_block).differences[0].subject == \
        f"bid {victim_index}"

    out = cli(world, "requester", "status", "--salts", str(world.workdir / "sealed.json"),
               key=_key(victim))
    assert out.exit_code == 0, out.output
    assert f"round {r} bid {victim_index}" in out.output
    assert "your bid was valid; the keeper's mark is provably wrong" in out.output
    out = cli(world, "requester", "status", "--json", "--salts",
               str(world.workdir / "sealed.json"), key=_key(victim))
    row = next(b for b in json.loads(out.output)["bids"] if b["round"] == r)
    assert row["keeper_right"] is False and row["valid"] is False


def _raw_bid(p: Participant, r: int, commitment: bytes, ciphertext: bytes, escrow: int) -> None:
    p._send("commitBid", r, commitment, ciphertext, escrow, os.urandom(32))


def _raw_ask(p: Participant, r: int, commitment: bytes, ciphertext: bytes) -> None:
    p._send("commitAsk", r, commitment, ciphertext)


def _commit(world: World, r: int, p: Participant, side: sealed.Side, price: int, qty: int,
            salt: bytes) -> bytes:
    params = world.market.params
    return sealed.commitment(chain_id=params.chain_id, market=world.market.address, round=r,
                             participant=p.address, side=side, price=price, quantity=qty,
                             salt=salt)


def test_honest_invalid_marks_pass_the_audit_and_explain_themselves(
        make_world: WorldFactory) -> None:
    """One order for each reason the keeper may give (Prooφ market): the audit confirms every mark
    and each owner's status explains it."""
    world = make_world("proofphi", provers=4, requesters=6, seed=5, miss=False,
                       capacity=(2, 2))
    key = world.market.keeper_public_key()
    other = sealed.generate_keypair().public_key
    world.next_round()
    r = world.market.current_round()
    q = world.requesters
    salt = os.urandom(32)
    value = 50 * GWEI
    # bids: undecryptable, malformed, commitment mismatch, value above escrow, zero size, size 2
    _raw_bid(q[0], r, _commit(world, r, q[0], sealed.Side.BID, value, 1, salt),
             sealed.seal(other, price=value, quantity=1, salt=salt), value)
    _raw_bid(q[1], r, os.urandom(32), ecies_encrypt(b"\x04" + key, b"\x01" * 64,
                                                    config=sealed._ecies_config()), value)
    _raw_bid(q[2], r, _commit(world, r, q[2], sealed.Side.BID, value, 1, os.urandom(32)),
             sealed.seal(key, price=value, quantity=1, salt=salt), value)
    _raw_bid(q[3], r, _commit(world, r, q[3], sealed.Side.BID, value + 1, 1, salt),
             sealed.seal(key, price=value + 1, quantity=1, salt=salt), value)
    _raw_bid(q[4], r, _commit(world, r, q[4], sealed.Side.BID, value, 0, salt),
             sealed.seal(key, price=value, quantity=0, salt=salt), value)
    _raw_bid(q[5], r, _commit(world, r, q[5], sealed.Side.BID, value, 2, salt),
             sealed.seal(key, price=value, quantity=2, salt=salt), value)
    # asks (capacity 2 each): one valid, above capacity, below capacity (Prooφ), cost too large
    p = world.provers
    p[0].ask(cost=10 * GWEI)
    for prover, (cost, units) in zip(p[1:], [(10 * GWEI, 3), (10 * GWEI, 1), (2**128, 2)],
                                     strict=True):
        _raw_ask(prover, r, _commit(world, r, prover, sealed.Side.ASK, cost, units, salt),
                 sealed.seal(key, price=cost, quantity=units, salt=salt))
    _settle(world, r)
    assert world.market.round_info(r).status is RoundStatus.SETTLED

    result = audit_round(world.market, r, world.deploy_block)
    assert result.ok, [d.line() for d in result.differences]
    reasons = {v.subject: v.reason for v in result.marks}
    assert reasons == {
        "bid 0": "undecryptable", "bid 1": "malformed_plaintext", "bid 2": "commitment_mismatch",
        "bid 3": "value_above_escrow", "bid 4": "zero_quantity", "bid 5": "size_not_one",
        "ask 1": "quantity_above_capacity", "ask 2": "quantity_not_capacity",
        "ask 3": "cost_too_large"}
    assert all(v.check.ok for v in result.marks)
    # a participant's own marks, found whatever the case of the address asked with (a wallet's
    # or a pasted address is often lowercase)
    from bridge.client.round_audit import own_marks
    assert [v.reason for v in own_marks(world.market, r, world.deploy_block,
                                        q[2].address.lower(), sealed.Side.BID)] == [
        "commitment_mismatch"]
    out = cli(world, "audit", str(r))
    assert out.exit_code == 0, out.output
    assert "every decision of the keeper checks out" in out.output

    out = cli(world, "requester", "status", key=_key(q[3]))
    assert out.exit_code == 0, out.output
    assert "your bid was invalid: value_above_escrow — the keeper's evidence confirms it" \
        in out.output
    # a bid that opened but does not match its commitment says so (not "could not open it")
    out = cli(world, "requester", "status", key=_key(q[2]))
    assert out.exit_code == 0, out.output
    assert ("settled as invalid, 49.999999999 gwei of the escrow returned (1 wei forfeited to "
            "the keeper): your bid was invalid: commitment_mismatch — the keeper's evidence "
            "confirms it") in out.output
    out = cli(world, "prover", "status", key=_key(p[2]))
    assert out.exit_code == 0, out.output
    assert f"round {r} ask 2: settled as invalid: your ask was invalid: quantity_not_capacity" \
        in out.output


def test_a_wrong_dara_outcome_is_flagged_by_audit_and_watchtower(make_world: WorldFactory
                                                                 ) -> None:
    """One bid above one ask: DARA's trade reduction clears no trade, but the contract accepts
    charge = value and payment = cost (the surplus would go to the owner). Both checks flag it."""
    world = make_world("dara", provers=1, requesters=1, seed=3, miss=False, capacity=(4, 4))
    keeper = world.keeper
    tower = Watchtower(world.market, world.deploy_block)
    world.next_round()
    r = world.commit_round()
    _view, outcome = cleared(world, r)
    assert outcome["entries"] == []  # honest DARA: no trade
    bid, ask = outcome["bids"][0], outcome["asks"][0]
    value, size, cost = int(bid[4]), int(bid[5]), int(ask[3])
    assert value > cost * size
    bid[8] = value
    outcome["entries"] = [[0, 0, size, cost * size]]
    keeper.store.save_outcome(r, outcome)
    keeper.run_until_idle()
    assert world.market.round_info(r).status is RoundStatus.SETTLED
    kinds = {(d.kind, d.subject) for d in tower.poll()}
    assert kinds == {("charge", "bid 0"), ("jobs", "bid 0")}
    out = cli(world, "audit", str(r))
    assert out.exit_code == 1
    assert f"round {r} bid 0: charge: charged {value} wei, the dara mechanism charges 0" \
        in out.output


def test_rotation_mid_round_strands_no_ciphertext(make_world: WorldFactory,
                                                  tmp_path: Path) -> None:
    """The owner rotates the keeper while round r is open: r stays with the old keeper and key
    (it settles r, or anyone voids r if it is gone); r + 1 is encrypted to and settled by the new
    keeper. No ciphertext is ever settled as undecryptable."""
    from dataclasses import replace

    from eth_account import Account

    from bridge.keeper.daemon import Keeper

    world = make_world("proofphi", provers=3, requesters=3, seed=9, miss=False)
    new_account = Account.from_key(b"\x42" * 32)
    world.chain.fund(new_account.address, 10**20)
    world.next_round()
    r = world.commit_round()
    new_key = new_account._key_obj.public_key.to_bytes()
    owner = world.funder
    tx = world.market.contract.functions.rotateKeeper(new_account.address, new_key).transact(
        {"from": owner})
    world.w3.eth.wait_for_transaction_receipt(tx)
    assert world.market.keeper_for(r) == (world.keeper_account.address,
                                          world.keeper_account._key_obj.public_key.to_bytes())
    assert world.market.keeper_for(r + 1) == (new_account.address, new_key)
    cfg = replace(world.keeper_cfg, database=f"sqlite:///{tmp_path / 'new-keeper.sqlite'}")
    new_keeper = Keeper(cfg, new_account, w3=world.w3, use_scheduler=False)
    new_keeper.startup_checks()

    _settle(world, r)  # the old keeper settles the round committed under its key
    new_keeper.run_until_idle()  # the new keeper leaves it alone
    assert world.market.round_info(r).status is RoundStatus.SETTLED
    result = audit_round(world.market, r, world.deploy_block)
    assert result.ok and result.marks == [] and result.valid_bids == 3

    r2 = world.commit_round()  # round r + 1: clients encrypt to the new key
    assert r2 == r + 1
    world.travel_to(world.market.params.closes_at(r2) + 1)
    world.keeper.run_until_idle()  # the old keeper's term is over
    assert world.market.round_info(r2).status is RoundStatus.OPEN
    new_keeper.run_until_idle()
    assert world.market.round_info(r2).status is RoundStatus.SETTLED
    result = audit_round(world.market, r2, world.deploy_block)
    assert result.ok and result.marks == [] and result.valid_bids == 3

    # rotate back while r + 2 is open, and r + 2's keeper (the new one) disappears: its round is
    # voided after the deadline by anyone (here the old keeper, which voids what others missed)
    world.next_round()
    r3 = world.commit_round()
    free = {q.address: world.market.balance_of(q.address) for q in world.requesters}
    tx = world.market.contract.functions.rotateKeeper(
        world.keeper_account.address,
        world.keeper_account._key_obj.public_key.to_bytes()).transact({"from": owner})
    world.w3.eth.wait_for_transaction_receipt(tx)
    assert world.market.keeper_for(r3)[0] == new_account.address
    new_keeper.stop()
    world.travel_to(world.market.params.settle_deadline(r3))
    world.keeper.run_until_idle()
    assert world.market.round_info(r3).status is RoundStatus.OPEN  # not its round, not late yet
    world.travel_to(world.market.params.settle_deadline(r3) + 1)
    world.keeper.run_until_idle()
    assert world.market.round_info(r3).status is RoundStatus.VOIDED
    escrows = {e["args"]["requester"]: int(e["args"]["escrow"])
               for e in world._events("BidCommitted", r3)}
    for q in world.requesters:
        assert world.market.balance_of(q.address) == free[q.address] + escrows[q.address]


# ------------------------------------------------------------------ review findings, regressions


def _censor_first_valid_ask(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    honest = RoundPipeline._apply_rules
    victim: dict[str, int] = {}

    def censor(self: RoundPipeline, r: int, rows: list[OpeningRow]) -> None:
        honest(self, r, rows)
        for row in rows:
            if row.side == 1 and row.valid and not victim:
                victim["index"] = row.index
                self._mark_invalid(row, "quantity_above_capacity", "censored")

    monkeypatch.setattr(RoundPipeline, "_apply_rules", censor)
    return victim


def test_a_settlement_begun_again_with_other_marks_is_still_flagged(
        make_world: WorldFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The watchtower checked an honest beginSettlement; the keeper then begins again (allowed
    until the first page lands) censoring an ask: flagged."""
    world = make_world("dara", provers=3, requesters=4, seed=11, miss=False, capacity=(4, 4))
    keeper = world.keeper
    pipeline = keeper.pipeline
    assert pipeline is not None
    tower = Watchtower(world.market, world.deploy_block)
    world.next_round()
    r = world.commit_round()
    cleared(world, r)
    plan = pipeline.plan(r)
    pipeline.sender.send({**world.market.tx("beginSettlement", *plan.begin_args()),
                          "gas": plan.begin_gas})
    assert tower.poll() == []
    victim = _censor_first_valid_ask(monkeypatch)
    keeper.store.set_phase(r, Phase.DECRYPTED)
    keeper.run_until_idle()
    assert world.market.round_info(r).status is RoundStatus.SETTLED
    found = tower.poll()
    assert ("invalid_mark", f"ask {victim['index']}") in {(d.kind, d.subject) for d in found}


def _forwarder(market: str) -> bytes:
    """Runtime code that calls ``market`` with calldata[start : size - 32], ``start`` being the
    last word (so a transaction can carry a decoy call before the real one); reverts bubble up."""
    code = bytes.fromhex("6020360335806020360303808260003760006000826000600073") \
        + bytes.fromhex(market[2:]) + bytes.fromhex("5af115603557" "00")
    assert len(code) == 0x35
    return code + bytes.fromhex("5b3d600060003e3d6000fd")


def test_a_settlement_sent_through_another_contract_is_reported_unauditable(
        make_world: WorldFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A keeper that settles through a contract can put a decoy in the transaction's input: the
    audit refuses to read anything but a direct call, and says why."""
    from hexbytes import HexBytes

    from bridge.errors import UnauditableSettlement

    world = make_world("dara", provers=3, requesters=4, seed=11, miss=False, capacity=(4, 4))
    w3, m = world.w3, world.market
    runtime = _forwarder(m.address)
    init = b"\x61" + len(runtime).to_bytes(2, "big") + bytes.fromhex("80600c6000396000f3")
    rc = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": world.funder, "data": init + runtime, "gas": 500_000}))
    fwd = rc["contractAddress"]
    w3.eth.wait_for_transaction_receipt(m.contract.functions.rotateKeeper(
        fwd, m.keeper_public_key()).transact({"from": world.funder}))
    tower = Watchtower(m, world.deploy_block)
    world.next_round()
    r = world.commit_round()
    pipeline = world.keeper.pipeline
    assert pipeline is not None
    monkeypatch.setattr(pipeline, "_mine", lambda _r: True)  # its key; the contract sends
    cleared(world, r)
    honest = pipeline.plan(r)
    _censor_first_valid_ask(monkeypatch)
    world.keeper.store.set_phase(r, Phase.DECRYPTED)
    pipeline._plans.pop(r, None)
    cleared(world, r)
    real = pipeline.plan(r)

    def via_forwarder(decoy: str, actual: str, gas: int) -> None:
        data = bytes(HexBytes(decoy)) + bytes(HexBytes(actual)) \
            + len(HexBytes(decoy)).to_bytes(32, "big")
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": world.funder, "to": fwd, "data": data, "gas": gas + 200_000}))
        assert receipt["status"] == 1

    via_forwarder(m.calldata("beginSettlement", *honest.begin_args()),
                  m.calldata("beginSettlement", *real.begin_args()), real.begin_gas)
    for decoy, page in zip(honest.pages, real.pages, strict=True):
        via_forwarder(m.calldata("settleBids", *decoy.args(r)),
                      m.calldata("settleBids", *page.args(r)), page.gas)
    assert m.round_info(r).status is RoundStatus.SETTLED
    assert [(d.kind, d.round) for d in tower.poll()] == [("unauditable", r)]
    with pytest.raises(UnauditableSettlement, match="not a direct beginSettlement call"):
        audit_round(m, r, world.deploy_block)
    out = cli(world, "audit", str(r))
    assert out.exit_code == 1 and "cannot be audited" in out.output


def test_a_dara_bid_too_large_for_a_page_is_marked_invalid_not_fatal(
        make_world: WorldFactory) -> None:
    world = make_world("dara", provers=2, requesters=3, seed=3, miss=False, capacity=(4, 4))
    m = world.market
    world.next_round()
    r = world.commit_round()
    q = world.requesters[0]
    salt, value = os.urandom(32), 50 * GWEI
    for size in (2**32 - 1, 2**32):  # the largest size a page carries, and one more
        if size == 2**32:
            q = world.requesters[1]
        _raw_bid(q, r, _commit(world, r, q, sealed.Side.BID, value, size, salt),
                 sealed.seal(m.keeper_public_key(), price=value, quantity=size, salt=salt), value)
    _settle(world, r)
    assert m.round_info(r).status is RoundStatus.SETTLED
    result = audit_round(m, r, world.deploy_block)
    assert result.ok, [d.line() for d in result.differences]
    assert [(v.subject, v.reason) for v in result.marks] == [("bid 4", "size_too_large")]


def test_an_audit_from_inside_a_round_asks_for_an_earlier_block(make_world: WorldFactory
                                                                ) -> None:
    world = make_world("proofphi", provers=2, requesters=3, seed=3, miss=False)
    world.next_round()
    r = world.commit_round()
    _settle(world, r)
    first = min(int(e["blockNumber"]) for name in ("BidCommitted", "AskCommitted")
                for e in world._events(name, r))
    with pytest.raises(BridgeError, match="pass an earlier --from-block"):
        audit_round(world.market, r, first + 1)
    assert audit_round(world.market, r, first).ok


def test_the_watchtower_alerts_on_a_missed_round_and_on_the_owner_as_keeper(
        make_world: WorldFactory) -> None:
    world = make_world("proofphi", provers=2, requesters=2, seed=3, miss=False)
    m = world.market
    tower = Watchtower(m, world.deploy_block)
    world.next_round()
    r = world.commit_round()
    world.travel_to(m.params.settle_deadline(r) + 1)  # the keeper was down: nobody settled
    world.requesters[0].void_round(r, world.deploy_block)
    owner_key = sealed.public_key_bytes64(b"\x07" * 32)
    world.w3.eth.wait_for_transaction_receipt(m.contract.functions.rotateKeeper(
        world.funder, owner_key).transact({"from": world.funder}))
    kinds = sorted((d.kind, d.round) for d in tower.poll())
    assert kinds == [("missed", r), ("same_owner_and_keeper", m.current_round() + 1)]
    assert tower.poll() == []


def test_a_circuit_bid_sealed_at_another_size_is_marked_and_the_mark_checks_out(
        make_world: WorldFactory) -> None:
    """In a DARA circuit market a bid's size is its circuit's units (the contract refuses any
    other at settlement): the keeper marks a bid sealed at another size invalid, with evidence."""
    world = make_world("dara", provers=2, requesters=2, seed=3, miss=False, capacity=(4, 4),
                       proofs="groth16")
    m = world.market
    assert m.circuit_tasks
    world.next_round()
    r = world.commit_round()  # honest circuit bids, sized by their circuits
    q = world.requesters[0]
    salt, value = os.urandom(32), 300 * GWEI
    _commit_raw = _commit(world, r, q, sealed.Side.BID, value, 2, salt)  # chain16 is 1 unit
    q._send("commitTask", r, _commit_raw,
            sealed.seal(m.keeper_public_key(), price=value, quantity=2, salt=salt), value, 1, [9])
    _settle(world, r)
    assert m.round_info(r).status is RoundStatus.SETTLED
    result = audit_round(m, r, world.deploy_block)
    assert result.ok, [d.line() for d in result.differences]
    assert [(v.subject, v.reason, v.check.ok) for v in result.marks] == [
        ("bid 2", "size_not_task_units", True)]
