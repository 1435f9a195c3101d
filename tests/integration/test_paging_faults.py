"""Paged settlement against anvil with the keeper process: junk up to the cap, crashes, reorgs.

- junk commitments up to the round's cap (minimum escrow, many senders, garbage ciphertexts,
  copied commitments) among honest bids: the round settles in pages and the next one, left past
  its deadline, is voided in pages; the ledger balances at every page's block; every honest
  participant withdraws exactly what the outcomes say;
- the keeper SIGKILLed between pages, and an ``anvil_reorg`` that drops pages: it resumes, no page
  lands twice, the round ends settled exactly once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bridge.chain.sender import TxSender
from bridge.errors import SettlementRejected
from tests.integration.conftest import KeeperProcess
from tests.integration.harness import Scene, make_scene

CAP = 48
INTERVAL = 4


def _junk(scene: Scene, r: int, senders: list[LocalAccount], count: int) -> int:
    """``count`` junk bids in ``r``: garbage ciphertexts, copied commitments, minimum escrow."""
    market = scene.market
    honest = [e["args"] for e in market.contract.events.BidCommitted().get_logs(
        from_block=scene.deploy_block, argument_filters={"round": r})]
    tx_senders = {a.address: TxSender(scene.w3, a, decode_revert=market.decode_revert,
                                      poll_interval=0.05) for a in senders}
    minimum = market.params.min_escrow
    for k in range(count):
        a = senders[k % len(senders)]
        if k % 3 == 0 and honest:  # a copied commitment and ciphertext
            src = honest[k % len(honest)]
            commitment, ciphertext = bytes(src["commitment"]), bytes(src["ciphertext"])
        else:  # garbage
            commitment, ciphertext = os.urandom(32), os.urandom(193 if k % 2 else 7)
        tx_senders[a.address].send(market.tx("commitBid", r, commitment, ciphertext, minimum,
                                             os.urandom(32)))
    return count


def _fund_junk(scene: Scene, n: int) -> list[LocalAccount]:
    accounts = [Account.create() for _ in range(n)]
    for a in accounts:
        scene.node.rpc("anvil_setBalance", a.address, hex(10**20))
        TxSender(scene.w3, a, decode_revert=scene.market.decode_revert, poll_interval=0.05).send(
            scene.market.tx("deposit", value=scene.market.params.min_escrow * CAP))
    return accounts


def _ledger_at_every(scene: Scene, blocks: list[int], people: list[str]) -> None:
    fn = scene.market.contract.functions
    for b in blocks:
        nonfree = int(fn.liabilities().call(block_identifier=b)[0])
        free = sum(int(fn.balanceOf(a).call(block_identifier=b)) for a in people)
        assert int(scene.w3.eth.get_balance(scene.market.address, block_identifier=b)) == \
            nonfree + free, f"ledger off at block {b}"


@pytest.mark.parametrize("mechanism", ["dara", "proofphi"])
def test_junk_up_to_the_cap_settles_and_voids_in_pages(
        anvil: Any, tmp_path: Path, keepers: list[KeeperProcess], mechanism: str) -> None:
    node = anvil(block_time=1, mixed=True)
    scene = make_scene(node, tmp_path, provers=2, requesters=3, mechanism=mechanism,
                       commit_period=30, settle_period=30, proof_period=600,
                       min_escrow="1gwei", max_bids_per_round=CAP, checkpoint_interval=INTERVAL,
                       fill_cost="0")  # paging at the cap, not its price (test_griefing prices it)
    scene.setup(provers=2, requesters=3, capacity=2)
    junk = _fund_junk(scene, 6)
    people = scene.accounts() + [a.address for a in junk]
    keeper = KeeperProcess(tmp_path, node.url, scene.record, f"sqlite:///{tmp_path / 'k.db'}",
                           confirmations=1, poll_interval=0.2, extra=("--max-page-bids", "8"))
    keepers.append(keeper.start())
    market = scene.market
    before = {q.address: market.balance_of(q.address) for q in scene.requesters}

    # round 1: honest bids, junk up to the cap, then settled by the keeper in pages
    node.travel_to(market.params.closes_at(market.current_round()) + 1)
    r = scene.commit()
    honest = len(scene.requesters)
    _junk(scene, r, junk, CAP - honest)
    with pytest.raises(SettlementRejected) as full:
        _junk(scene, r, junk, 1)
    assert full.value.name == "RoundFull"
    node.travel_to(market.params.closes_at(r) + 1)
    scene.wait_until(lambda: scene.status(r) == 1, 120, "round 1 settled")
    pages = [e for e in scene.logs("BidsSettled") if int(e["args"]["round"]) == r]
    assert len(pages) == CAP // 8, f"{len(pages)} pages"
    assert sorted(int(e["args"]["page"]) for e in pages) == list(range(CAP // 8))
    charges = [int(c) for e in sorted(pages, key=lambda e: int(e["args"]["page"]))
               for c in e["args"]["charges"]]
    assert all(c == 0 for c in charges[honest:]), "junk is never charged"
    _ledger_at_every(scene, [int(e["blockNumber"]) for e in pages], people)
    # every honest requester's free balance is its deposit minus what it was charged
    for i, q in enumerate(scene.requesters):
        assert market.balance_of(q.address) == before[q.address] - charges[i]

    # round 2: the same, left past its deadline: the keeper voids it in pages
    keeper.stop()
    node.travel_to(market.params.closes_at(market.current_round()) + 1)
    r2 = scene.commit(seed=1)
    _junk(scene, r2, junk, CAP - honest)
    node.travel_to(market.params.settle_deadline(r2) + 1)
    keepers.append(keeper.start())
    scene.wait_until(lambda: scene.status(r2) == 2, 120, "round 2 voided")
    voids = [e for e in scene.logs("BidsVoided") if int(e["args"]["round"]) == r2]
    assert len(voids) > 1 and sum(int(e["args"]["count"]) for e in voids) == CAP
    _ledger_at_every(scene, [int(e["blockNumber"]) for e in voids], people)
    assert keeper.stop() == 0
    # withdrawals: each honest requester takes exactly its ledger balance out
    for i, q in enumerate(scene.requesters):
        expected = before[q.address] - charges[i]
        assert market.balance_of(q.address) == expected
        assert q.withdraw() == expected
        assert market.balance_of(q.address) == 0
    # the junk senders get round 2's minimum escrows back; each of their round-1 bids, settled
    # as invalid, forfeited minEscrow to the keeper that settled it
    sent = [e["args"]["requester"] for e in scene.logs("BidCommitted")
            if int(e["args"]["round"]) == r]
    forfeited = sum(int(e["args"]["amount"]) for e in scene.logs("InvalidForfeited")
                    if int(e["args"]["round"]) == r)
    assert forfeited == (CAP - honest) * market.params.min_escrow
    for a in junk:
        assert market.balance_of(a.address) == market.params.min_escrow * (
            CAP - sent.count(a.address))
    _ledger_at_every(scene, [node.block_number()], people)


def test_keeper_killed_between_pages_and_a_reorg_dropping_pages(
        anvil: Any, tmp_path: Path, keepers: list[KeeperProcess]) -> None:
    node = anvil(block_time=1)  # one block a second: pages land a second apart
    scene = make_scene(node, tmp_path, provers=2, requesters=6, mechanism="dara",
                       commit_period=30, settle_period=120, proof_period=600,
                       checkpoint_interval=2)
    scene.setup(provers=2, requesters=6, capacity=3)
    db = f"sqlite:///{tmp_path / 'k.db'}"
    keeper = KeeperProcess(tmp_path, node.url, scene.record, db, confirmations=1,
                           poll_interval=0.2, extra=("--max-page-bids", "2"))
    keepers.append(keeper.start())
    market = scene.market
    node.travel_to(market.params.closes_at(market.current_round()) + 1)
    r = scene.commit()
    node.travel_to(market.params.closes_at(r) + 1)

    def pages() -> list[Any]:
        return [e for e in scene.logs("BidsSettled") if int(e["args"]["round"]) == r]

    scene.wait_until(lambda: len(pages()) >= 1, 60, "the first page", poll=0.02)
    keeper.kill()
    assert market.round_info(r).status == 3, "killed between pages: the round is settling"
    landed = len(pages())
    assert landed < 3
    keepers.append(keeper.start())
    scene.wait_until(lambda: scene.status(r) == 1, 90, "the settlement finished after restart")
    assert sorted(int(e["args"]["page"]) for e in pages()) == [0, 1, 2], "each page once"
    # drop the last two pages with a reorg once the keeper has read them: it sends them again
    last_two = sorted(pages(), key=lambda e: int(e["args"]["page"]))[1:]
    from bridge.keeper.store import Store

    store = Store(db)
    scene.wait_until(lambda: len(store.events("BidsSettled", round=r)) == 3, 30,
                     "the keeper reading every page")
    depth = node.block_number() - int(last_two[0]["blockNumber"]) + 1
    node.rpc("anvil_reorg", depth, [])
    assert market.round_info(r).status == 3
    assert int(market.contract.functions.settlementProgress(r).call()[1]) == 1
    scene.wait_until(lambda: scene.status(r) == 1, 90, "the dropped pages sent again")
    assert sorted(int(e["args"]["page"]) for e in pages()) == [0, 1, 2]
    assert len([e for e in scene.logs("RoundSettled") if int(e["args"]["round"]) == r]) == 1
    assert scene.ledger_problems() == []
    assert keeper.stop() == 0
