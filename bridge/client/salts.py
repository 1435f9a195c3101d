"""Local record of every sealed bid a participant made, written before the transaction is sent.

If the terminal closes after ``bridge prover ask`` or ``bridge requester bid``, the salt and the
sealed values are still on disk: the participant can check the commitment, audit the keeper's
reveal, or re-send. One JSON file (default ``~/.bridge/sealed.json``, or ``$BRIDGE_HOME``), written
atomically (temporary file + rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bridge.errors import ConfigError


@dataclass(frozen=True)
class SealedRecord:
    """What was sealed: enough to recompute the commitment and recognise the reveal."""

    chain_id: int
    market: str
    round: int
    participant: str
    side: int
    price: int
    quantity: int
    salt: str
    commitment: str
    tx_hash: str = ""
    extra: str = ""


def default_path() -> Path:
    """``$BRIDGE_HOME/sealed.json`` or ``~/.bridge/sealed.json``."""
    home = os.environ.get("BRIDGE_HOME") or str(Path.home() / ".bridge")
    return Path(home) / "sealed.json"


class SaltStore:
    """Append-only list of :class:`SealedRecord` in one JSON file."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_path()

    def all(self) -> list[SealedRecord]:
        """Every record, oldest first (:class:`ConfigError` if the file is unreadable)."""
        if not self.path.is_file():
            return []
        try:
            return [SealedRecord(**r) for r in json.loads(self.path.read_text())]
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"sealed-bid record {str(self.path)!r} cannot be read ({exc}): "
                              "move it aside (it may hold salts you need) or pass --salts "
                              "FILE") from None

    def add(self, record: SealedRecord) -> None:
        """Append ``record`` (or replace one with the same commitment, e.g. to add a tx hash)."""
        records = [r for r in self.all() if r.commitment != record.commitment]
        records.append(record)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sealed-")
            with os.fdopen(fd, "w") as f:
                json.dump([asdict(r) for r in records], f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ConfigError(f"cannot write the sealed-bid record {str(self.path)!r} "
                              f"({exc.strerror}): pass --salts FILE in a writable directory"
                              ) from None

    def find(self, *, market: str, round: int | None = None,
             participant: str | None = None) -> list[SealedRecord]:
        """Records for a market, optionally one round and one participant."""
        return [r for r in self.all()
                if r.market.lower() == market.lower()
                and (round is None or r.round == round)
                and (participant is None or r.participant.lower() == participant.lower())]
