"""The keeper's SQLite store: idempotent events, reorg rewind, phases and sent hashes survive."""

from pathlib import Path

from bridge.chain.logs import Event
from bridge.keeper.store import OpeningRow, Phase, Store


def _event(block: int, index: int, rnd: int = 1, name: str = "BidCommitted") -> Event:
    return Event(name=name, args={"round": rnd, "commitment": b"\x01" * 32},
                 block_number=block, block_hash=f"0x{block:064x}", tx_hash=f"0x{index:064x}",
                 log_index=index)


def test_events_are_stored_once_and_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    store = Store(url)
    batch = [_event(5, 0), _event(6, 1)]
    assert len(store.record_batch(6, batch, {5: "0xa", 6: "0xb"})) == 2
    assert store.record_batch(6, batch, {}) == []
    reopened = Store(url)
    assert reopened.last_scanned() == 6
    assert [e.key for e in reopened.events(round=1)] == [b.key for b in batch]
    assert reopened.events()[0].args["commitment"] == "0x" + "01" * 32
    assert reopened.remembered_blocks() == [(6, "0xb"), (5, "0xa")]


def test_rewind_drops_events_after_the_ancestor(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'k.sqlite'}")
    store.record_batch(9, [_event(5, 0), _event(8, 1)], {5: "0xa", 8: "0xc", 9: "0xd"})
    assert store.rewind(6) == 1
    assert store.last_scanned() == 6
    assert [e.block_number for e in store.events()] == [5]
    assert store.remembered_blocks() == [(5, "0xa")]


def test_round_phase_settle_hashes_and_openings_persist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    store = Store(url)
    store.set_phase(3, Phase.CLOSED)
    store.set_phase(3, Phase.SETTLEMENT_SENT)
    store.add_settle_hash(3, 7, ["0xaa", "0xbb"])
    store.save_openings(3, [OpeningRow(round=3, side=0, index=0, participant="0x" + "22" * 20,
                                       valid=True, price=str(10**30), quantity="2")])
    store.save_outcome(3, {"charges": {"0": 10**30}})
    again = Store(url)
    assert again.round_phase(3) is Phase.SETTLEMENT_SENT
    assert again.settle_hashes(3) == ["0xaa", "0xbb"]
    assert int(again.openings(3)[0].price) == 10**30
    assert again.outcome(3) == {"charges": {"0": 10**30}}
    assert again.rounds(active=True) == {3: Phase.SETTLEMENT_SENT}
    again.set_phase(3, Phase.FINALIZED)
    assert again.rounds(active=True) == {}
