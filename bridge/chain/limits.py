"""Per-transaction limits of real networks, and the gas model of paged settlement.

Neither test chain enforces the limits mainnet clients do, so the keeper checks every transaction
it builds against them itself:

- **gas**: at most 2²⁴ = 16,777,216 per transaction (EIP-7825, Osaka);
- **size**: geth's and reth's pools refuse transactions over 128 KiB encoded;
- **calldata floor** (EIP-7623, Prague): a transaction is charged at least
  ``21000 + 10 · tokens`` with ``tokens = zero bytes + 4 · non-zero bytes`` of calldata. anvil
  applies it; a transaction whose gas limit is below its floor is never mined (no error).

Settlement pages get their gas limit from a cost model (``bench/gas.py`` measures the constants)
instead of ``eth_estimateGas``, which on eth-tester re-executes the whole page about 30 times.
"""

from __future__ import annotations

from dataclasses import dataclass

# the largest amount a settlement page's 16-byte fields hold: one definition, with the marks
from bridge.evidence import MAX_PAGE_AMOUNT as MAX_PAGE_AMOUNT

MAX_TX_GAS = 1 << 24
"""EIP-7825's per-transaction gas cap."""

MAX_TX_BYTES = 128 * 1024
"""The largest encoded transaction geth's and reth's pools accept."""


"""Largest amount (cost, value, escrow, charge, payment) a settlement page's 16-byte fields hold."""

TX_ENVELOPE_BYTES = 400
"""Room left for the signed transaction's RLP envelope around the calldata (fields, signature,
access list: none), generously."""


def calldata_tokens(data: bytes) -> int:
    """EIP-7623 tokens: zero bytes count 1, non-zero bytes 4."""
    zeros = data.count(0)
    return zeros + 4 * (len(data) - zeros)


def floor_gas(data: bytes) -> int:
    """EIP-7623's minimum charge for a transaction carrying ``data``."""
    return 21_000 + 10 * calldata_tokens(data)


def standard_calldata_gas(data: bytes) -> int:
    """Intrinsic calldata gas before the floor: 4 per zero byte, 16 per non-zero byte."""
    return 4 * calldata_tokens(data)


def charged_gas(execution_and_intrinsic: int, data: bytes) -> int:
    """What a Prague chain charges: ``max(standard, floor)``."""
    return max(execution_and_intrinsic, floor_gas(data))


@dataclass(frozen=True)
class Limits:
    """The limits a transaction must meet, and the margin a modelled gas limit gets."""

    max_gas: int = MAX_TX_GAS
    max_bytes: int = MAX_TX_BYTES
    margin_percent: int = 25
    max_page_bids: int | None = None
    """Optional cap on the bids of one page (smaller pages: tests, cautious operators)."""

    def fits(self, gas_limit: int, floor: int, calldata_bytes: int) -> bool:
        """True when a transaction with this gas limit, floor and calldata size is acceptable."""
        return (gas_limit <= self.max_gas and floor <= self.max_gas
                and calldata_bytes + TX_ENVELOPE_BYTES <= self.max_bytes)

    def gas_limit(self, modelled: int, floor: int) -> int:
        """The gas limit to send: the model plus the margin, never below the floor."""
        return max(modelled * (100 + self.margin_percent) // 100, floor + floor // 20)


DEFAULT = Limits()

# ---------------------------------------------------------------- the settlement cost model
# Execution gas (excluding the 21,000 base and calldata), upper bounds measured by bench/gas.py on
# worst cases: every requester and prover distinct (cold accounts), every job in its own bid.
PAGE_FIXED = 120_000
"""A page's fixed cost: delegatecall, progress/totals/page root/charges digest/table hash writes."""
PER_TABLE_ENTRY = 260
"""Per ask-table entry carried by a page: copy, hash (twice for DARA), reads."""
PER_BID = {"dara": 9_500, "proofphi": 10_000, "fixedprice": 9_700}
"""Per bid: commitment and chain hashes, the refund write to a cold account, the log word."""
PER_JOB = {"dara": 4_500, "proofphi": 3_500, "fixedprice": 4_600}
"""Per job: leaf hash, tree node, checks, log word."""
FINISH_FIXED = 60_000
FINISH_PER_ENTRY = 7_500
"""The last page: per table entry, a prover's outstanding units (cold write)."""
FINISH_PER_PAGE = 2_600
BEGIN_FIXED = 110_000
PER_ASK = 2_800
"""beginSettlement: per ask, reveal check and chain hash; per valid ask, a table entry."""
PER_INVALID_ASK = 5_500
"""beginSettlement: an invalid ask's forfeit of ``minEscrow`` (its prover's collateral, a cold
read and write)."""
FORFEIT_FIXED = 30_000
"""Crediting the forfeits of invalid orders to the keeper (its free balance: a first write may
be zero to non-zero) and the log, once per page or begin."""
VOID_FIXED = 60_000
VOID_PER_BID = 7_000
"""voidRound: per bid, the chain hash and a cold write of the escrow back."""
BID_COMMIT_BYTES = 128
"""ABI bytes of one ``BidCommit`` in ``voidRound``'s calldata."""
UNWIND_PER_ENTRY = 6_500
SETTLE_ABI_OVERHEAD = 4 + 7 * 32
"""``settleBids(uint256, bytes, bytes)``: selector, three heads, two lengths, padding."""


def _memory(nbytes: int) -> int:
    words = (nbytes + 31) // 32
    return 3 * words + words * words // 512


def settle_calldata_bytes(table_bytes: int, page_bytes: int) -> int:
    """Calldata size of a ``settleBids`` call."""
    return SETTLE_ABI_OVERHEAD + table_bytes + page_bytes + 62


def page_gas(mechanism: str, bids: int, jobs: int, table_entries: int, table: bytes,
             page_size: int, last: bool, ell: int, page_bytes: bytes | None = None,
             limits: Limits = DEFAULT) -> tuple[int, int]:
    """(gas limit, floor) of a ``settleBids`` page. Without ``page_bytes`` the page's calldata is
    priced as all non-zero bytes (an upper bound)."""
    if page_bytes is None:
        tokens = calldata_tokens(table) + 4 * page_size + SETTLE_ABI_OVERHEAD * 4
    else:
        tokens = calldata_tokens(table) + calldata_tokens(page_bytes) + SETTLE_ABI_OVERHEAD * 4
    size = settle_calldata_bytes(len(table), page_size)
    execution = (PAGE_FIXED + FORFEIT_FIXED + PER_TABLE_ENTRY * table_entries
                 + PER_BID[mechanism] * bids + PER_JOB[mechanism] * jobs
                 + 2 * _memory(size) + _memory(len(table)))
    if last:
        allocated = ell if mechanism == "proofphi" else table_entries
        execution += FINISH_FIXED + FINISH_PER_ENTRY * allocated
        execution += FINISH_PER_PAGE * (1 + bids // 64)
    floor = 21_000 + 10 * tokens
    return limits.gas_limit(21_000 + 4 * tokens + execution, floor), floor


def begin_gas(asks: int, valid: int, asks_bytes: bytes, no_bids: bool, mechanism: str,
              limits: Limits = DEFAULT) -> tuple[int, int]:
    """(gas limit, floor) of ``beginSettlement`` (plus the last page's work without bids)."""
    tokens = calldata_tokens(asks_bytes) + 4 * (32 * valid) + 4 * 12 * 32
    execution = (BEGIN_FIXED + PER_ASK * asks + 2 * _memory(len(asks_bytes) + 64 * valid)
                 + (FORFEIT_FIXED + PER_INVALID_ASK * (asks - valid) if asks > valid else 0))
    if no_bids:
        execution += FINISH_FIXED + FINISH_PER_ENTRY * valid
    floor = 21_000 + 10 * tokens
    return limits.gas_limit(21_000 + 4 * tokens + execution, floor), floor


def void_bids_per_tx(limits: Limits = DEFAULT, interval: int = 64) -> int:
    """The most bids one ``voidRound`` page returns: a multiple of ``interval``, within limits."""
    n = interval
    while True:
        nxt = n + interval
        gas, floor = void_gas(nxt, limits)
        if not limits.fits(gas, floor, 4 + 3 * 32 + nxt * BID_COMMIT_BYTES):
            return n
        n = nxt


def void_gas(bids: int, limits: Limits = DEFAULT) -> tuple[int, int]:
    """(gas limit, floor) of a ``voidRound`` page of ``bids`` bids (calldata priced non-zero)."""
    size = 4 + 3 * 32 + bids * BID_COMMIT_BYTES
    tokens = 4 * size
    execution = VOID_FIXED + VOID_PER_BID * bids + 2 * _memory(size)
    floor = 21_000 + 10 * tokens
    return limits.gas_limit(21_000 + 4 * tokens + execution, floor), floor


def unwind_gas(entries: int, limits: Limits = DEFAULT) -> tuple[int, int]:
    """(gas limit, floor) of ``unwindPage`` with ``entries`` charged bids."""
    size = 4 + 3 * 32 + entries * 64
    tokens = 4 * size
    execution = VOID_FIXED + UNWIND_PER_ENTRY * entries + 2 * _memory(size)
    floor = 21_000 + 10 * tokens
    return limits.gas_limit(21_000 + 4 * tokens + execution, floor), floor
