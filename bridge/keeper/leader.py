"""Only one keeper acts at a time: the holder of a lock tied to the shared database.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
  connection. If the holder dies, its connection closes and the lock is free at once; a standby
  that polls every ``retry`` seconds takes over within that time.
- SQLite: an exclusive ``flock`` on ``<database file>.lock`` (one machine only), released by the
  kernel when the holder dies.

Both are re-checked on every tick (:meth:`LeaderLock.held`): a keeper that lost its lock (its
database connection dropped) stops acting before it sends anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from typing import IO, Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

DEFAULT_LOCK_ID = 0x6272_6964_6765  # "bridge"


class LeaderLock:
    """A non-blocking, process-lifetime leadership lock on the keeper's database."""

    def __init__(self, database_url: str, lock_id: int = 0) -> None:
        self.url = database_url
        self.lock_id = lock_id or DEFAULT_LOCK_ID
        self._conn: Any = None
        self._engine: Any = None
        self._file: IO[bytes] | None = None

    @property
    def is_postgres(self) -> bool:
        """True when the database is PostgreSQL."""
        return self.url.startswith("postgresql")

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if this process holds it afterwards."""
        if self.held():
            return True
        if self.is_postgres:
            return self._try_pg()
        return self._try_file()

    def held(self) -> bool:
        """True while this process still holds the lock."""
        if self.is_postgres:
            if self._conn is None:
                return False
            try:
                row = self._conn.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND objid = :lo"),
                    {"lo": self.lock_id & 0xFFFFFFFF}).scalar()
                return bool(row)
            except Exception as exc:
                log.warning("leader lock connection lost: %s", exc)
                self._drop_pg()
                return False
        return self._file is not None

    def release(self) -> None:
        """Give the lock up (on clean shutdown)."""
        if self.is_postgres:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.lock_id})
            self._drop_pg()
        elif self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def _try_pg(self) -> bool:
        if self._engine is None:
            self._engine = create_engine(self.url, pool_size=1, max_overflow=0,
                                         pool_pre_ping=True)
        try:
            if self._conn is None:
                self._conn = self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT")
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                     {"k": self.lock_id}).scalar()
        except Exception as exc:
            log.warning("cannot reach the database for the leader lock: %s", exc)
            self._drop_pg()
            return False
        return bool(got)

    def _drop_pg(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def _try_file(self) -> bool:
        url = make_url(self.url)
        db = url.database or ""
        path = (db if db and db != ":memory:" else f"keeper-{os.getpid()}") + ".lock"
        f = open(path, "ab")  # noqa: SIM115 - held open for the process lifetime
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True
