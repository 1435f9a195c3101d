"""``bridge.chain.abi_checks``: web3's whole-ABI check runs once per ABI list, and still refuses
an ABI whose functions collide, first time or after the list changed."""

from __future__ import annotations

import pytest
import web3.utils.abi as web3_abi
from web3.exceptions import Web3ValueError

import bridge.chain  # noqa: F401 - installs the check
from bridge.chain import abi_checks


def _fn(name: str) -> dict[str, object]:
    return {"type": "function", "name": name, "inputs": [], "outputs": [],
            "stateMutability": "view"}


def test_an_abi_is_checked_once_and_again_when_it_changes(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    assert web3_abi.validate_abi is abi_checks.validate_abi_once
    calls: list[int] = []
    original = abi_checks._validate_abi

    def counted(abi: object) -> None:
        calls.append(1)
        original(abi)

    monkeypatch.setattr(abi_checks, "_validate_abi", counted)
    abi = [_fn("a"), _fn("b")]
    for _ in range(3):
        web3_abi.get_abi_element(abi, "a")
    assert len(calls) == 1
    abi.append(_fn("a"))  # the same signature twice: one selector for two functions
    with pytest.raises(Web3ValueError, match="colliding selectors"):
        web3_abi.get_abi_element(abi, "b")
    assert len(calls) == 2
    with pytest.raises(Web3ValueError, match="colliding selectors"):
        web3_abi.get_abi_element(list(abi), "b")  # another list, the same elements
