"""Per-mutant test selection of ``bench/mutate.py`` (``make mutate``): the Solidity call graph
that maps a guard to the external entry points reaching it, the coverage-map lookup, and a
control on real code: a guard pinned by ``tests/contracts/test_guards.py`` selects that test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from eth_utils import function_abi_to_4byte_selector

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_mutate_sel", ROOT / "bench" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


mutate = _load()

SOL = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

interface I { function set(uint256 v) external; }

contract A is I {
    address internal owner;
    modifier onlyOwner() { if (msg.sender != owner) revert NotOwner(); _; }
    constructor(uint256 x) { if (x == 0) revert Zero(); _init(x); }
    function set(uint256 v) external onlyOwner { _check(v); }
    function peek(function (uint256) external f) public view returns (uint256) { return _h(); }
    function _check(uint256 v) internal pure { if (v > 10) revert TooBig(); }
    function _init(uint256 x) private { if (x > 5) revert TooBig(); }
    function _unused() private pure { if (true) revert Never(); }
    function _h() internal view returns (uint256) { if (owner == address(0)) revert NoOwner(); }
    fallback() external { if (msg.data.length == 0) revert Empty(); }
}

function free(uint256 a) pure { if (a == 1) revert One(); }
"""
FILE = "contracts/A.sol"


def _entries_of_guard(text: str, revert: str) -> frozenset[str] | None:
    graph = mutate.CallGraph.from_sources({FILE: text})
    return graph.entries(FILE, text.index(f"revert {revert}"))


def test_functions_with_bodies_are_found_with_contract_kind_and_visibility() -> None:
    found = {(f.contract, f.name, f.kind, f.visibility) for f in mutate.sol_functions(SOL, FILE)}
    assert found == {
        ("A", "onlyOwner", "modifier", "internal"),
        ("A", "constructor", "constructor", "public"),
        ("A", "set", "function", "external"),
        ("A", "peek", "function", "public"),  # the function-type parameter is not a function
        ("A", "_check", "function", "internal"),
        ("A", "_init", "function", "private"),
        ("A", "_unused", "function", "private"),
        ("A", "_h", "function", "internal"),
        ("A", "fallback", "fallback", "external"),
        ("", "free", "function", "internal"),
    }  # the interface's declaration has no body


@pytest.mark.parametrize(("revert", "entries"), [
    ("NotOwner", {"set"}),  # a modifier: the functions using it
    ("TooBig(); }\n    function _init", {"set"}),  # internal, called by an external one
    ("Zero", {"constructor"}),
    ("TooBig(); }\n    function _unused", {"constructor"}),  # private, called by the constructor
    ("NoOwner", {"peek"}),
    ("Empty", {"fallback"}),
    ("Never", set()),  # no caller at all: no test can reach it
    ("One", set()),
])
def test_a_guard_maps_to_the_entry_points_that_reach_it(revert: str, entries: set[str]) -> None:
    assert _entries_of_guard(SOL, revert) == frozenset(entries)


def _selector(name: str, *types: str) -> str:
    abi: Any = {"type": "function", "name": name, "inputs": [{"type": t} for t in types]}
    return bytes(function_abi_to_4byte_selector(abi)).hex()


def _map(tmp_path: Path) -> Any:
    arts = tmp_path / "artifacts"
    arts.mkdir()
    abi = [{"type": "function", "name": "set", "inputs": [{"type": "uint256"}]},
           {"type": "function", "name": "peek", "inputs": [{"type": "address"}]},
           {"type": "event", "name": "E", "inputs": []}]
    (arts / "A.json").write_text(json.dumps({"abi": abi}))
    f = "bridge/mechanisms/x.py"
    data = {
        "tests": {
            "t::covers": {"lines": {f: [3, 4]}, "evm": [_selector("set", "uint256")]},
            "t::opaque_engine": {"lines": {}, "evm": [], "opaque_engine": True},
            "t::failed": {"lines": {f: [3]}, "evm": ["constructor"], "failed": True},
            "t::deploys": {"lines": {f: [9]}, "evm": ["constructor"]},
            "t::unknown": {"lines": {}, "evm": ["deadbeef"]},
            "t::anvil": {"lines": {}, "evm": [], "opaque_contracts": True},  # a subprocess
            "t::delegates": {"lines": {}, "evm": [_selector("peek", "address"), "delegatecall"]},
        },
        "outside": {f: [1]},
    }
    return mutate.CoverageMap.from_json(data, mutate.selector_names(arts))


def test_the_map_selects_the_tests_that_ran_the_line_or_entry(tmp_path: Path) -> None:
    cmap = _map(tmp_path)
    f = "bridge/mechanisms/x.py"
    # a failing test is never selected (it would kill every mutant); an opaque one always is
    assert cmap.for_engine(f, [3]) == ["t::covers", "t::opaque_engine"]
    assert cmap.for_engine(f, [5, 9]) == ["t::opaque_engine", "t::deploys"]
    assert cmap.for_engine(f, [1, 2]) is None  # ran at import: unsure, the default paths
    assert cmap.for_engine("bridge/mechanisms/y.py", [3]) == ["t::opaque_engine"]
    # an unknown selector may be any fallback or receive; a delegatecall means a fallback ran
    assert cmap.for_contract(frozenset({"set"})) == ["t::covers", "t::anvil"]
    assert cmap.for_contract(frozenset({"constructor"})) == ["t::deploys", "t::anvil"]
    assert cmap.for_contract(frozenset({"fallback"})) == ["t::unknown", "t::anvil",
                                                          "t::delegates"]
    assert cmap.for_contract(frozenset({"receive"})) == ["t::unknown", "t::anvil"]
    assert cmap.for_contract(frozenset()) == ["t::anvil"]
    assert cmap.for_contract(None) == ["t::covers", "t::deploys", "t::unknown", "t::anvil",
                                       "t::delegates"]
    assert cmap.failed() == ["t::failed"]


def test_a_guard_no_test_reaches_selects_nothing(tmp_path: Path) -> None:
    cmap = _map(tmp_path)
    cmap.tests = {t: r for t, r in cmap.tests.items() if not r.get("opaque_contracts")}
    selection = mutate.Selection(cmap, mutate.CallGraph.from_sources({FILE: SOL}))
    by_line: dict[str, list[list[str] | None]] = {}
    for m in mutate.solidity_mutants(SOL, FILE):
        by_line.setdefault(m.original.split("revert ")[-1], []).append(selection.tests_for(m))
    assert by_line["Never(); }"] == [[], []]  # negate, drop: reported "no test covers it"
    assert all(t == ["t::covers"] for t in by_line["NotOwner(); _; }"])


def _real_map(tmp_path: Path, tests: list[str]) -> dict[str, Any]:
    """The map plugin run on ``tests`` of this checkout, as ``make mutate`` runs it."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mutate_covmap.py").write_text(mutate._COVMAP_PLUGIN, encoding="utf-8")
    out = tmp_path / "map.json"
    env = dict(os.environ, MUTATE_ROOT=str(ROOT), MUTATE_COVMAP=str(out),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(plugins)]),
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "mutate_covmap", *tests], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:]
    data: dict[str, Any] = json.loads(out.read_text())
    return data


@pytest.mark.realtime  # pytest in a subprocess
def test_a_pinned_guard_and_a_covered_comparison_select_their_tests(tmp_path: Path) -> None:
    pin = "tests/contracts/test_guards.py::test_treasury_withdrawal_of_nothing_is_refused"
    unit = "tests/unit/test_proofphi.py::test_example_1_honest_market"
    data = _real_map(tmp_path, [pin, unit])
    selection = mutate.Selection.build(ROOT, data)
    assert selection.map.failed() == []

    # ProverMarket.withdrawTreasury's `if (amount == 0) revert ZeroAmount();`
    text = (ROOT / "contracts" / "ProverMarket.sol").read_text(encoding="utf-8")
    at = text.index("if (amount == 0) revert ZeroAmount();",
                    text.index("function withdrawTreasury("))
    guard = [m for m in mutate.solidity_mutants(text, "contracts/ProverMarket.sol")
             if m.start <= at + len("if (amount == 0)") and m.end >= at]
    assert {m.kind for m in guard} == {"negate", "drop", "flip"}
    for m in guard:
        assert selection.tests_for(m) == [pin]  # the unit test runs no contract code

    # the engine: the comparisons the unit test ran select it, and only those
    ran = {f: set(lines) for f, lines in data["tests"][unit]["lines"].items()}
    mutants = [m for p in mutate.engine_files(ROOT)
               for m in mutate.python_mutants(p.read_text(encoding="utf-8"),
                                              p.relative_to(ROOT).as_posix())]
    covered = [m for m in mutants if ran.get(m.file, set()) & set(range(m.lines[0],
                                                                        m.lines[1] + 1))]
    assert any(m.file == "bridge/mechanisms/proofphi.py" for m in covered)
    for m in mutants:
        chosen = selection.tests_for(m)
        if chosen is not None:
            assert (unit in chosen) == (m in covered), m.id
            assert pin not in chosen  # no engine code in that contract test


def test_a_contract_mutant_recompiles_only_the_sources_importing_its_file(tmp_path: Path
                                                                         ) -> None:
    files = {
        "contracts/I.sol": "interface I {}",
        "contracts/Base.sol": 'import {I} from "./I.sol";\nabstract contract Base is I {}',
        "contracts/M.sol": 'import {Base} from "./Base.sol";\nimport "@oz/x.sol";\ncontract M {}',
        "contracts/v/V.sol": "import {I} from '../I.sol';\ncontract V {}",
        "contracts/Other.sol": "contract Other {}",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert mutate.sol_dependents(tmp_path, "contracts/Base.sol") == [
        "contracts/Base.sol", "contracts/M.sol"]
    assert mutate.sol_dependents(tmp_path, "contracts/I.sol") == [
        "contracts/Base.sol", "contracts/I.sol", "contracts/M.sol", "contracts/v/V.sol"]
    assert mutate.sol_dependents(tmp_path, "contracts/Other.sol") == ["contracts/Other.sol"]
