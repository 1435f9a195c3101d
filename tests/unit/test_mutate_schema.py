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


PROBED = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract C {
    error Low(uint256 a);
    error Odd();
    error Big();

    function h(uint256 x) internal pure returns (uint256) { return x * 2; }

    function f(uint256 a, uint256 b) external pure returns (uint256) {
        if (a + 1 <= b) revert Low(a);
        if (a == 7 || b >= 3) { revert Odd(); }
        if (a > 9) { a = b; } else if (h(a) != 16 && h(b) > a) { revert Big(); }
        return a + b;
    }
}
"""

_PROBE_RUNNER = """
import json, sys
import mutate_probe as P
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

P.install_evm()
w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
abi = [{"type": "function", "name": "f", "stateMutability": "view",
        "inputs": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "uint256"}],
        "outputs": [{"name": "", "type": "uint256"}]}]
tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": sys.stdin.read()})
c = w3.eth.contract(address=w3.eth.get_transaction_receipt(tx).contractAddress, abi=abi)
out = []
for a, b in GRID:
    P.current = P.Rec()
    try:
        c.functions.f(a, b).call()
    except Exception:
        pass
    out.append(sorted(P.current.evm))
print(json.dumps(out))
"""


@pytest.mark.realtime  # solc-js and a chain in subprocesses
def test_a_mutant_changes_an_outcome_only_on_inputs_where_its_probe_fired(
        tmp_path: Path) -> None:
    """The infection map's premise, on real compilations: wherever a mutant compiled alone
    behaves differently from the original, the probe build pushed that mutant's probe on that
    input; and the probes are not blanket (a drop's fires only where the guard reverts)."""
    mutants = mutate.solidity_mutants(PROBED, "contracts/C.sol")
    numbers = {m.id: k for k, m in enumerate(mutants, start=1)}
    guards = mutate.sol_guards(PROBED)
    numbered = list(enumerate(guards, start=1))
    flips = {m.start: numbers[m.id] for m in mutants if m.kind == "flip"}
    text, probed = mutate.probe_text(PROBED, numbered, flips)
    sch = mutate.Schemata(numbers, probed=probed)
    for m in mutants:
        sch.guard_of[m.id] = next(g for g, guard in numbered
                                  if guard.open_tok.start <= m.start < guard.close_tok.end)
    # probed: the call-free relational flips (`a + 1 <= b`, `b >= 3`), not `h(b) > a`, not `==`
    assert sorted(m.mutated.split("revert")[0].strip() for m in mutants
                  if m.kind == "flip" and numbers[m.id] in probed) == [
        "if (a + 1 < b)", "if (a == 7 || b > 3) {"]
    probe_code, original_code, *alone = _compile(text, PROBED,
                                                 *(m.apply(PROBED) for m in mutants))
    original, *rows = _behaviour([(0, original_code)] + [(0, c) for c in alone], tmp_path)
    (tmp_path / "mutate_probe.py").write_text(mutate._PROBE_MODULE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get(
        "PYTHONPATH", "")]), "MUTATE_SCHEMA": "1"}
    proc = subprocess.run([sys.executable, "-c", f"GRID = {GRID!r}\n{_PROBE_RUNNER}"],
                          input=probe_code, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    pushed = [{mutate.SWITCH_BASE + x for x in hits} for hits in json.loads(proc.stdout)]
    blanket = []
    for m, row in zip(mutants, rows, strict=True):
        _, offset = sch.infection(m)
        fired = [mutate.SWITCH_BASE + offset in p for p in pushed]
        differs = [x != y for x, y in zip(row, original, strict=True)]
        assert any(differs), m.id
        assert all(f for f, d in zip(fired, differs, strict=True) if d), m.id
        blanket.append(all(fired))
    drop_low = next(m for m in mutants if m.kind == "drop" and "Low" in m.original)
    assert not blanket[mutants.index(drop_low)]
    assert sum(blanket) < len(mutants) // 2


def test_the_python_schema_runs_each_mutant_and_the_probe_sees_where_it_differs() -> None:
    """Engine schemata: ``_MUTATE_SW = k`` runs exactly mutant ``k`` (as applied to the text),
    0 the original; the probe build computes the original and records ``k`` on exactly the
    inputs where mutant ``k`` gives another value (nested and chained comparisons included)."""
    import builtins

    src = (
        "from __future__ import annotations\n\n\n"
        "def f(a: int, b: int) -> tuple[bool, ...]:\n"
        "    inner = (a < b) == (b >= 3)\n"
        "    chained = 0 <= a < b <= 9\n"
        "    return inner, chained, a != b, [x for x in (a, b) if x > 2] == []\n"
    )
    mutants = mutate.python_mutants(src, "bridge/mechanisms/x.py")
    numbered = list(enumerate(mutants, start=1))
    assert len(mutants) == 9

    def load(text: str) -> Any:
        space: dict[str, Any] = {}
        exec(compile(text, "x.py", "exec"), space)
        return space["f"]

    grid = [(a, b) for a in range(-1, 12) for b in range(-1, 12)]
    schema = load(mutate.python_schema(src, numbered))
    original = load(src)
    hits: set[int] = set()
    probe = load(mutate.python_schema(src, numbered, probe=True))
    had = {n: getattr(builtins, n, None)
           for n in ("_MUTATE_SW", "_MUTATE_CMP", "_MUTATE_HIT", "_MUTATE_CHAIN")}
    try:
        builtins._MUTATE_CMP = lambda k, sym, a, b: (  # type: ignore[attr-defined]
            hits.add(k) if eval(f"a {sym} b") != eval(f"a {mutate.FLIP[sym]} b") else None,
            eval(f"a {sym} b"))[1]
        builtins._MUTATE_HIT = lambda ks, v: (hits.update(ks), v)[1]  # type: ignore[attr-defined]
        probe_module: dict[str, Any] = {}
        exec(mutate._PROBE_MODULE, probe_module)
        probe_module["current"] = probe_module["Rec"]()
        builtins._MUTATE_CHAIN = probe_module["chain"]  # type: ignore[attr-defined]
        builtins._MUTATE_SW = 0  # type: ignore[attr-defined]
        assert [schema(a, b) for a, b in grid] == [original(a, b) for a, b in grid]
        per_input = []
        for a, b in grid:
            hits.clear()
            probe_module["current"].py.clear()
            assert probe(a, b) == original(a, b)
            per_input.append(set(hits) | probe_module["current"].py)
        for k, m in numbered:
            alone = load(m.apply(src))
            builtins._MUTATE_SW = k  # type: ignore[attr-defined]
            got = [schema(a, b) for a, b in grid]
            builtins._MUTATE_SW = 0  # type: ignore[attr-defined]
            assert got == [alone(a, b) for a, b in grid], m.id
            differs = [alone(a, b) != original(a, b) for a, b in grid]
            assert any(differs), m.id
            assert all(k in h for h, d in zip(per_input, differs, strict=True) if d), m.id
            if m.before in ("<", "<=", ">", ">="):
                # a relational comparison's probe fires only where the flip differs
                assert not all(k in h for h in per_input), m.id
    finally:
        for n, v in had.items():
            if v is None:
                delattr(builtins, n)
            else:
                setattr(builtins, n, v)


STORE = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract C {
    error Low(uint256 a);
    uint256 public x;

    function g(uint256 a) external {
        if (a < 5) revert Low(a);
        x = a;
    }
}
"""

_REPLAY_RUNNER = """
import json, os
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

tester = EthereumTester(PyEVMBackend())
w3 = Web3(EthereumTesterProvider(tester))
abi = [{"type": "function", "name": "g", "stateMutability": "nonpayable",
        "inputs": [{"name": "a", "type": "uint256"}], "outputs": []},
       {"type": "function", "name": "x", "stateMutability": "view", "inputs": [],
        "outputs": [{"name": "", "type": "uint256"}]}]
me = w3.eth.accounts[0]
tx = w3.eth.send_transaction({"from": me, "data": CODE})
c = w3.eth.contract(address=w3.eth.get_transaction_receipt(tx).contractAddress, abi=abi)
c.functions.g(7).transact({"from": me, "gas": 100_000})  # mined with no mutant: x = 7
snap = tester.take_snapshot()
os.environ["MUTATE_SWITCH"] = str(NEGATE)  # the guard negated: g(7) would revert now
c.functions.g(3).transact({"from": me, "gas": 100_000})  # mined under the mutant: x = 3
after = c.functions.x().call()
tester.revert_to_snapshot(snap)  # re-imports the block of g(7), mined with no mutant
os.environ["MUTATE_SWITCH"] = "0"
print(json.dumps([after, c.functions.x().call()]))
"""


@pytest.mark.realtime  # solc-js and a chain in a subprocess
def test_a_block_is_replayed_under_the_switch_it_was_mined_under(tmp_path: Path) -> None:
    """eth-tester's revert re-executes the snapshot's block: under another mutant's switch its
    state root would differ (py-evm refuses the block). The copy's ``sitecustomize`` remembers
    each mined block's switch and replays it under that one."""
    mutants = mutate.solidity_mutants(STORE, "contracts/C.sol")
    negate = next(k for k, m in enumerate(mutants, start=1) if m.kind == "negate")
    schema = mutate.schema_text(STORE, list(enumerate(mutants, start=1)))
    code, = _compile(schema)
    (tmp_path / "sitecustomize.py").write_text(mutate._SITECUSTOMIZE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get(
        "PYTHONPATH", "")]), "MUTATE_SCHEMA": "1", "MUTATE_SWITCH": "0"}
    proc = subprocess.run([sys.executable, "-c", f"CODE = {code!r}\nNEGATE = {negate}\n"
                           f"{_REPLAY_RUNNER}"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-800:]
    assert json.loads(proc.stdout) == [3, 7]
