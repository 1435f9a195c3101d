"""The keeper's store, job store and leader lock behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time

from bridge.chain.logs import Event
from bridge.keeper.leader import LeaderLock
from bridge.keeper.scheduler import DeadlineScheduler
from bridge.keeper.store import OpeningRow, Phase, Store


def _event(block: int, index: int, rnd: int = 1, name: str = "BidCommitted") -> Event:
    return Event(name=name, args={"round": rnd, "commitment": b"\x01" * 32},
                 block_number=block, block_hash=f"0x{block:064x}", tx_hash=f"0x{index:064x}",
                 log_index=index)


def test_events_are_stored_once_and_survive_reopening(database_url: str) -> None:
    store = Store(database_url)
    batch = [_event(5, 0), _event(6, 1)]
    assert len(store.record_batch(6, batch, {5: "0xa", 6: "0xb"})) == 2
    assert store.record_batch(6, batch, {}) == []
    reopened = Store(database_url)
    assert reopened.last_scanned() == 6
    assert [e.key for e in reopened.events(round=1)] == [b.key for b in batch]
    assert reopened.events()[0].args["commitment"] == "0x" + "01" * 32
    assert reopened.remembered_blocks() == [(6, "0xb"), (5, "0xa")]


def test_rewind_drops_events_after_the_ancestor(database_url: str) -> None:
    store = Store(database_url)
    store.record_batch(9, [_event(5, 0), _event(8, 1)], {5: "0xa", 8: "0xc", 9: "0xd"})
    assert store.rewind(6) == 1
    assert store.last_scanned() == 6
    assert [e.block_number for e in store.events()] == [5]
    assert store.remembered_blocks() == [(5, "0xa")]


def test_round_phase_settle_hashes_openings_and_jobs_persist(database_url: str) -> None:
    store = Store(database_url)
    store.set_phase(3, Phase.CLOSED)
    store.set_phase(3, Phase.SETTLEMENT_SENT)
    store.add_settle_hash(3, 7, ["0xaa", "0xbb"])
    store.save_openings(3, [OpeningRow(round=3, side=0, index=0, participant="0x" + "22" * 20,
                                       valid=True, price=str(10**30), quantity="2")])
    store.save_outcome(3, {"charges": {"0": 10**30}})
    store.save_jobs(3, [{"job": 0, "prover": "0x" + "33" * 20, "tuple": [1, 2]}])
    again = Store(database_url)
    assert again.round_phase(3) is Phase.SETTLEMENT_SENT
    assert again.settle_hashes(3) == ["0xaa", "0xbb"]
    assert int(again.openings(3)[0].price) == 10**30
    assert again.outcome(3) == {"charges": {"0": 10**30}}
    assert again.jobs(3)[0][:2] == (0, "assigned")
    assert again.rounds(active=True) == {3: Phase.SETTLEMENT_SENT}
    again.reset_round(3)
    assert again.round_phase(3) is Phase.OPEN and again.openings(3) == []
    again.set_phase(3, Phase.FINALIZED)
    assert again.rounds(active=True) == {}


def test_deadline_jobs_persist_in_the_database(database_url: str) -> None:
    first = DeadlineScheduler("m", database_url, lambda r: None, poll_interval=60,
                              misfire_grace_time=3600)
    first.start()
    first.at(4, "close", int(time.time()) + 3600)
    first.at(4, "close", int(time.time()) + 3600)  # re-registering replaces, never duplicates
    first.stop()
    second = DeadlineScheduler("m", database_url, lambda r: None, poll_interval=60,
                               misfire_grace_time=3600)
    second.scheduler.start(paused=True)
    try:
        assert "m-round-4-close" in second.jobs()
        assert second.jobs().count("m-round-4-close") == 1
    finally:
        second.scheduler.shutdown(wait=False)


def test_leader_lock_is_exclusive_and_freed_when_the_holder_dies(database_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from bridge.keeper.leader import LeaderLock;"
         f"l=LeaderLock({database_url!r}); print(l.try_acquire(), flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        standby = LeaderLock(database_url)
        assert standby.try_acquire() is False
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 10
        while not standby.try_acquire():
            assert time.monotonic() < deadline, "the lock was not freed by the holder's death"
            time.sleep(0.1)
        assert standby.held()
        standby.release()
        assert not standby.held()
    finally:
        holder.kill()
        holder.wait()


def test_the_prover_agents_state_survives_reopening_on_both_backends(database_url: str) -> None:
    """What a restarted agent relies on: its asks (salts), jobs earliest deadline first, stored
    proof bytes, 256-bit payments as text, and meta values."""
    from bridge.agents.store import OPEN_STATES, AgentStore

    store = AgentStore(database_url)
    store.record_ask(7, 60 * 10**9, 2, "0x" + "ab" * 32, "0x" + "cd" * 32, "0x" + "01" * 32)
    store.record_ask(7, 1, 1)  # a second record for the round changes nothing
    assert store.add_job(7, 1, 3, b"\x02" * 32, 1, 2**255 + 1, 2000, 1.5)
    assert store.add_job(7, 0, 2, b"\x01" * 32, 1, 5, 1000, 1.5)
    assert not store.add_job(7, 0, 2, b"\x01" * 32, 1, 5, 1000, 1.5)
    store.update_job(7, 1, state="proved", proof=b"\x00\xff" * 40)
    store.put("staked_by_agent", str(10**18))
    again = AgentStore(database_url)
    assert again.asked(7) and not again.asked(8) and again.unscanned_asks() == [7]
    assert [(j.job_index, j.state) for j in again.jobs(OPEN_STATES)] == [(0, "pending"),
                                                                        (1, "proved")]
    (proved,) = again.jobs(("proved",))
    assert proved.proof == b"\x00\xff" * 40 and int(proved.payment) == 2**255 + 1
    assert again.get("staked_by_agent") == str(10**18)
    again.mark_scanned(7)
    assert AgentStore(database_url).unscanned_asks() == []
