"""Reading a contract's events in bounded block ranges, behind the head, with reorg detection.

``eth_getLogs`` is called over ranges of at most ``max_range`` blocks starting just after the last
scanned block, never from block 0 (eth-tester walks every block in the range). Only blocks at
least ``confirmations`` deep are read. The hash of every scanned block is remembered by the
caller's :class:`BlockHashes`; before reading on, the reader compares the remembered hash of the
last scanned block with the chain's. When they differ it walks back to the newest block whose hash
still matches and reports a :class:`Reorg`: the caller discards what it stored from the blocks
after that ancestor, and the next poll rescans them. A reorganisation can also land in the middle
of a poll; :meth:`LogReader.poll` says how its reads are bracketed so that it is found as well.

Providers cap ``eth_getLogs``: too many results ("query returned more than 10000 results", Infura's
-32005), too large a response ("log response size exceeded"), too wide a range ("block range is
too wide", "exceed maximum block range"). :func:`is_range_refusal` recognises these refusals (and
nothing else: a connection error or an unrelated invalid parameter propagates unchanged). On a
refusal both :class:`LogReader` and :func:`event_logs` halve the range and ask again, down to one
block, and double it again after each success up to the configured maximum (a :class:`LogRange`).
When one block is still refused, :class:`LogReader` asks for it one event signature (topic 0 of
its ABI) at a time; when a single event of a single block is refused, there is nothing left to
split and :class:`LogLimitError` names the block, the provider's message and the fix. A poll whose
range was shortened returns a :class:`Batch` ending at the last block it did read, and the next
poll continues from there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils import event_abi_to_log_topic
from hexbytes import HexBytes
from web3 import Web3
from web3._utils.events import get_event_data

from bridge.errors import ChainError

log = logging.getLogger(__name__)


class LogLimitError(ChainError):
    """The provider refuses the logs of one block even when asked for one event at a time."""

    def __init__(self, block: int, what: str, provider_message: str) -> None:
        super().__init__(
            f"eth_getLogs of block {block} ({what}) is refused by the provider even alone "
            f"({provider_message}): its log limit is below what this block holds; use a provider "
            f"with higher eth_getLogs limits or your own node")
        self.block = block
        self.what = what
        self.provider_message = provider_message


_RATE_LIMIT = re.compile(
    r"rate[ -]?limit|too many requests|requests? per|request count|compute units|throughput"
    r"|capacity|credits|quota")
"""Rate limiting: a smaller range does not help, so these are not range refusals."""

_REFUSAL = re.compile("|".join([
    r"returned more than [\d,]+",  # geth, Infura, Polygon: query returned more than 10000 results
    r"more than [\d,]+ (?:results|logs|events)",
    r"too many (?:results|logs|blocks|events)",
    r"(?:log|logs) response size",  # Alchemy: Log response size exceeded
    r"response size (?:exceed|limit|too|should)",
    r"response (?:is )?too (?:large|big)",
    r"(?<!invalid )block range",  # Alchemy, Ankr, Chainstack, Base: ... block range ...
    r"range (?:is )?too (?:large|wide|big|long)",
    r"max(?:imum)?[ _-]?(?:block[ _-]?)?range",  # reth, BSC: exceed(s) max(imum) block range
    r"exceeds? (?:the )?(?:max|maximum|defined|allowed|range|block|log|result)",  # Cloudflare…
    r"(?:results?|logs?|range|size) limit",
    r"limit exceeded",
    r"limited to (?:a )?[\d,.]+",  # QuickNode: eth_getLogs is limited to a 10,000 range
    r"ranges? over [\d,]+ blocks",  # dRPC
    r"payload too large|entity too large",  # HTTP 413
]))
"""Messages of providers refusing an ``eth_getLogs`` as too large (matched in lower case)."""

_REFUSAL_CODES = frozenset({-32005})
"""JSON-RPC error codes meaning "limit exceeded" (Infura, and many providers copying it)."""


def _rpc_error(exc: BaseException) -> tuple[int | None, str]:
    """The JSON-RPC error code (if any) and the text of ``exc``: the error's message and data,
    or for an HTTP error its status and body (some providers answer a refusal with 4xx)."""
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    if error is None and exc.args and isinstance(exc.args[0], dict):  # ValueError({code, …})
        error = exc.args[0]
    if isinstance(error, dict):
        code = error.get("code")
        text = f"{error.get('message', '')} {error.get('data') or ''}"
        return (code if isinstance(code, int) else None), text.strip()
    http = getattr(exc, "response", None)
    status = getattr(http, "status_code", None)
    if isinstance(status, int):
        body = getattr(http, "text", "")
        body = body[:500] if isinstance(body, str) else ""
        return None, f"HTTP {status}{' payload too large' if status == 413 else ''} {body}"
    return None, str(exc)


def is_range_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is a provider refusing an ``eth_getLogs`` as too large (too many results,
    too large a response, too wide a range), which a smaller range may avoid.

    Connection failures, timeouts, rate limits and other errors are not: they must propagate.
    """
    code, text = _rpc_error(exc)
    if isinstance(exc, OSError | TimeoutError) and not text.startswith("HTTP "):
        return False  # connection refused/reset, timeouts (requests' errors are OSErrors too)
    text = text.lower()
    if _RATE_LIMIT.search(text):
        return False
    return code in _REFUSAL_CODES or _REFUSAL.search(text) is not None


def _provider_message(exc: BaseException) -> str:
    code, text = _rpc_error(exc)
    text = " ".join(text.split())
    return f"{code}: {text}" if code is not None else text


class LogRange:
    """The number of blocks per ``eth_getLogs`` request: halved on a refusal, doubled after each
    success, between one block and ``maximum``."""

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError("the log range must be ≥ 1 block")
        self.maximum = maximum
        self.current = maximum
        self.refusals = 0
        """Refusals seen so far (for logs and tests)."""

    def shrink(self, refused: int) -> None:
        """A request for ``refused`` blocks (> 1) was refused: ask for half as many next."""
        self.refusals += 1
        self.current = max(1, min(self.current, refused) // 2)

    def grow(self) -> None:
        """A request succeeded: allow twice as many blocks next time (up to the maximum)."""
        self.current = min(self.maximum, self.current * 2)


def read_adaptively(fetch: Callable[[int, int], list[Any]], span: LogRange, from_block: int,
                    to_block: int,
                    one_block: Callable[[int, BaseException], list[Any]] | None = None,
                    ) -> tuple[list[Any], int]:
    """``fetch(from_block, end)`` for the widest ``end ≤ to_block`` the provider accepts, starting
    from ``span.current`` blocks and halving on each refusal; returns the logs and ``end``.

    When one block is refused, ``one_block(block, refusal)`` reads it another way (or raises);
    without it the refusal becomes a :class:`LogLimitError`. Other errors propagate unchanged.
    The number of requests is bounded: every refusal at least halves the range.
    """
    end = min(to_block, from_block + span.current - 1)
    while True:
        try:
            logs = fetch(from_block, end)
        except Exception as exc:
            if not is_range_refusal(exc):
                raise
            width = end - from_block + 1
            if width > 1:
                span.shrink(width)
                end = from_block + span.current - 1
                log.info("eth_getLogs of %s blocks from %s refused (%s); asking for %s at a time",
                         width, from_block, _provider_message(exc), span.current)
                continue
            span.refusals += 1
            if one_block is None:
                raise LogLimitError(from_block, "all logs", _provider_message(exc)) from exc
            logs = one_block(from_block, exc)
        span.grow()
        return logs, end


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
        self.range = LogRange(max_range)
        """Blocks the next poll asks for: below ``max_range`` after the provider refused."""
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

    def _get_logs(self, from_block: int, to_block: int,
                  topic: bytes | None = None) -> list[Any]:
        query: dict[str, Any] = {"address": self.address, "fromBlock": from_block,
                                 "toBlock": to_block}
        if topic is not None:
            query["topics"] = [HexBytes(topic).to_0x_hex()]
        return list(self.w3.eth.get_logs(query))  # type: ignore[arg-type]

    def _by_topic(self, block: int, refusal: BaseException) -> list[Any]:
        """The logs of one refused block, one event signature of the ABI at a time."""
        log.warning("eth_getLogs of block %s refused even alone (%s); reading it one event at "
                    "a time", block, _provider_message(refusal))
        found: list[Any] = []
        for topic, abi in self._events.items():
            try:
                found.extend(self._get_logs(block, block, topic))
            except Exception as exc:
                if not is_range_refusal(exc):
                    raise
                raise LogLimitError(block, f"event {abi.get('name')}",
                                    _provider_message(exc)) from exc
        return sorted(found, key=lambda r: int(r["logIndex"]))

    def poll(self, known: BlockHashes) -> Batch | Reorg | None:
        """Read the next range of confirmed blocks; None when there is nothing new.

        The range is ``range.current`` blocks at most, fewer when the provider refuses (the batch
        then ends at the last block read).

        The chain may reorganise at any moment of a poll, so the poll brackets its reads: it takes
        the hash of the range's last block first, then checks the remembered blocks, reads the
        logs, and takes that hash again. Equal hashes mean the chain up to that block did not
        change in between, so the remembered blocks the check found on it and the logs read are
        of one chain; different hashes report a :class:`Reorg` of the range (the next poll's check
        finds how deep it went). Checking the remembered blocks alone would miss a reorganisation
        landing just after the check: the range would be read from the new chain and its tip
        remembered, and the old chain's events already stored would never be found out."""
        last = known.last_scanned()
        from_block = self.start_block if last is None else last + 1
        to_block = min(self.safe_head(), from_block + self.max_range - 1)
        planned = self._chain_hash(to_block) if to_block >= from_block else None
        reorg = self.check_reorg(known)
        if reorg is not None:
            return reorg
        if planned is None:
            return None  # nothing new, or the node does not have the block yet
        raw_logs, end = read_adaptively(self._get_logs, self.range, from_block, to_block,
                                        self._by_topic)
        events = [e for e in (self.decode(dict(r)) for r in raw_logs) if e is not None]
        tip_hash = planned if end == to_block else self._chain_hash(end)
        again = self._chain_hash(to_block)
        if tip_hash is None or again is None:
            return None  # the node cannot return a block now: the next poll reads the range again
        moved = Reorg(ancestor=from_block - 1, depth=to_block - from_block + 1)
        if again != planned:
            return moved
        # Remember the last block read (the reorg check starts there) and every block with
        # events. A log whose block hash is not the chain's was served from another view of
        # the chain (a load-balanced provider): the range is rescanned.
        hashes = {e.block_number: e.block_hash for e in events}
        for number, h in hashes.items():
            now = tip_hash if number == end else self._chain_hash(number)
            if now is None:
                return None
            if now != h:
                return moved
        hashes[end] = tip_hash
        return Batch(from_block=from_block, to_block=end, events=events, block_hashes=hashes)


LOG_RANGE = 5_000
"""Blocks per ``eth_getLogs`` request (public nodes refuse wide ranges)."""


def first_block_at(w3: Web3, timestamp: int, low: int, high: int) -> int:
    """The first block in ``low..high`` whose timestamp is at least ``timestamp`` (``high + 1``
    when none is): a binary search over block headers, ⌈log₂(high − low + 1)⌉ + 1 reads.

    Block timestamps never decrease, so every event a contract emits only from ``timestamp`` on
    (a round's commitments, from the moment it opens) lies at or after this block: a reader can
    start there instead of at the deployment block, whatever the chain's age."""
    lo, hi = low, high + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if int(w3.eth.get_block(mid)["timestamp"]) >= timestamp:
            hi = mid
        else:
            lo = mid + 1
    return lo


class RememberedBlocks:
    """An in-memory :class:`BlockHashes` for readers without a database (the watchtower): the
    hashes of the last ``keep`` scanned blocks worth remembering."""

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        self._hashes: dict[int, str] = {}
        self._last: int | None = None

    def last_scanned(self) -> int | None:
        return self._last

    def remembered_blocks(self) -> list[tuple[int, str]]:
        return sorted(self._hashes.items(), reverse=True)

    def record(self, batch: Batch) -> None:
        """Remember a batch read by :meth:`LogReader.poll`."""
        self._hashes.update(batch.block_hashes)
        self._last = batch.to_block
        for number in sorted(self._hashes)[:-self.keep]:
            del self._hashes[number]

    def rewind(self, ancestor: int) -> None:
        """Forget every block after ``ancestor`` (a reorganisation discarded them)."""
        self._hashes = {n: h for n, h in self._hashes.items() if n <= ancestor}
        self._last = ancestor


def event_logs(market: Any, event: str, from_block: int,
               filters: dict[str, Any] | None = None, *, step: int = LOG_RANGE,
               to_block: int | None = None) -> list[Any]:
    """Decoded ``event`` logs of ``market`` from ``from_block`` to ``to_block`` (default: the
    head), in ranges of at most ``step`` blocks, fewer while the provider refuses (see the module
    docstring); :class:`LogLimitError` when one block's ``event`` logs are refused."""
    head = int(market.w3.eth.block_number) if to_block is None else to_block
    span = LogRange(step)

    def fetch(start: int, end: int) -> list[Any]:
        return list(getattr(market.contract.events, event)().get_logs(
            from_block=start, to_block=end, argument_filters=filters))

    def one_block(block: int, refusal: BaseException) -> list[Any]:
        raise LogLimitError(block, f"event {event}", _provider_message(refusal)) from refusal

    out: list[Any] = []
    start = from_block
    while start <= head:
        logs, end = read_adaptively(fetch, span, start, head, one_block)
        out.extend(logs)
        start = end + 1
    return out
