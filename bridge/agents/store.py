"""The prover agent's state: SQLAlchemy over SQLite (default) or PostgreSQL (by URL).

- ``prover_asks``: one row per round the agent asked in (cost, units, commitment, salt, tx), written
  right after the ask lands; the chain's ``lastAskRound`` is the authority on whether a round was
  asked, so a crash between sending and writing never leads to a second ask.
- ``prover_jobs``: every job assigned to the agent with its deadline, state (``pending`` →
  ``proved`` → ``submitted`` → ``proven``; or ``slashed``/``missed``), the proof bytes once computed
  (a restart submits them without proving again) and timings for the metrics.
- ``prover_meta``: per-round log-read start blocks and other small facts.

Wei amounts are decimal strings: SQLite has no 256-bit integers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Float, Integer, LargeBinary, String, Text, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

OPEN_STATES = ("pending", "proved", "submitted")
"""Job states in which the agent still has work (or a transaction) outstanding."""


class Base(DeclarativeBase):
    """Declarative base of the agent's tables."""


class AskRow(Base):
    __tablename__ = "prover_asks"
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cost: Mapped[str] = mapped_column(String(80))
    units: Mapped[int] = mapped_column(Integer)
    commitment: Mapped[str] = mapped_column(String(66), default="")
    salt: Mapped[str] = mapped_column(String(66), default="")
    tx_hash: Mapped[str] = mapped_column(String(66), default="")
    scanned: Mapped[int] = mapped_column(Integer, default=0)
    """1 once the round is final and its jobs (if any) are in ``prover_jobs``."""


class JobRow(Base):
    __tablename__ = "prover_jobs"
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    job_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bid_index: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(66))
    units: Mapped[int] = mapped_column(Integer)
    payment: Mapped[str] = mapped_column(String(80))
    deadline: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    proof: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    tx_hash: Mapped[str] = mapped_column(String(66), default="")
    seen_at: Mapped[float] = mapped_column(Float, default=0.0)
    proved_at: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")


class MetaRow(Base):
    __tablename__ = "prover_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AgentStore:
    """Typed access to the agent's tables (one short transaction per call)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _pragmas(conn: Any, _record: Any) -> None:
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.close()
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._session.begin() as s:
            yield s

    # -- meta ----------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(MetaRow, key)
            return None if row is None else row.value

    def put(self, key: str, value: str) -> None:
        with self.session() as s:
            s.merge(MetaRow(key=key, value=value))

    # -- asks ----------------------------------------------------------------------------------
    def record_ask(self, round: int, cost: int, units: int, commitment: str = "",
                   salt: str = "", tx_hash: str = "") -> None:
        with self.session() as s:
            if s.get(AskRow, round) is None:
                s.add(AskRow(round=round, cost=str(cost), units=units, commitment=commitment,
                             salt=salt, tx_hash=tx_hash, scanned=0))

    def asked(self, round: int) -> bool:
        with self.session() as s:
            return s.get(AskRow, round) is not None

    def unscanned_asks(self) -> list[int]:
        with self.session() as s:
            return list(s.scalars(select(AskRow.round).where(AskRow.scanned == 0)
                                  .order_by(AskRow.round)))

    def mark_scanned(self, round: int) -> None:
        with self.session() as s:
            row = s.get(AskRow, round)
            if row is not None:
                row.scanned = 1

    def ask_count(self) -> int:
        with self.session() as s:
            return len(list(s.scalars(select(AskRow.round))))

    # -- jobs ----------------------------------------------------------------------------------
    def add_job(self, round: int, job_index: int, bid_index: int, task: bytes, units: int,
                payment: int, deadline: int, seen_at: float) -> bool:
        """Insert a job once; returns True if it was new."""
        with self.session() as s:
            if s.get(JobRow, (round, job_index)) is not None:
                return False
            s.add(JobRow(round=round, job_index=job_index, bid_index=bid_index,
                         task="0x" + task.hex(), units=units, payment=str(payment),
                         deadline=deadline, state="pending", seen_at=seen_at))
            return True

    def jobs(self, states: tuple[str, ...] | None = None) -> list[JobRow]:
        """Jobs (in the given states), earliest deadline first."""
        with self.session() as s:
            q = select(JobRow).order_by(JobRow.deadline, JobRow.round, JobRow.job_index)
            if states is not None:
                q = q.where(JobRow.state.in_(states))
            return list(s.scalars(q))

    def update_job(self, round: int, job_index: int, **values: Any) -> None:
        with self.session() as s:
            row = s.get(JobRow, (round, job_index))
            if row is None:
                raise KeyError((round, job_index))
            for k, v in values.items():
                setattr(row, k, v)
