"""Reading a contract's events in bounded block ranges, behind the head, with reorg detection.

``eth_getLogs`` is called over ranges of at most ``max_range`` blocks starting just after the last
scanned block, never from block 0 (eth-tester walks every block in the range). Only blocks at
least ``confirmations`` deep are read. The hash of every scanned block is remembered by the
caller's :class:`BlockHashes`; before reading on, the reader compares the remembered hash of the
last scanned block with the chain's. When they differ it walks back to the newest block whose hash
still matches and reports a :class:`Reorg`: the caller discards what it stored from the blocks
after that ancestor, and the next poll rescans them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils import event_abi_to_log_topic
from hexbytes import HexBytes
from web3 import Web3
from web3._utils.events import get_event_data

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """One decoded log: where it is (block, tx, index) and what it says (name, args)."""

    name: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int

    @property
    def key(self) -> tuple[str, int]:
        """Identity of the log on its chain: (transaction hash, log index)."""
        return (self.tx_hash, self.log_index)


@dataclass(frozen=True)
class Batch:
    """Result of one poll: events from ``from_block`` to ``to_block`` and their block hashes."""

    from_block: int
    to_block: int
    events: list[Event]
    block_hashes: dict[int, str]


@dataclass(frozen=True)
class Reorg:
    """The chain no longer contains blocks after ``ancestor``: discard them and rescan."""

    ancestor: int
    depth: int


class BlockHashes(Protocol):
    """Where the caller keeps the hashes of scanned blocks (the keeper's database)."""

    def last_scanned(self) -> int | None:
        """Number of the newest scanned block, or None before the first scan."""

    def remembered_blocks(self) -> list[tuple[int, str]]:
        """Remembered (number, hash) pairs of scanned blocks, newest first."""


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | HexBytes):
        return bytes(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class LogReader:
    """Polls one contract's logs; see the module docstring."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        abi: Sequence[dict[str, Any]],
        *,
        start_block: int,
        confirmations: int = 0,
        max_range: int = 500,
    ) -> None:
        if confirmations < 0 or max_range < 1:
            raise ValueError("confirmations must be ≥ 0 and max_range ≥ 1")
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.start_block = start_block
        self.confirmations = confirmations
        self.max_range = max_range
        self._events: dict[bytes, dict[str, Any]] = {
            bytes(event_abi_to_log_topic(e)): e for e in abi if e.get("type") == "event"  # type: ignore[arg-type]
        }

    def safe_head(self) -> int:
        """The newest block at least ``confirmations`` deep."""
        return int(self.w3.eth.block_number) - self.confirmations

    def _chain_hash(self, number: int) -> str | None:
        try:
            block = self.w3.eth.get_block(number)
        except Exception:
            return None
        return HexBytes(block["hash"]).to_0x_hex()

    def check_reorg(self, known: BlockHashes) -> Reorg | None:
        """Compare remembered hashes with the chain; a :class:`Reorg` if they diverged."""
        last = known.last_scanned()
        if last is None:
            return None
        ancestor = self.start_block - 1
        for number, remembered in known.remembered_blocks():
            if self._chain_hash(number) == remembered:
                ancestor = number
                break
        if ancestor >= last:
            return None
        log.warning("reorganisation: blocks %s..%s may have changed; rescanning from %s",
                    ancestor + 1, last, ancestor + 1)
        return Reorg(ancestor=ancestor, depth=last - ancestor)

    def decode(self, raw: dict[str, Any]) -> Event | None:
        """Decode one raw log with the contract ABI; None for logs of unknown events."""
        topics = raw.get("topics") or []
        if not topics:
            return None
        abi = self._events.get(bytes(HexBytes(topics[0])))
        if abi is None:
            return None
        data = get_event_data(self.w3.codec, abi, raw)
        return Event(
            name=data["event"],
            args={k: _plain(v) for k, v in data["args"].items()},
            block_number=int(raw["blockNumber"]),
            block_hash=HexBytes(raw["blockHash"]).to_0x_hex(),
            tx_hash=HexBytes(raw["transactionHash"]).to_0x_hex(),
            log_index=int(raw["logIndex"]),
        )

    def poll(self, known: BlockHashes) -> Batch | Reorg | None:
        """Read the next range of confirmed blocks; None when there is nothing new."""
        reorg = self.check_reorg(known)
        if reorg is not None:
            return reorg
        last = known.last_scanned()
        from_block = self.start_block if last is None else last + 1
        to_block = min(self.safe_head(), from_block + self.max_range - 1)
        if to_block < from_block:
            return None
        raw_logs = self.w3.eth.get_logs({
            "address": self.address, "fromBlock": from_block, "toBlock": to_block})
        events = [e for e in (self.decode(dict(r)) for r in raw_logs) if e is not None]
        hashes: dict[int, str] = {}
        for e in events:
            hashes[e.block_number] = e.block_hash
        # Remember the range's last block (the reorg check starts there) and every block with
        # events; a log whose block hash differs from a fresh lookup means the range was read
        # while the chain moved: report it as a reorg to be rescanned.
        tip_hash = self._chain_hash(to_block)
        if tip_hash is None:
            return None
        hashes[to_block] = tip_hash
        for number, h in list(hashes.items()):
            if number != to_block and self._chain_hash(number) != h:
                return Reorg(ancestor=from_block - 1, depth=to_block - from_block + 1)
        return Batch(from_block=from_block, to_block=to_block, events=events,
                     block_hashes=hashes)


LOG_RANGE = 5_000
"""Blocks per ``eth_getLogs`` request (public nodes refuse wide ranges)."""


def event_logs(market: Any, event: str, from_block: int,
               filters: dict[str, Any] | None = None, *, step: int = LOG_RANGE,
               to_block: int | None = None) -> list[Any]:
    """Decoded ``event`` logs of ``market`` from ``from_block`` to ``to_block`` (default: the
    head), in bounded ranges."""
    head = int(market.w3.eth.block_number) if to_block is None else to_block
    out: list[Any] = []
    start = from_block
    while start <= head:
        end = min(start + step - 1, head)
        out.extend(getattr(market.contract.events, event)().get_logs(
            from_block=start, to_block=end, argument_filters=filters))
        start = end + 1
    return out
