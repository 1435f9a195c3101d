"""web3 checks a contract's whole ABI before encoding every call: ``get_abi_element`` runs
``validate_abi``, which hashes every function's signature to look for colliding selectors (the
market's ABI: ~100 keccaks a call, a quarter of a client's time on a fast node). An ABI list is
checked once here and passes again while it holds the same elements; one that changed is checked
again. Installed when ``bridge.chain`` is imported."""

from __future__ import annotations

from typing import Any

import web3.utils.abi as web3_abi

_validate_abi = web3_abi.validate_abi
_checked: dict[int, tuple[Any, tuple[int, ...]]] = {}


def validate_abi_once(abi: Any) -> None:
    """``web3``'s ``validate_abi``, skipped for a list already checked with these elements."""
    kept = _checked.get(id(abi))
    elements = tuple(id(e) for e in abi) if isinstance(abi, list) else None
    if kept is not None and kept[0] is abi and kept[1] == elements:
        return
    _validate_abi(abi)
    if elements is not None:
        _checked[id(abi)] = (abi, elements)


def install() -> None:
    web3_abi.validate_abi = validate_abi_once
