"""Decode the market's custom errors into :class:`bridge.errors.SettlementRejected`.

web3 hands back raw revert data; :func:`error_table` maps each 4-byte selector of an ABI's
``error`` entries to its entry, and :func:`decode_revert` turns revert data into the named error
with its decoded arguments.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from bridge.errors import SettlementRejected

T = TypeVar("T")

PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]
ERROR_STRING_SELECTOR = keccak(text="Error(string)")[:4]


def _canonical_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def error_table(abi: Sequence[dict[str, Any]]) -> dict[bytes, dict[str, Any]]:
    """``{selector: error ABI entry}`` for every custom error in ``abi``."""
    table: dict[bytes, dict[str, Any]] = {}
    for entry in abi:
        if entry.get("type") != "error":
            continue
        signature = f"{entry['name']}({','.join(_canonical_type(p) for p in entry['inputs'])})"
        table[keccak(text=signature)[:4]] = entry
    return table


def _as_bytes(data: object) -> bytes | None:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str):
        text = data.strip()
        if text.startswith("0x"):
            try:
                return bytes.fromhex(text[2:])
            except ValueError:
                return None
    return None


def decode_revert(
    abi: Sequence[dict[str, Any]], data: bytes | str, tx: str = ""
) -> SettlementRejected | None:
    """The named error for revert ``data`` (custom errors, ``Panic`` and ``Error(string)``)."""
    raw = _as_bytes(data)
    if raw is None or len(raw) < 4:
        return None
    selector, body = raw[:4], raw[4:]
    if selector == PANIC_SELECTOR:
        (code,) = abi_decode(["uint256"], body)
        return SettlementRejected("Panic", {"code": code}, tx)
    if selector == ERROR_STRING_SELECTOR:
        (reason,) = abi_decode(["string"], body)
        return SettlementRejected("Error", {"reason": reason}, tx)
    entry = error_table(abi).get(selector)
    if entry is None:
        return None
    types = [_canonical_type(p) for p in entry["inputs"]]
    values = [
        to_checksum_address(v) if t == "address" else v
        for t, v in zip(types, abi_decode(types, body), strict=True)
    ]
    names = [p["name"] or f"arg{i}" for i, p in enumerate(entry["inputs"])]
    return SettlementRejected(entry["name"], dict(zip(names, values, strict=True)), tx)


_TESTER_PREFIX = "execution reverted: b"


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a web3 / eth-tester exception, if any.

    web3 puts it in ``.data`` (hex); eth-tester's ``TransactionFailed`` only has the ``repr`` of
    the bytes in its message (``execution reverted: b'...'``).
    """
    for candidate in (getattr(exc, "data", None), *getattr(exc, "args", ())):
        if isinstance(candidate, dict):
            candidate = candidate.get("data")
        if isinstance(candidate, str) and candidate.startswith(_TESTER_PREFIX):
            try:
                candidate = ast.literal_eval(candidate[len(_TESTER_PREFIX) - 1 :])
            except (ValueError, SyntaxError):
                continue
        raw = _as_bytes(candidate)
        if raw is not None and len(raw) >= 4:
            return raw
    return None


@contextmanager
def decoded_reverts(abi: Sequence[dict[str, Any]]) -> Iterator[None]:
    """Re-raise a revert inside the block as :class:`SettlementRejected` when it decodes."""
    try:
        yield
    except SettlementRejected:
        raise
    except Exception as exc:
        data = revert_data(exc)
        decoded = decode_revert(abi, data) if data is not None else None
        if decoded is None:
            raise
        raise decoded from exc


def call_decoded(abi: Sequence[dict[str, Any]], fn: Callable[[], T]) -> T:
    """Run ``fn`` and decode any custom-error revert it raises."""
    with decoded_reverts(abi):
        return fn()
