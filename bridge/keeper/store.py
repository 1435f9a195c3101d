"""The keeper's persistent state: SQLAlchemy over SQLite (default) or PostgreSQL (by URL).

What is kept, and why:

- ``events``: every decoded contract log, keyed by (tx hash, log index) so a rescan stores each
  log once; on a reorganisation the events of the discarded blocks are deleted and re-read.
- ``blocks``: hashes of scanned blocks, to notice a reorganisation (see :mod:`bridge.chain.logs`).
- ``rounds``: each round's phase and the hashes of every settlement transaction sent for it, so a
  restart looks those up instead of sending again.
- ``openings``: the decrypted bids and asks of a round (the keeper's private knowledge), so a
  restart does not need to decrypt again and an audit can be re-run.
- ``jobs``: the settled assignments and whether each was proven or slashed.

Wei amounts are stored as decimal strings: SQLite has no 256-bit integers.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Boolean,
    Engine,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from bridge.chain.logs import Event

REMEMBERED_BLOCKS = 256
"""How many scanned block hashes are kept for reorganisation detection."""


class Phase(enum.StrEnum):
    """The life of a round as the keeper sees it (each step checks the chain before acting)."""

    OPEN = "open"
    CLOSED = "closed"
    DECRYPTED = "decrypted"
    CLEARED = "cleared"
    SETTLEMENT_SENT = "settlement_sent"
    SETTLED = "settled"
    PROOFS = "proofs"
    FINALIZED = "finalized"
    VOIDED = "voided"

    @property
    def terminal(self) -> bool:
        """True when nothing more will happen to the round."""
        return self in (Phase.FINALIZED, Phase.VOIDED)


class Base(DeclarativeBase):
    """Declarative base of the keeper's tables."""


class MetaRow(Base):
    """Key/value facts about the store (chain id, market address, last scanned block)."""

    __tablename__ = "keeper_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class BlockRow(Base):
    """Hash of one scanned block."""

    __tablename__ = "keeper_blocks"
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))


class EventRow(Base):
    """One decoded contract log."""

    __tablename__ = "keeper_events"
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(Integer, index=True)
    block_hash: Mapped[str] = mapped_column(String(66))
    name: Mapped[str] = mapped_column(String(64), index=True)
    round: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    args: Mapped[str] = mapped_column(Text)


class RoundRow(Base):
    """A round's phase and what the keeper sent for it."""

    __tablename__ = "keeper_rounds"
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    phase: Mapped[str] = mapped_column(String(32), default=Phase.OPEN.value)
    settle_hashes: Mapped[str] = mapped_column(Text, default="[]")
    settle_nonce: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class OpeningRow(Base):
    """One decrypted bid (side 0) or ask (side 1), valid or with the reason it is not."""

    __tablename__ = "keeper_openings"
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    side: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    participant: Mapped[str] = mapped_column(String(42))
    valid: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[str] = mapped_column(String(80), default="0")
    quantity: Mapped[str] = mapped_column(String(80), default="0")
    salt: Mapped[str] = mapped_column(String(66), default="0x" + "00" * 32)


class JobRow(Base):
    """One settled assignment (a bid's units on one prover) and its fate."""

    __tablename__ = "keeper_jobs"
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    job: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    prover: Mapped[str] = mapped_column(String(42), index=True)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    data: Mapped[str] = mapped_column(Text)
    slash_hashes: Mapped[str] = mapped_column(Text, default="[]")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    """JSON with bytes as 0x-hex (integers keep full precision)."""
    return json.dumps(value, default=_json_default, sort_keys=True)


class Store:
    """The keeper's database; one instance per process, sessions per unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as s:
            yield s

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored fact, or None."""
        with self.session() as s:
            row = s.get(MetaRow, key)
            return None if row is None else row.value

    def set_meta(self, key: str, value: str) -> None:
        """Store a fact (replacing any earlier value)."""
        with self.session() as s:
            s.merge(MetaRow(key=key, value=value))

    # -- BlockHashes protocol ------------------------------------------------------------
    def last_scanned(self) -> int | None:
        """Newest scanned block (see :class:`bridge.chain.logs.BlockHashes`)."""
        value = self.get_meta("last_scanned")
        return None if value is None else int(value)

    def remembered_blocks(self) -> list[tuple[int, str]]:
        """Remembered scanned blocks, newest first."""
        with self.session() as s:
            rows = s.scalars(select(BlockRow).order_by(BlockRow.number.desc())).all()
            return [(r.number, r.hash) for r in rows]

    # -- events --------------------------------------------------------------------------
    def record_batch(self, to_block: int, events: list[Event],
                     block_hashes: dict[int, str]) -> list[Event]:
        """Store a scanned range atomically; returns the events that were new."""
        new: list[Event] = []
        with self.session() as s:
            for e in events:
                if s.get(EventRow, (e.tx_hash, e.log_index)) is not None:
                    continue
                rnd = e.args.get("round")
                s.add(EventRow(tx_hash=e.tx_hash, log_index=e.log_index,
                               block_number=e.block_number, block_hash=e.block_hash,
                               name=e.name, round=None if rnd is None else int(rnd),
                               args=dumps(e.args)))
                new.append(e)
            for number, h in block_hashes.items():
                s.merge(BlockRow(number=number, hash=h))
            s.merge(MetaRow(key="last_scanned", value=str(to_block)))
            s.flush()
            keep = s.scalars(select(BlockRow.number).order_by(BlockRow.number.desc())
                             .offset(REMEMBERED_BLOCKS).limit(1)).first()
            if keep is not None:
                s.execute(delete(BlockRow).where(BlockRow.number <= keep))
        return new

    def rewind(self, ancestor: int) -> int:
        """Forget everything read from blocks after ``ancestor``; returns events dropped."""
        with self.session() as s:
            dropped = s.execute(delete(EventRow).where(EventRow.block_number > ancestor))
            s.execute(delete(BlockRow).where(BlockRow.number > ancestor))
            s.merge(MetaRow(key="last_scanned", value=str(ancestor)))
            return int(getattr(dropped, "rowcount", 0) or 0)

    def events(self, name: str | None = None, round: int | None = None) -> list[Event]:
        """Stored events in chain order, optionally filtered by name and round."""
        with self.session() as s:
            q = select(EventRow)
            if name is not None:
                q = q.where(EventRow.name == name)
            if round is not None:
                q = q.where(EventRow.round == round)
            q = q.order_by(EventRow.block_number, EventRow.log_index)
            return [_event(r) for r in s.scalars(q).all()]

    # -- rounds --------------------------------------------------------------------------
    def round_phase(self, round: int) -> Phase | None:
        """The keeper's phase for ``round``, or None if it has never seen it."""
        with self.session() as s:
            row = s.get(RoundRow, round)
            return None if row is None else Phase(row.phase)

    def set_phase(self, round: int, phase: Phase, note: str = "") -> None:
        """Move ``round`` to ``phase`` (creating the row if needed)."""
        with self.session() as s:
            row = s.get(RoundRow, round)
            if row is None:
                row = RoundRow(round=round, phase=phase.value, settle_hashes="[]", note=note)
                s.add(row)
            else:
                row.phase = phase.value
                if note:
                    row.note = note

    def reset_round(self, round: int) -> None:
        """Forget what was derived for ``round`` (openings, outcome, jobs); back to ``open``.

        Used after a reorganisation: the round is re-derived from the re-read logs, and every step
        checks the chain before sending, so nothing is sent twice.
        """
        with self.session() as s:
            s.execute(delete(OpeningRow).where(OpeningRow.round == round))
            s.execute(delete(JobRow).where(JobRow.round == round))
            row = s.get(RoundRow, round)
            if row is not None:
                row.phase = Phase.OPEN.value
                row.outcome = None
                row.note = "reset after a reorganisation"

    def rounds(self, *, active: bool | None = None) -> dict[int, Phase]:
        """Known rounds and their phases (``active=True``: only non-terminal ones)."""
        with self.session() as s:
            rows = s.scalars(select(RoundRow).order_by(RoundRow.round)).all()
            out = {r.round: Phase(r.phase) for r in rows}
        if active is None:
            return out
        return {k: v for k, v in out.items() if (not v.terminal) == active}

    def add_settle_hash(self, round: int, nonce: int, hashes: list[str]) -> None:
        """Remember every hash broadcast for the round's settlement (before waiting on it)."""
        with self.session() as s:
            row = s.get(RoundRow, round)
            if row is None:
                raise KeyError(f"round {round} is not in the store")
            row.settle_nonce = nonce
            row.settle_hashes = json.dumps(hashes)

    def settle_hashes(self, round: int) -> list[str]:
        """Hashes of settlement transactions sent for ``round``."""
        with self.session() as s:
            row = s.get(RoundRow, round)
            return [] if row is None else list(json.loads(row.settle_hashes))

    def save_outcome(self, round: int, outcome: dict[str, Any]) -> None:
        """Keep the cleared (and audited) outcome of a round, as JSON."""
        with self.session() as s:
            row = s.get(RoundRow, round)
            if row is None:
                raise KeyError(f"round {round} is not in the store")
            row.outcome = dumps(outcome)

    def outcome(self, round: int) -> dict[str, Any] | None:
        """The stored outcome of a round, or None."""
        with self.session() as s:
            row = s.get(RoundRow, round)
            return None if row is None or row.outcome is None else dict(json.loads(row.outcome))

    # -- openings ------------------------------------------------------------------------
    def save_openings(self, round: int, rows: list[OpeningRow]) -> None:
        """Replace the decrypted bids and asks of ``round``."""
        with self.session() as s:
            s.execute(delete(OpeningRow).where(OpeningRow.round == round))
            for r in rows:
                s.add(r)

    def openings(self, round: int, side: int | None = None) -> list[OpeningRow]:
        """Decrypted bids/asks of a round in commit order."""
        with self.session() as s:
            q = select(OpeningRow).where(OpeningRow.round == round)
            if side is not None:
                q = q.where(OpeningRow.side == side)
            return list(s.scalars(q.order_by(OpeningRow.side, OpeningRow.index)).all())

    # -- jobs ----------------------------------------------------------------------------
    def save_jobs(self, round: int, jobs: list[dict[str, Any]]) -> None:
        """Record a settled round's jobs (idempotent)."""
        with self.session() as s:
            for j in jobs:
                if s.get(JobRow, (round, int(j["job"]))) is None:
                    s.add(JobRow(round=round, job=int(j["job"]), prover=str(j["prover"]),
                                 status="assigned", data=dumps(j), slash_hashes="[]"))

    def jobs(self, round: int) -> list[tuple[int, str, dict[str, Any]]]:
        """(job index, status, data) of a round's jobs."""
        with self.session() as s:
            rows = s.scalars(select(JobRow).where(JobRow.round == round)
                             .order_by(JobRow.job)).all()
            return [(r.job, r.status, dict(json.loads(r.data))) for r in rows]

    def set_job_status(self, round: int, job: int, status: str,
                       slash_hashes: list[str] | None = None) -> None:
        """Mark a job assigned/proven/slashed (and remember slash transaction hashes)."""
        with self.session() as s:
            row = s.get(JobRow, (round, job))
            if row is None:
                raise KeyError(f"job {job} of round {round} is not in the store")
            row.status = status
            if slash_hashes is not None:
                row.slash_hashes = json.dumps(slash_hashes)

    def slash_hashes(self, round: int, job: int) -> list[str]:
        """Hashes of slash transactions sent for a job."""
        with self.session() as s:
            row = s.get(JobRow, (round, job))
            return [] if row is None else list(json.loads(row.slash_hashes))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _event(r: EventRow) -> Event:
    args = json.loads(r.args)
    return Event(name=r.name, args=args, block_number=r.block_number, block_hash=r.block_hash,
                 tx_hash=r.tx_hash, log_index=r.log_index)
