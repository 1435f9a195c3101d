"""Deadline scheduling on APScheduler 3.x, persisted in the keeper's own database.

Two kinds of work, both funnelled into the keeper's single work lock so they never overlap:

- a ``tick`` interval job (every ``poll_interval`` seconds): read new blocks and advance every
  active round. Because it looks at the chain's own time, it also handles time jumps on test
  chains, where wall-clock deadlines mean nothing;
- one date job per round deadline (round close, settlement deadline, proof deadline), so work on
  a real chain starts at the deadline rather than on the next poll.

APScheduler 3.x drops a job that starts more than ``misfire_grace_time`` late (1 s by default):
the keeper sets a grace of an hour and ``coalesce=True``, so a late deadline runs once instead of
being lost. Job ids are stable (``round-<r>-<kind>``) with ``replace_existing=True``, so a restart
re-registers instead of duplicating. Jobs refer to the keeper through :data:`_LIVE` (a persistent
job store pickles the callable's import path and arguments, not the keeper object).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


class _SkipOverlapNotice(logging.Filter):
    """APScheduler warns each time a poll fires while the previous one still runs; the keeper's
    work is serialised by design, so that is routine (on a slow node, twice a second)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_SkipOverlapNotice())
logging.getLogger("apscheduler.executors.default").addFilter(_SkipOverlapNotice())

_LIVE: dict[str, Callable[[int | None], None]] = {}
"""Scheduler key -> the running keeper's entry point (``None``: a plain tick)."""
_LIVE_LOCK = threading.Lock()


def run_scheduled(key: str, round: int | None) -> None:
    """Entry point of every persisted job: hand the work to the live keeper, if any."""
    with _LIVE_LOCK:
        target = _LIVE.get(key)
    if target is None:
        log.info("job for %s round %s fired with no live keeper; skipped", key, round)
        return
    target(round)


class DeadlineScheduler:
    """Owns the APScheduler instance of one keeper."""

    def __init__(self, key: str, database_url: str | None, work: Callable[[int | None], None],
                 *, poll_interval: float, misfire_grace_time: int) -> None:
        self.key = key
        self.poll_interval = poll_interval
        self.grace = misfire_grace_time
        store = (SQLAlchemyJobStore(url=database_url) if database_url else MemoryJobStore())
        self.scheduler = BackgroundScheduler(
            jobstores={"default": store},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": misfire_grace_time},
            timezone=UTC,
        )
        self._work = work

    def start(self) -> None:
        """Register the tick, then start the scheduler thread."""
        with _LIVE_LOCK:
            _LIVE[self.key] = self._work
        self.scheduler.add_job(run_scheduled, "interval", args=[self.key, None],
                               seconds=self.poll_interval, id=f"{self.key}-tick",
                               replace_existing=True,
                               next_run_time=datetime.now(UTC))
        self.scheduler.start()

    def at(self, round: int, kind: str, when_unix: int) -> None:
        """Run the keeper's work for ``round`` at ``when_unix`` (wall clock), once."""
        if not self.scheduler.running:
            return  # stopping: the next start re-registers from the stored phases
        when = datetime.fromtimestamp(when_unix, UTC)
        now = datetime.now(UTC)
        if when < now - timedelta(seconds=self.grace):
            return  # far in the past (e.g. a test chain's clock): the tick handles it
        self.scheduler.add_job(run_scheduled, "date", run_date=max(when, now),
                               args=[self.key, round], id=f"{self.key}-round-{round}-{kind}",
                               replace_existing=True)

    def jobs(self) -> list[str]:
        """Ids of the scheduled jobs."""
        return [j.id for j in self.scheduler.get_jobs()]

    def stop(self) -> None:
        """Stop the scheduler thread; running work finishes first."""
        with _LIVE_LOCK:
            if _LIVE.get(self.key) is self._work:
                del _LIVE[self.key]
        if self.scheduler.running:
            self.scheduler.pause()  # no new submissions to an executor being shut down
            self.scheduler.shutdown(wait=True)
