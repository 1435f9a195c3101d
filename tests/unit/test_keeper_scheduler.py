"""Deadline scheduling on a persistent SQLite job store: stable ids, late jobs still run."""

import threading
import time
from pathlib import Path

import pytest

from bridge.keeper.scheduler import DeadlineScheduler


@pytest.mark.realtime  # APScheduler's misfire grace is wall-clock time: the keeper must be down
def test_deadline_jobs_persist_replace_and_run_late(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    ran: list[int | None] = []
    done = threading.Event()

    def work(r: int | None) -> None:
        ran.append(r)
        if r == 7:
            done.set()

    first = DeadlineScheduler("m", url, work, poll_interval=3600, misfire_grace_time=3600)
    first.start()
    first.at(9, "close", int(time.time()) + 3600)
    first.at(9, "close", int(time.time()) + 3600)  # same id: replaced, not duplicated
    first.at(7, "settle-deadline", int(time.time()) + 2)
    assert sorted(first.jobs()) == ["m-round-7-settle-deadline", "m-round-9-close", "m-tick"]
    first.stop()  # the keeper goes down before round 7's deadline ...
    time.sleep(4)  # ... and stays down past it by more than APScheduler's 1 s default grace

    # a new keeper on the same database finds the persisted jobs; the missed one runs once
    second = DeadlineScheduler("m", url, work, poll_interval=3600, misfire_grace_time=3600)
    second.start()
    assert "m-round-9-close" in second.jobs()
    assert done.wait(60), "a deadline missed while the keeper was down was dropped"
    second.stop()
    assert ran.count(7) == 1
    assert None in ran  # the tick ran at start
