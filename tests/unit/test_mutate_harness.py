"""The mutant generator of ``bench/mutate.py`` (``make mutate``) on small inline sources.

Nothing is compiled or run: these check which guards and operators are found and the exact text
each mutant produces (negation, drop, boundary flips, nested parentheses, multi-line guards).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_mutate", ROOT / "bench" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


mutate = _load()

SOL = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract C {
    mapping(address => uint256) internal m; // if (x == 1) revert InComment();
    /* if (y != 2) revert InBlockComment(); */
    function f(uint256 a, uint256 b) external returns (uint256) {
        if (a < b) revert Low(a, b);
        if ((a + (b * 2)) >= g(a, (b))) revert Nested("x)(");
        if (a != 0 &&
            b <= 3) {
            revert Multi(
                a,
                b
            );
        }
        if (a > b) { a = b; revert NotAGuard(); }
        if (a == b) return 1;
        uint256 c = a << 2; if (c >> 1 == a) revert Shift();
        string memory s = "if (a > 0) revert InString();";
        if (a == 0) { a = 1; } else if (a >= 7) { revert ElseIf(); }
        return c;
    }
}
"""


def _by_kind(mutants: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in mutants:
        out.setdefault(m.kind, []).append(m)
    return out


def test_solidity_guards_are_found_and_nothing_else() -> None:
    guards = mutate.sol_guards(SOL)
    lines = [SOL[: g.if_tok.start].count("\n") + 1 for g in guards]
    # comments, strings, a block doing more than revert and an `if … return` are not guards
    assert lines == [8, 9, 10, 19, 21]
    ops = [[t.text for t in g.ops] for g in guards]
    assert ops == [["<"], [">="], ["!=", "<="], ["=="], [">="]]  # `<<`, `>>`, `=>` are not


def test_solidity_negation_and_drop_keep_the_condition_text() -> None:
    kinds = _by_kind(mutate.solidity_mutants(SOL, "contracts/C.sol"))
    negated = [m.apply(SOL) for m in kinds["negate"]]
    assert "if (!(a < b)) revert Low(a, b);" in negated[0]
    assert 'if (!((a + (b * 2)) >= g(a, (b)))) revert Nested("x)(");' in negated[1]
    assert "if (!(a != 0 &&\n            b <= 3)) {\n            revert Multi(" in negated[2]
    assert "} else if (!(a >= 7)) { revert ElseIf(); }" in negated[4]
    dropped = [m.apply(SOL) for m in kinds["drop"]]
    assert "if (false) revert Low(a, b);" in dropped[0]
    assert 'if (false) revert Nested("x)(");' in dropped[1]
    assert "if (false) {\n            revert Multi(" in dropped[2]
    assert "} else if (false) { revert ElseIf(); }" in dropped[4]
    for m in kinds["negate"] + kinds["drop"]:
        assert m.before.startswith("(") and m.before.endswith(")")


def test_solidity_boundary_flips_each_operator_once() -> None:
    flips = _by_kind(mutate.solidity_mutants(SOL, "contracts/C.sol"))["flip"]
    assert [(m.before, m.after) for m in flips] == [
        ("<", "<="), (">=", ">"), ("!=", "=="), ("<=", "<"), ("==", "!="), (">=", ">"),
    ]
    assert "if (a <= b) revert Low(a, b);" in flips[0].apply(SOL)
    assert "if ((a + (b * 2)) > g(a, (b)))" in flips[1].apply(SOL)
    assert "            b < 3) {" in flips[3].apply(SOL)
    assert "if (c >> 1 != a) revert Shift();" in flips[4].apply(SOL)


def test_solidity_mutant_ids_and_display() -> None:
    mutants = mutate.solidity_mutants(SOL, "contracts/C.sol")
    assert len(mutants) == 5 * 2 + 6
    assert len({m.id for m in mutants}) == len(mutants)
    first = mutants[0]
    assert (first.id, first.line, first.col) == ("contracts/C.sol:8:9:negate", 8, 9)
    assert first.original == "if (a < b) revert Low(a, b);"
    assert first.mutated == "if (!(a < b)) revert Low(a, b);"
    multi = next(m for m in mutants if m.id == "contracts/C.sol:11:15:le->lt")
    assert multi.original == "if (a != 0 && b <= 3) { revert Multi( a, b ); }"
    assert multi.mutated == "if (a != 0 && b < 3) { revert Multi( a, b ); }"
    noop = mutate.solidity_noop(SOL, "contracts/C.sol")
    assert noop is not None and "if ((a < b)) revert Low(a, b);" in noop.apply(SOL)


PY = '''\
def f(a, b):
    """a < b in a docstring is not code"""
    if a < b <= 3:
        return a == b
    x = [i for i in range(3) if i != a]
    y = a is b or a in (1, 2) or a not in x
    z = "φφ" if (a) >= (b) else 0  # φ > 1
    return (x, y, z,
            a
            > b)
'''


def test_python_comparisons_are_flipped_at_their_exact_columns() -> None:
    mutants = mutate.python_mutants(PY, "bridge/mechanisms/x.py")
    assert [(m.line, m.before, m.after) for m in mutants] == [
        (3, "<", "<="), (3, "<=", "<"), (4, "==", "!="), (5, "!=", "=="), (7, ">=", ">"),
        (10, ">", ">="),
    ]
    texts = [m.apply(PY) for m in mutants]
    assert "    if a <= b <= 3:\n" in texts[0]
    assert "    if a < b < 3:\n" in texts[1]
    assert "        return a != b\n" in texts[2]
    assert "if i == a]" in texts[3]
    assert '    z = "φφ" if (a) > (b) else 0  # φ > 1\n' in texts[4]  # after non-ASCII text
    assert "            >= b)\n" in texts[5]
    assert mutants[4].col == 21  # columns count characters (UTF-8 bytes would say 23)
    for m, text in zip(mutants, texts, strict=True):
        ast.parse(text)
        assert text.count("\n") == PY.count("\n") and m.target == "engine"
    assert (mutants[5].original, mutants[5].mutated) == ("a > b)", "a >= b)")  # its lines
    noop = mutate.python_noop(PY, "bridge/mechanisms/x.py")
    assert noop is not None and "    if (a) < b <= 3:\n" in noop.apply(PY)


def test_a_mutant_refuses_a_changed_source() -> None:
    m = mutate.python_mutants(PY, "x.py")[0]
    with pytest.raises(ValueError, match="source changed"):
        m.apply(PY.replace("a < b", "a  < b"))


def test_declared_equivalents_match_by_id_or_pattern(tmp_path: Path) -> None:
    declared = tmp_path / "eq.toml"
    declared.write_text('[[equivalent]]\nid = "x.py:3:*"\nreason = "line 3 is unreachable"\n')
    pairs = mutate.load_equivalent(declared)
    assert pairs == [("x.py:3:*", "line 3 is unreachable")]
    ms = mutate.python_mutants(PY, "x.py")
    assert [mutate.declared_equivalent(m, pairs) for m in ms[:3]] == [
        "line 3 is unreachable", "line 3 is unreachable", None]
    assert isinstance(mutate.load_equivalent(), list)  # the committed file parses


def test_every_mutant_of_the_repository_applies() -> None:
    mutants = mutate.discover(ROOT, noop=True)
    targets = {m.target for m in mutants}
    assert targets == {"contracts", "engine"}
    assert sum(m.kind == "noop" for m in mutants) == 2
    assert len({m.id for m in mutants}) == len(mutants)
    texts: dict[str, str] = {}
    for m in mutants:
        text = texts.setdefault(m.file, (ROOT / m.file).read_text(encoding="utf-8"))
        mutated = m.apply(text)
        assert mutated != text
        if m.target == "engine":
            ast.parse(mutated)
        assert not m.file.startswith("contracts/test/")


def test_every_declared_equivalence_names_a_mutant_of_the_repository() -> None:
    """Ids hold file:line:column: an edit above a declared equivalent mutant moves it, and the
    entry then silently names nothing (the mutant is tested again and survives)."""
    ids = [m.id for m in mutate.discover(ROOT)]
    stale = [pattern for pattern, _ in mutate.load_equivalent()
             if not any(i == pattern or mutate.fnmatch.fnmatchcase(i, pattern) for i in ids)]
    assert stale == []


def test_the_public_key_equivalences_rest_on_true_arithmetic() -> None:
    """bench/mutation_equivalent.toml's MarketStorage entries: a coordinate equal to P leaves an
    equation with no solution, so the guard's curve clause refuses the point anyway."""
    p = 2**256 - 2**32 - 977  # secp256k1's field
    assert pow(7, (p - 1) // 2, p) == p - 1  # 7 is a quadratic non-residue: no y² ≡ 7
    assert p % 3 == 1 and pow(-7 % p, (p - 1) // 3, p) != 1  # -7 is not a cube: no x³ ≡ -7
