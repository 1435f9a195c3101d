"""Mutant schemata (``bench/mutate.py``): every contract mutant compiled into one contract behind
a switch on ``block.coinbase`` must behave exactly as that mutant compiled on its own.

Real solc-js and a real py-evm chain: a small contract's guards (a pure function, ``||``, a
block guard, an ``else if``) are mutated; each mutant is compiled alone and the schema once;
then, in a process with the switch set the way ``make mutate`` sets it (the copy's
``sitecustomize``), every call on a grid of inputs must revert or return as the mutant alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import solcx

from bridge.chain.compile import SETTINGS, find_solc
from tests.unit.test_mutate_harness import mutate

pytestmark = pytest.mark.slow

SOURCE = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract C {
    error Low(uint256 a);
    error Odd();
    error Big();

    function f(uint256 a, uint256 b) external pure returns (uint256) {
        if (a < b) revert Low(a);
        if (a == 7 || b >= 3) { revert Odd(); }
        if (a > 9) { a = b; } else if (a != 8) { revert Big(); }
        return a + b;
    }
}
"""
GRID = [(a, b) for a in (0, 1, 2, 3, 7, 8, 9, 10, 11) for b in (0, 1, 2, 3, 4)]

_RUNNER = """
import json, os, sys
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
abi = [{"type": "function", "name": "f", "stateMutability": "view",
        "inputs": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "uint256"}],
        "outputs": [{"name": "", "type": "uint256"}]}]
out = []
for switch, code in json.loads(sys.stdin.read()):
    os.environ["MUTATE_SWITCH"] = str(switch)  # what make mutate sets per pytest run
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": code})
    c = w3.eth.contract(address=w3.eth.get_transaction_receipt(tx).contractAddress, abi=abi)
    row = []
    for a, b in GRID:
        try:
            row.append(c.functions.f(a, b).call())
        except Exception as exc:
            row.append("revert " + str(getattr(exc, "data", None) or exc.args)[:90])
    out.append(row)
print(json.dumps(out))
"""


def _compile(*texts: str) -> list[str]:
    """Each text's contract C, compiled in one solc call with the project's settings."""
    settings: dict[str, Any] = {**SETTINGS, "outputSelection": {
        "*": {"*": ["evm.bytecode.object"]}}}
    sources = {f"C{i}.sol": {"content": t} for i, t in enumerate(texts)}
    out = solcx.compile_standard({"language": "Solidity", "sources": sources,
                                  "settings": settings}, solc_binary=str(find_solc()))
    return ["0x" + str(out["contracts"][f"C{i}.sol"]["C"]["evm"]["bytecode"]["object"])
            for i in range(len(texts))]


def _behaviour(runs: list[tuple[int, str]], tmp: Path) -> list[list[Any]]:
    """Per ``(switch, creation code)``: the outcome of ``f`` on the grid, in one process with
    the copy's ``sitecustomize`` (as ``make mutate`` runs a copy's tests)."""
    (tmp / "sitecustomize.py").write_text(mutate._SITECUSTOMIZE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp), os.environ.get(
        "PYTHONPATH", "")]), "MUTATE_SCHEMA": "1", "MUTATE_SWITCH": "0"}
    proc = subprocess.run([sys.executable, "-c", f"GRID = {GRID!r}\n{_RUNNER}"],
                          input=json.dumps(runs), env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    rows: list[list[Any]] = json.loads(proc.stdout)
    return rows


@pytest.mark.realtime  # solc-js and a chain in subprocesses
def test_each_switch_runs_exactly_its_mutant_and_no_switch_the_original(tmp_path: Path) -> None:
    mutants = mutate.solidity_mutants(SOURCE, "contracts/C.sol")
    assert {m.kind for m in mutants} == {"negate", "drop", "flip"}
    schema, numbers = mutate.schema_text(SOURCE, list(enumerate(mutants, start=1))), {
        m.id: k for k, m in enumerate(mutants, start=1)}
    assert " pure " not in schema and "view returns" in schema
    schema_code, original_code, *alone = _compile(schema, SOURCE,
                                                  *(m.apply(SOURCE) for m in mutants))

    runs = [(0, original_code), (0, schema_code)] + [(0, code) for code in alone] + [
        (numbers[m.id], schema_code) for m in mutants]
    original, switched_off, *rows = _behaviour(runs, tmp_path)
    assert switched_off == original
    assert any(isinstance(x, int) for x in original) and any(
        isinstance(x, str) for x in original)  # the grid reaches both outcomes
    expected, got = rows[: len(mutants)], rows[len(mutants):]
    same = []
    for m, want, have in zip(mutants, expected, got, strict=True):
        assert have == want, m.id
        if want == original:
            same.append(m.id)
    assert same == []  # every mutant changes some outcome on the grid


def test_mutants_of_one_guard_share_its_parentheses_and_others_stay_untouched() -> None:
    mutants = mutate.solidity_mutants(SOURCE, "contracts/C.sol")
    low = [m for m in mutants if "Low" in m.original]
    text = mutate.schema_text(SOURCE, [(5, low[0]), (9, low[1])])
    base = mutate.SWITCH_BASE
    assert (f"if (({mutate.SWITCH} == {base + 5}) ? ((!(a < b))) : "
            f"({mutate.SWITCH} == {base + 9}) ? ((false)) : (a < b)) revert Low(a);") in text
    assert "if (a == 7 || b >= 3) { revert Odd(); }" in text
    assert mutate.switch_address(5) == "0x" + (base + 5).to_bytes(20, "big").hex()
    with pytest.raises(ValueError, match="not inside a guard"):
        mutate.schema_text(SOURCE.replace("if (a < b) revert", "if (a < b) return"),
                           [(1, low[0])])
