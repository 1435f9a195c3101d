"""Mutation testing: does the test suite notice when a guard or a comparison is changed?

Mutants, generated from the sources as they are now:

- **contracts** — every ``if (COND) revert …;`` guard (also ``if (COND) { revert …; }`` and
  ``else if``) in ``contracts/**/*.sol`` except ``contracts/test/``: the condition negated
  (``if (!(COND))``), the guard dropped (``if (false)``), and each comparison operator in COND
  flipped at its boundary (``<``↔``<=``, ``>``↔``>=``, ``==``↔``!=``).
- **engine** — every comparison operator of ``bridge/mechanisms/**/*.py`` (``ast.Compare``), flipped
  the same way.

**The default run** (34 min for all 1,055 mutants on 2 cores; ``--jobs 2``):

1. *Schemata*: every mutant is compiled in behind a switch, in a private copy of the repository.
   A contract guard's condition becomes ``((SW == BASE+k₁) ? (COND₁) : … : (COND))`` with ``SW``
   ``block.coinbase``, which the copy's ``sitecustomize`` makes the switch in ``MUTATE_SWITCH``
   (one solc-js run for all of them); an engine comparison becomes
   ``(MUTANT) if _MUTATE_SW == k else …`` with ``_MUTATE_SW`` a builtin (``python_schema``).
2. *The infection map*: the fast tier (``make check``'s tests of ``tests/unit tests/contracts
   tests/e2e``) runs once, on *probe* sources in a second copy, recording per test which mutants
   would have made a difference there: a guard evaluated (``negate``), a guard true (``drop``),
   a flipped comparison's operands equal (``probe_text``; a comparison with a call in an operand
   counts as infected whenever its guard runs), an engine comparison whose flip gives another
   value (``_MUTATE_CMP``). A test in which a mutant never differs runs exactly as on the original,
   so it cannot kill it: each mutant runs only the tests it infected (plus the tests the map
   could not see into: a Python or anvil subprocess, a connection to a port this process does not
   serve), fastest first; one no test infects survives without a run. Hits while a wide (not
   function-scoped) fixture is built make the mutant *isolated*: the fixtures are rebuilt under
   it, and every test using them runs. Hits at import time (outside any test) give the mutant a
   pytest process of its own, switched from the start, and every test.
3. *Batches*: ``--jobs`` pytest processes collect the tests once and then test mutant after
   mutant from a shared queue (``_BATCH_PLUGIN``), a test over ``--test-timeout`` ending its
   mutant as ``timeout``; a process that dies is replaced.
4. A survivor that ran tests is then applied on its own (a contract compiled alone, an engine file
   edited) and tested again in a fresh copy: identical bytecode makes it ``equivalent``.

``--legacy-map`` runs one pytest process per mutant with the older entry-point coverage map;
``--no-map`` / ``--tests`` run the per-target default paths (``tests/contracts tests/e2e``, or
``tests/unit``) per mutant; ``--compile-each`` compiles each contract mutant on its own (~15 s).

Statuses: ``killed`` (a test failed), ``survived`` (all passed, or none was infected),
``timeout``, ``equivalent`` (declared in ``bench/mutation_equivalent.toml``, or identical
bytecode), ``error`` (the harness could not judge it). The score is killed / (mutants −
equivalent − error): a timeout counts as not killed. ``--noop`` adds a control per target (every
test of the target at switch 0, in the schema copy) that must survive; if it does not, the suite
fails on its own and the run exits 1. Ids are ``file:line:column:change``, so they move when the
file is edited (re-check ``mutation_equivalent.toml`` then).

    .venv/bin/python bench/mutate.py --list                  # every mutant, nothing run
    .venv/bin/python bench/mutate.py --sample 5 --seed 1     # five random mutants
    .venv/bin/python bench/mutate.py --only engine --file bridge/mechanisms/proofphi.py
    .venv/bin/python bench/mutate.py --id '*ProverMarket.sol:274:*'
    .venv/bin/python bench/mutate.py --estimate --map /tmp/mutate-map.json  # per-mutant tests
    .venv/bin/python bench/mutate.py --jobs 2 --noop --map /tmp/mutate-map.json  # the full run

Writes ``bench/results/mutation.json`` (``--out``: per mutant its status, seconds and the tests
it ran) and prints a table; each mutant's line in the log names the test that killed it.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import contextlib
import copy
import fnmatch
import hashlib
import io
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tokenize
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from queue import Empty, Queue
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "mutation.json"
EQUIVALENT_FILE = REPO / "bench" / "mutation_equivalent.toml"

CONTRACT_GLOB = "contracts/**/*.sol"
CONTRACT_SKIP = ("contracts/test/",)
ENGINE_GLOB = "bridge/mechanisms/**/*.py"
ARTIFACTS = "bridge/artifacts"

DEFAULT_TESTS = {
    "contracts": ["tests/contracts", "tests/e2e"],
    "engine": ["tests/unit"],
}
# Tests that cannot kill a mutant here, left out of the default selection: the copy's artifacts
# were just compiled from the mutated sources, so they always match a fresh compilation (~15 s).
DEFAULT_DESELECT = {
    "contracts": [
        "tests/contracts/test_verifiers_and_guards.py"
        "::test_committed_artifacts_match_a_fresh_compilation",
    ],
    "engine": [
        # runs a contract test and a unit test through the map's plugin in a subprocess: slow,
        # and (a subprocess) selected for every mutant; the tests it runs are selected anyway
        "tests/unit/test_mutate_selection.py"
        "::test_a_pinned_guard_and_a_covered_comparison_select_their_tests",
    ],
}

# The coverage map's run: every test that may run engine or contract code, once, unmutated.
MAP_TESTS = ["tests/unit", "tests/contracts", "tests/e2e"]
MAP_DESELECT = DEFAULT_DESELECT["contracts"] + DEFAULT_DESELECT["engine"]
MAP_INPUTS = ("bridge/", "contracts/", "tests/", "pyproject.toml")

FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
OP_NAME = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
PY_OPS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
}


# -- mutants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """One change to one file: ``text[start:end] == before`` is replaced by ``after``.

    ``original`` / ``mutated`` are the affected statement (or lines) before and after, whitespace
    collapsed to one line, for people; ``kind`` is ``negate``, ``drop``, ``flip`` or ``noop``.
    """

    id: str
    target: str  # "contracts" or "engine"
    file: str  # repository-relative, POSIX
    line: int
    col: int
    kind: str
    start: int
    end: int
    before: str
    after: str
    original: str
    mutated: str
    lines: tuple[int, int] = (0, 0)  # the lines of the affected expression (engine)

    def apply(self, text: str) -> str:
        """``text`` with this mutation; ValueError if ``text`` is not what it was made from."""
        if text[self.start : self.end] != self.before:
            raise ValueError(f"{self.id}: source changed since the mutant was generated")
        return text[: self.start] + self.after + text[self.end :]


class _Lines:
    """Offset ↔ (line, column) for one text (both 1-based, columns in characters)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def pos(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1

    def span_lines(self, start: int, end: int) -> tuple[int, int]:
        """Offsets of the whole lines covering ``[start, end)``."""
        lo = self.starts[self.pos(start)[0] - 1]
        hi = self.text.find("\n", max(end - 1, start))
        return lo, len(self.text) if hi < 0 else hi


def _oneline(s: str) -> str:
    return " ".join(s.split())


def _make(target: str, file: str, text: str, lines: _Lines, kind: str, name: str,
          start: int, end: int, after: str, shown: tuple[int, int], at: int) -> Mutant:
    """A mutant replacing ``text[start:end]`` by ``after``; ``shown`` is the span displayed."""
    line, col = lines.pos(at)
    lo, hi = shown
    mutated_text = text[lo:start] + after + text[end:hi]
    return Mutant(
        id=f"{file}:{line}:{col}:{name}", target=target, file=file, line=line, col=col,
        kind=kind, start=start, end=end, before=text[start:end], after=after,
        original=_oneline(text[lo:hi]), mutated=_oneline(mutated_text),
    )


# -- Solidity ---------------------------------------------------------------------------------

_SOL_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<number>0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE]-?[0-9_]+)?)
  | (?P<op>>>>=|<<=|>>=|>>>|\*\*=|==|!=|<=|>=|&&|\|\||<<|>>|=>|->|\+\+|--|\*\*
          |[-+*/%&|^]=|.)
    """,
    re.S | re.X,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


def sol_tokens(text: str) -> list[Token]:
    """Solidity tokens without whitespace and comments (strings kept whole)."""
    out = []
    for m in _SOL_TOKEN.finditer(text):
        kind = m.lastgroup or "op"
        if kind not in ("ws", "comment"):
            out.append(Token(kind, m.group(), m.start(), m.end()))
    return out


_OPEN = {"(": ")", "[": "]", "{": "}"}


def _matching(toks: Sequence[Token], i: int) -> int | None:
    """Index of the bracket closing ``toks[i]`` (an opening bracket), or None."""
    stack = []
    for j in range(i, len(toks)):
        t = toks[j].text
        if t in _OPEN:
            stack.append(_OPEN[t])
        elif t in (")", "]", "}"):
            if not stack or stack.pop() != t:
                return None
            if not stack:
                return j
    return None


def _statement_end(toks: Sequence[Token], i: int) -> int | None:
    """Index of the ``;`` ending the statement starting at ``toks[i]`` (brackets skipped)."""
    j = i
    while j < len(toks):
        t = toks[j].text
        if t == ";":
            return j
        if t in _OPEN:
            k = _matching(toks, j)
            if k is None:
                return None
            j = k
        elif t in (")", "]", "}"):
            return None
        j += 1
    return None


@dataclass(frozen=True)
class Guard:
    """``if (COND) revert …;``: token indices of ``if``, the condition's parentheses, the end."""

    if_tok: Token
    open_tok: Token
    close_tok: Token
    end_tok: Token
    ops: tuple[Token, ...]


def sol_guards(text: str) -> list[Guard]:
    """Every ``if (COND) revert …;`` / ``if (COND) { revert …; }`` in ``text``."""
    toks = sol_tokens(text)
    guards = []
    for i, tok in enumerate(toks):
        if tok.kind != "ident" or tok.text != "if" or i + 1 >= len(toks):
            continue
        if toks[i + 1].text != "(":
            continue
        close = _matching(toks, i + 1)
        if close is None or close + 1 >= len(toks):
            continue
        j = close + 1
        block = toks[j].text == "{"
        if block:
            j += 1
        if j >= len(toks) or toks[j].kind != "ident" or toks[j].text != "revert":
            continue
        end = _statement_end(toks, j)
        if end is None:
            continue
        if block:
            if end + 1 >= len(toks) or toks[end + 1].text != "}":
                continue  # the block does more than revert: not a plain guard
            end += 1
        ops = tuple(t for t in toks[i + 2 : close] if t.kind == "op" and t.text in FLIP)
        guards.append(Guard(tok, toks[i + 1], toks[close], toks[end], ops))
    return guards


def solidity_mutants(text: str, file: str) -> list[Mutant]:
    """Negation, drop and boundary-flip mutants of every revert guard in ``text``."""
    lines = _Lines(text)
    out = []
    for g in sol_guards(text):
        shown = lines.span_lines(g.if_tok.start, g.end_tok.end)
        lo, hi = g.open_tok.start, g.close_tok.end
        cond = text[g.open_tok.end : g.close_tok.start]
        at = g.if_tok.start
        out.append(_make("contracts", file, text, lines, "negate", "negate", lo, hi,
                         f"(!({cond}))", shown, at))
        out.append(_make("contracts", file, text, lines, "drop", "drop", lo, hi, "(false)",
                         shown, at))
        for op in g.ops:
            name = f"{OP_NAME[op.text]}->{OP_NAME[FLIP[op.text]]}"
            out.append(_make("contracts", file, text, lines, "flip", name, op.start, op.end,
                             FLIP[op.text], shown, op.start))
    return out


def solidity_noop(text: str, file: str) -> Mutant | None:
    """A control mutant: the first guard's condition in an extra pair of parentheses."""
    guards = sol_guards(text)
    if not guards:
        return None
    g = guards[0]
    lines = _Lines(text)
    lo, hi = g.open_tok.start, g.close_tok.end
    return _make("contracts", file, text, lines, "noop", "noop", lo, hi, f"({text[lo:hi]})",
                 lines.span_lines(g.if_tok.start, g.end_tok.end), g.if_tok.start)


# -- contract mutant schemata -----------------------------------------------------------------

SWITCH_BASE = int.from_bytes(b"mut", "big") << 136
"""Contract mutant ``k`` (1-based in a schema) is on when ``block.coinbase`` is the address
``SWITCH_BASE + k``: no precompile, no account any test uses."""
SWITCH = "uint160(address(block.coinbase))"


def switch_address(k: int) -> str:
    return "0x" + (SWITCH_BASE + k).to_bytes(20, "big").hex()


def schema_text(text: str, numbered: Sequence[tuple[int, Mutant]]) -> str:
    """``text`` with every mutant of ``numbered`` (``(k, mutant)``, all of this file) compiled
    in behind its switch: each guard's ``(COND)`` becomes
    ``((SWITCH == BASE+k1) ? (COND₁) : … : (COND))``, where ``COND_i`` is the condition with
    mutant ``k_i`` applied; so the contract runs as the original unless the switch names one of
    them, and then exactly as that mutant. Every ``pure`` becomes ``view`` (a guard in a pure
    function now reads ``block.coinbase``); nothing else changes."""
    by_span: dict[tuple[int, int], list[tuple[int, Mutant]]] = {}
    guards = sol_guards(text)
    for k, m in numbered:
        g = next((g for g in guards if g.open_tok.start <= m.start and m.end <= g.close_tok.end),
                 None)
        if g is None:
            raise ValueError(f"{m.id}: not inside a guard's condition")
        by_span.setdefault((g.open_tok.start, g.close_tok.end), []).append((k, m))
    out = text
    for (lo, hi), group in sorted(by_span.items(), reverse=True):
        original = text[lo:hi]
        arms = "".join(
            f"({SWITCH} == {SWITCH_BASE + k}) ? "
            f"({original[: m.start - lo]}{m.after}{original[m.end - lo:]}) : "
            for k, m in group)
        out = out[:lo] + f"({arms}{original})" + out[hi:]
    toks = [t for t in sol_tokens(out) if t.kind == "ident" and t.text == "pure"]
    for t in reversed(toks):
        out = out[: t.start] + "view" + out[t.end:]
    return out


def schema_sources(repo: Path, mutants: Sequence[Mutant]) -> tuple[dict[str, str], dict[str, int]]:
    """Every contract source with ``mutants`` (contract ones) compiled in behind switches
    (``schema_text``), and each mutant's switch number (its id → k)."""
    numbers = {m.id: k for k, m in enumerate((m for m in mutants if m.target == "contracts"),
                                             start=1)}
    per_file: dict[str, list[tuple[int, Mutant]]] = {}
    for m in mutants:
        if m.target == "contracts":
            per_file.setdefault(m.file, []).append((numbers[m.id], m))
    sources = {}
    for p in sorted(repo.glob(CONTRACT_GLOB)):
        rel = p.relative_to(repo).as_posix()
        sources[rel] = schema_text(p.read_text(encoding="utf-8"), per_file.get(rel, []))
    return sources, numbers


# -- infection probes: which tests make a mutant differ ---------------------------------------
#
# A mutant can only be killed by a test during which the mutated expression, evaluated, gives a
# different value from the original (it "infects" the state); in a test where it never does, the
# mutated program runs exactly as the original (by induction over the run), so the test passes.
# The map is built on *probe* sources that record, per test, which mutants would have differed:
# a mutant's tests are those; a mutant no test infects survives without running anything.

PROBE_EVALUATED = 1 << 24  # + guard number: the guard's condition was evaluated
PROBE_TRUE = 2 << 24  # + guard number: ... and was true (the original reverted)
PROBE_EQUAL = 3 << 24  # + switch number: a flipped comparison's operands were equal
_CASTS = re.compile(r"^(u?int\d*|bytes\d*|address|payable|bool|string|bytes)$")
_STOP_LEFT = {",", "==", "!=", "&&", "||", "?", ":", "<", ">", "<=", ">=", "=", "return",
              "revert", "if"}


def _operand_span(toks: Sequence[Token], i: int, step: int) -> tuple[int, int] | None:
    """The token index range ``[lo, hi]`` of the operand of the relational operator ``toks[i]``
    on its left (``step`` -1) or right (+1): up to the next operator of lower or equal
    precedence or an unmatched bracket at depth 0. None when empty."""
    depth = 0
    j = i + step
    last = None
    while 0 <= j < len(toks):
        t = toks[j].text
        if (t in ("(", "[", "{") and step < 0) or (t in (")", "]", "}") and step > 0):
            if depth == 0:
                break
            depth -= 1
        elif t in ("(", "[", "{") or t in (")", "]", "}"):
            depth += 1
        elif depth == 0 and (t in _STOP_LEFT or t == ";"):
            break
        last = j
        j += step
    if last is None:
        return None
    return (last, i - 1) if step < 0 else (i + 1, last)


def _call_free(toks: Sequence[Token]) -> bool:
    """No call in ``toks`` but type conversions: evaluating them twice is the same as once."""
    for a, b in itertools.pairwise(toks):
        if b.text == "(" and a.kind == "ident" and not _CASTS.match(a.text):
            return False
        if a.kind == "ident" and a.text in ("new", "delete"):
            return False
        if a.text in ("++", "--", "=") or (a.text.endswith("=") and a.text not in (
                "==", "!=", "<=", ">=")):
            return False
    return True


def probe_text(text: str, guards: Sequence[tuple[int, Guard]],
               flips: dict[int, int]) -> tuple[str, set[int]]:
    """``text`` with infection probes (for the coverage map; not a mutant): every guard ``g`` of
    ``guards`` (``(g, guard)``) becomes ``((SW != EVALUATED+g) && (COND) && (SW != TRUE+g))``
    (so ``BASE+EVALUATED+g`` is pushed when it is evaluated and ``BASE+TRUE+g`` when it is true),
    and every relational comparison ``L OP R`` of a flip mutant (``flips``: operator offset →
    switch number ``k``) whose operands are call-free becomes
    ``((L) == (R) ? (SW ==|!= EQUAL+k) : (L OP R))`` (equal operands push ``BASE+EQUAL+k`` and
    give what ``OP`` gives on equal operands). ``SW`` is ``block.coinbase``, never a probe
    address, so the contract computes what it did. Returns the text and the switch numbers of
    the probed comparisons (a flip not probed counts as infected whenever its guard runs)."""
    toks = sol_tokens(text)
    index = {t.start: n for n, t in enumerate(toks)}
    edits: list[tuple[int, int, str]] = []
    probed: set[int] = set()
    for g, guard in guards:
        lo_i, hi_i = index[guard.open_tok.start], index[guard.close_tok.start]
        inner = []
        spans: list[tuple[int, int, int, int]] = []  # token lo, hi, operator index, k
        for n in range(lo_i + 1, hi_i):
            k = flips.get(toks[n].start)
            if k is None or toks[n].text not in ("<", "<=", ">", ">="):
                continue
            left, right = _operand_span(toks, n, -1), _operand_span(toks, n, 1)
            if left is None or right is None:
                continue
            body = toks[left[0] : right[1] + 1]
            if not _call_free(body) or any(
                    t.text in FLIP for t in body if t is not toks[n]):
                continue
            spans.append((left[0], right[1], n, k))
        for a, b, n, k in spans:
            if any(a2 <= a and b <= b2 and (a2, b2) != (a, b) for a2, b2, _, _ in spans):
                continue
            lhs = text[toks[a].start : toks[n - 1].end]
            rhs = text[toks[n + 1].start : toks[b].end]
            at_equal = "!=" if toks[n].text in ("<=", ">=") else "=="
            inner.append((toks[a].start, toks[b].end,
                          f"(({lhs}) == ({rhs}) ? ({SWITCH} {at_equal} "
                          f"{SWITCH_BASE + PROBE_EQUAL + k}) : ({lhs} {toks[n].text} {rhs}))"))
            probed.add(k)
        cond_lo, cond_hi = guard.open_tok.end, guard.close_tok.start
        cond = text[cond_lo:cond_hi]
        for a, b, rep in sorted(inner, reverse=True):
            cond = cond[: a - cond_lo] + rep + cond[b - cond_lo:]
        edits.append((guard.open_tok.start, guard.close_tok.end,
                      f"(({SWITCH} != {SWITCH_BASE + PROBE_EVALUATED + g}) && ({cond}) && "
                      f"({SWITCH} != {SWITCH_BASE + PROBE_TRUE + g}))"))
    out = text
    for a, b, rep in sorted(edits, reverse=True):
        out = out[:a] + rep + out[b:]
    pure = [t for t in sol_tokens(out) if t.kind == "ident" and t.text == "pure"]
    for t in reversed(pure):
        out = out[: t.start] + "view" + out[t.end:]
    return out, probed


@dataclass
class Schemata:
    """Every mutant's switch number, its guard (contracts), and what infects it."""

    numbers: dict[str, int]  # mutant id -> switch number (per target, from 1)
    guard_of: dict[str, int] = field(default_factory=dict)  # contract mutant id -> guard number
    probed: set[int] = field(default_factory=set)  # contract flips with an equality probe

    def infection(self, m: Mutant) -> tuple[str, int]:
        """``("evm", probe offset)`` or ``("py", switch number)``: the hit that infects ``m``."""
        k = self.numbers[m.id]
        if m.target == "engine":
            return "py", k
        g = self.guard_of[m.id]
        if m.kind == "drop":
            return "evm", PROBE_TRUE + g
        if m.kind == "flip" and k in self.probed:
            return "evm", PROBE_EQUAL + k
        return "evm", PROBE_EVALUATED + g


def contract_schemata(repo: Path, mutants: Sequence[Mutant]) -> tuple[
        dict[str, str], dict[str, str], Schemata]:
    """The contract sources with ``mutants`` behind switches (``schema_sources``), the same
    sources with infection probes (``probe_text``), and the numbering of both."""
    sources, numbers = schema_sources(repo, mutants)
    sch = Schemata(dict(numbers))
    probes: dict[str, str] = {}
    g = 0
    for p in sorted(repo.glob(CONTRACT_GLOB)):
        rel = p.relative_to(repo).as_posix()
        text = p.read_text(encoding="utf-8")
        mine = [m for m in mutants if m.target == "contracts" and m.file == rel]
        numbered = []
        for guard in sol_guards(text):
            inside = [m for m in mine
                      if guard.open_tok.start <= m.start and m.end <= guard.close_tok.end]
            if not inside:
                continue
            g += 1
            numbered.append((g, guard))
            for m in inside:
                sch.guard_of[m.id] = g
        flips = {m.start: numbers[m.id] for m in mine if m.kind == "flip"}
        probes[rel], probed = probe_text(text, numbered, flips)  # (every pure made view)
        sch.probed |= probed
    return sources, probes, sch


# -- Python -----------------------------------------------------------------------------------


class _PySource:
    """Character offsets for ``ast`` positions (which count UTF-8 bytes) and for tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = _Lines(text)
        self.raw = text.splitlines(keepends=True)

    def offset(self, lineno: int, col_bytes: int) -> int:
        line = self.raw[lineno - 1] if lineno - 1 < len(self.raw) else ""
        return self.lines.starts[lineno - 1] + len(line.encode()[:col_bytes].decode())

    def tok_offset(self, row: int, col_chars: int) -> int:
        return self.lines.starts[row - 1] + col_chars


def _compare_ops(src: _PySource) -> Iterator[tuple[ast.Compare, str, int]]:
    """``(compare node, operator, offset of the operator)`` for every flippable comparison."""
    for node, sym, at, _ in _compare_ops_of(src, ast.parse(src.text)):
        yield node, sym, at


def _compare_ops_of(src: _PySource, tree: ast.AST) -> Iterator[tuple[ast.Compare, str, int, int]]:
    """``(compare node of tree, operator, offset of the operator, operator index)``."""
    op_tokens = [
        (src.tok_offset(*t.start), t.string)
        for t in tokenize.generate_tokens(io.StringIO(src.text).readline)
        if t.type == tokenize.OP and t.string in FLIP
    ]
    offsets = [o for o, _ in op_tokens]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for k, op in enumerate(node.ops):
            sym = PY_OPS.get(type(op))
            if sym is None:
                continue
            left, right = operands[k], operands[k + 1]
            assert left.end_lineno is not None and left.end_col_offset is not None
            lo = src.offset(left.end_lineno, left.end_col_offset)
            hi = src.offset(right.lineno, right.col_offset)
            first = bisect.bisect_left(offsets, lo)
            found = [o for o, s in op_tokens[first:] if o < hi and s == sym]
            if len(found) == 1:  # anything else (e.g. inside an f-string in 3.11) is skipped
                yield node, sym, found[0], k


def python_mutants(text: str, file: str, target: str = "engine") -> list[Mutant]:
    """A boundary flip of every ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=`` in ``text``."""
    src = _PySource(text)
    out = []
    for node, sym, at in _compare_ops(src):
        assert node.end_lineno is not None and node.end_col_offset is not None
        shown = src.lines.span_lines(src.offset(node.lineno, node.col_offset),
                                     src.offset(node.end_lineno, node.end_col_offset))
        name = f"{OP_NAME[sym]}->{OP_NAME[FLIP[sym]]}"
        m = _make(target, file, text, src.lines, "flip", name, at, at + len(sym), FLIP[sym],
                  shown, at)
        out.append(replace(m, lines=(node.lineno, node.end_lineno)))
    out.sort(key=lambda m: m.start)
    return out


def python_noop(text: str, file: str, target: str = "engine") -> Mutant | None:
    """A control mutant: the first comparison's left operand in an extra pair of parentheses."""
    src = _PySource(text)
    for node, _, _ in sorted(_compare_ops(src), key=lambda t: (t[0].lineno, t[0].col_offset)):
        left = node.left
        assert left.end_lineno is not None and left.end_col_offset is not None
        lo = src.offset(left.lineno, left.col_offset)
        hi = src.offset(left.end_lineno, left.end_col_offset)
        shown = src.lines.span_lines(lo, hi)
        m = _make(target, file, text, src.lines, "noop", "noop", lo, hi, f"({text[lo:hi]})",
                  shown, lo)
        return replace(m, lines=(node.lineno, node.end_lineno or node.lineno))
    return None


_PY_OP_CLASS: dict[str, type[ast.cmpop]] = {sym: cls for cls, sym in PY_OPS.items()}
PY_SWITCH = "_MUTATE_SW"  # a builtin set by the copy's sitecustomize and the batch runner


class _PySchema(ast.NodeTransformer):
    """Rewrites every mutated ``ast.Compare`` (inner ones first): as a schema, into
    ``(MUTANT_k1) if _MUTATE_SW == k1 else … else (ORIGINAL)``; as probes, a one-operator
    comparison into ``_MUTATE_CMP(k, op, left, right)`` (records ``k`` when the flipped operator
    would give another value) and a chain into ``_MUTATE_HIT((k…), chain)`` (records them all
    whenever it runs)."""

    def __init__(self, by_node: dict[int, list[tuple[int, int]]], probe: bool) -> None:
        self.by_node = by_node
        self.probe = probe
        self.in_class = [False]

    def _scope(self, node: ast.AST) -> ast.AST:
        """Visit ``node`` as a scope: a class body (no lambda sees its names) or a function."""
        self.in_class.append(isinstance(node, ast.ClassDef))
        try:
            return self.generic_visit(node)
        finally:
            self.in_class.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scope

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        muts = self.by_node.get(id(node))
        self.generic_visit(node)
        if not muts:
            return node
        if self.probe:
            if len(node.ops) == 1:
                (k, _), = muts
                sym = PY_OPS[type(node.ops[0])]
                return ast.Call(ast.Name("_MUTATE_CMP", ast.Load()),
                                [ast.Constant(k), ast.Constant(sym), node.left,
                                 node.comparators[0]], [])
            operands = [node.left, *node.comparators]
            lazy = not self.in_class[-1] and not any(
                isinstance(n, ast.NamedExpr | ast.Yield | ast.YieldFrom | ast.Await)
                for o in operands for n in ast.walk(o))
            if lazy and all(type(op) in PY_OPS for op in node.ops):
                # a chain, operand by operand and lazily as Python runs it (lambdas)
                at = dict((i, k) for k, i in muts)
                ks = ast.Tuple([ast.Constant(at.get(i, 0)) for i in range(len(node.ops))],
                               ast.Load())
                syms = ast.Tuple([ast.Constant(PY_OPS[type(op)]) for op in node.ops],
                                 ast.Load())
                thunks = [ast.Lambda(ast.arguments([], [], None, [], [], None, []), o)
                          for o in operands]
                return ast.Call(ast.Name("_MUTATE_CHAIN", ast.Load()), [ks, syms, *thunks], [])
            ks = ast.Tuple([ast.Constant(k) for k, _ in muts], ast.Load())
            return ast.Call(ast.Name("_MUTATE_HIT", ast.Load()), [ks, node], [])
        expr: ast.expr = node
        for k, i in reversed(muts):
            ops = list(node.ops)
            ops[i] = _PY_OP_CLASS[FLIP[PY_OPS[type(ops[i])]]]()
            mutated = ast.Compare(copy.deepcopy(node.left), ops, copy.deepcopy(node.comparators))
            test = ast.Compare(ast.Name(PY_SWITCH, ast.Load()), [ast.Eq()], [ast.Constant(k)])
            expr = ast.IfExp(test, mutated, expr)
        return expr


def python_schema(text: str, numbered: Sequence[tuple[int, Mutant]], probe: bool = False) -> str:
    """``text`` (a Python module) with every mutant of ``numbered`` (``(k, mutant)``, all of this
    file, made by ``python_mutants``) behind the builtin switch ``_MUTATE_SW`` (or, ``probe``,
    with infection probes instead), unparsed from the AST: the same code, line numbers and
    comments aside."""
    src = _PySource(text)
    tree = ast.parse(text)
    at = {start: (node, i) for node, _, start, i in _compare_ops_of(src, tree)}
    by_node: dict[int, list[tuple[int, int]]] = {}
    for k, m in numbered:
        if m.start not in at:
            raise ValueError(f"{m.id}: no comparison operator there")
        node, i = at[m.start]
        by_node.setdefault(id(node), []).append((k, i))
    out = _PySchema(by_node, probe).visit(tree)
    return ast.unparse(ast.fix_missing_locations(out)) + "\n"


def engine_schemata(repo: Path, mutants: Sequence[Mutant]) -> tuple[
        dict[str, str], dict[str, str], dict[str, int]]:
    """Per engine file with a mutant: its schema source and its probe source; the numbers."""
    numbers = {m.id: k for k, m in enumerate(
        (m for m in mutants if m.target == "engine" and m.kind != "noop"), start=1)}
    per_file: dict[str, list[tuple[int, Mutant]]] = {}
    for m in mutants:
        if m.id in numbers:
            per_file.setdefault(m.file, []).append((numbers[m.id], m))
    schema, probes = {}, {}
    for rel, numbered in per_file.items():
        text = (repo / rel).read_text(encoding="utf-8")
        schema[rel] = python_schema(text, numbered)
        probes[rel] = python_schema(text, numbered, probe=True)
    return schema, probes, numbers


# -- selection --------------------------------------------------------------------------------


def contract_files(repo: Path) -> list[Path]:
    return sorted(
        p for p in repo.glob(CONTRACT_GLOB)
        if not p.relative_to(repo).as_posix().startswith(CONTRACT_SKIP)
        and ARTIFACTS not in p.relative_to(repo).as_posix()
    )


def engine_files(repo: Path) -> list[Path]:
    return sorted(repo.glob(ENGINE_GLOB))


def discover(repo: Path, only: str | None = None, noop: bool = False) -> list[Mutant]:
    """Every mutant of the repository (``only``: ``contracts`` or ``engine``), in file order;
    with ``noop``, one control mutant per target first."""
    mutants: list[Mutant] = []
    controls: list[Mutant] = []
    if only in (None, "contracts"):
        for p in contract_files(repo):
            rel, text = p.relative_to(repo).as_posix(), p.read_text(encoding="utf-8")
            mutants += solidity_mutants(text, rel)
            if noop and not controls:
                control = solidity_noop(text, rel)
                controls += [control] if control else []
    if only in (None, "engine"):
        have = len(controls)
        for p in engine_files(repo):
            rel, text = p.relative_to(repo).as_posix(), p.read_text(encoding="utf-8")
            mutants += python_mutants(text, rel)
            if noop and len(controls) == have:
                control = python_noop(text, rel)
                controls += [control] if control else []
    return controls + mutants


def load_equivalent(path: Path = EQUIVALENT_FILE) -> list[tuple[str, str]]:
    """``[(id pattern, reason)]`` from the ``[[equivalent]]`` tables of ``path``."""
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [(str(e["id"]), str(e["reason"])) for e in data.get("equivalent", [])]


def declared_equivalent(mutant: Mutant, declared: Iterable[tuple[str, str]]) -> str | None:
    for pattern, reason in declared:
        if mutant.id == pattern or fnmatch.fnmatchcase(mutant.id, pattern):
            return reason
    return None


# -- coverage map: which tests run the mutated code ------------------------------------------

_ENTRY_KINDS = ("constructor", "fallback", "receive")
_VISIBILITY = ("external", "public", "internal", "private")


@dataclass(frozen=True)
class SolFunction:
    """A function, modifier, constructor, fallback or receive with a body in one source file.

    ``refs`` are the identifiers of its header after the parameters (modifier invocations) and
    of its body: every name it may call. ``start``/``end`` are the offsets of the whole
    definition (keyword to closing brace).
    """

    file: str
    contract: str  # "" for a free function
    name: str
    kind: str  # "function", "modifier", "constructor", "fallback", "receive"
    visibility: str
    start: int
    end: int
    refs: frozenset[str]

    @property
    def entry(self) -> str | None:
        """The name a transaction reaches it by, or None for an internal one."""
        if self.kind in _ENTRY_KINDS:
            return self.kind
        if self.kind == "function" and self.visibility in ("external", "public"):
            return self.name
        return None


def sol_functions(text: str, file: str) -> list[SolFunction]:
    """Every function-like definition with a body in ``text`` (interfaces' declarations skipped)."""
    toks = sol_tokens(text)
    contracts: list[tuple[int, int, str]] = []
    for i, tok in enumerate(toks[:-1]):
        if (tok.kind == "ident" and tok.text in ("contract", "library", "interface")
                and toks[i + 1].kind == "ident" and (i == 0 or toks[i - 1].text != ".")):
            j = next((k for k in range(i + 2, len(toks)) if toks[k].text in ("{", ";")), None)
            if j is None or toks[j].text != "{":
                continue
            close = _matching(toks, j)
            if close is not None:
                contracts.append((tok.start, toks[close].end, toks[i + 1].text))
    out = []
    for i, tok in enumerate(toks[:-1]):
        if tok.kind != "ident" or (i > 0 and toks[i - 1].text == "."):
            continue
        if tok.text in ("function", "modifier") and toks[i + 1].kind == "ident":
            kind, name, j = tok.text, toks[i + 1].text, i + 2
        elif tok.text in _ENTRY_KINDS and toks[i + 1].text == "(":
            kind, name, j = tok.text, tok.text, i + 1
        else:
            continue  # also function types: ``function (uint256) external``
        header_from = None
        while j < len(toks) and toks[j].text not in ("{", ";"):
            if toks[j].text == "(":
                k = _matching(toks, j)
                if k is None:
                    break
                if header_from is None:
                    header_from = k + 1  # after the parameter list
                j = k
            j += 1
        if j >= len(toks) or toks[j].text != "{":
            continue  # a declaration without a body
        close = _matching(toks, j)
        if close is None:
            continue
        header = toks[header_from or j : j]
        visibility = next((t.text for t in header if t.text in _VISIBILITY), "")
        if kind == "constructor" or kind in ("fallback", "receive"):
            visibility = visibility or "public"
        refs = frozenset(t.text for t in (*header, *toks[j:close]) if t.kind == "ident")
        inside = [c for c in contracts if c[0] <= tok.start < c[1]]
        contract = max(inside, key=lambda c: c[0])[2] if inside else ""
        out.append(SolFunction(file, contract, name, kind, visibility or "internal",
                               tok.start, toks[close].end, refs))
    return out


class CallGraph:
    """Who may call whom in a set of Solidity sources, by name (so conservatively: every
    overload, override and same-named function of any contract counts as called)."""

    def __init__(self, functions: Iterable[SolFunction]) -> None:
        self.functions = list(functions)
        self.callers: dict[str, list[SolFunction]] = {}
        for f in self.functions:
            for name in f.refs:
                if name != f.name or f.kind != "function":
                    self.callers.setdefault(name, []).append(f)

    @classmethod
    def from_sources(cls, sources: dict[str, str]) -> CallGraph:
        return cls(f for file, text in sources.items() for f in sol_functions(text, file))

    def enclosing(self, file: str, offset: int) -> SolFunction | None:
        """The innermost definition of ``file`` containing ``offset``."""
        inside = [f for f in self.functions if f.file == file and f.start <= offset < f.end]
        return max(inside, key=lambda f: f.start) if inside else None

    def entries(self, file: str, offset: int) -> frozenset[str] | None:
        """The external entry points (function names, ``constructor``, ``fallback``,
        ``receive``) from which the code at ``offset`` may run; None if it is in no function."""
        start = self.enclosing(file, offset)
        if start is None:
            return None
        seen = {(start.file, start.start)}
        todo = [start]
        out = set()
        while todo:
            f = todo.pop()
            if f.entry is not None:
                out.add(f.entry)
            for g in self.callers.get(f.name, []) if f.kind in ("function", "modifier") else []:
                if (g.file, g.start) not in seen:
                    seen.add((g.file, g.start))
                    todo.append(g)
        return frozenset(out)


def selector_names(artifacts: Path) -> dict[str, set[str]]:
    """``{selector hex: function names}`` over the ABIs of the compiled artifacts."""
    from eth_utils import function_abi_to_4byte_selector

    out: dict[str, set[str]] = {}
    for path in sorted(artifacts.glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8")).get("abi", []):
            if entry.get("type") == "function":
                sel = function_abi_to_4byte_selector(entry).hex()
                out.setdefault(sel.removeprefix("0x"), set()).add(entry["name"])
    return out


@dataclass
class CoverageMap:
    """Per test (pytest node id, in collection order): the engine lines it ran, the contract
    entry points it ran (from every EVM call frame: ``constructor``, function names, ``fallback``,
    ``receive``), whether it is opaque to the map (a subprocess or a network connection: code
    ran where it could not be seen, so it is selected for every mutant of that target), and
    whether it failed without a mutant (such a test cannot judge one: never selected)."""

    tests: dict[str, dict[str, Any]]
    outside: dict[str, list[int]]  # engine lines run outside any test (imports)
    selectors: dict[str, set[str]]
    seconds: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any], selectors: dict[str, set[str]]) -> CoverageMap:
        return cls(data["tests"], data.get("outside", {}), selectors,
                   float(data.get("seconds", 0.0)))

    def entry_names(self, test: str) -> set[str]:
        out: set[str] = set()
        for item in self.tests[test].get("evm", []):
            if item == "constructor":
                out.add("constructor")
            elif item == "delegatecall":
                out.add("fallback")
            elif item in ("", "short"):
                out.update(("fallback", "receive"))
            else:
                names = self.selectors.get(item)
                out.update(names if names else ("fallback", "receive"))
        return out

    def failed(self) -> list[str]:
        return [t for t, r in self.tests.items() if r.get("failed")]

    def _usable(self) -> list[str]:
        return [t for t, r in self.tests.items() if not r.get("failed")]

    def for_engine(self, file: str, lines: Iterable[int]) -> list[str] | None:
        """The tests that ran any of ``lines`` of ``file`` plus the opaque ones; None (unsure:
        run the default selection) when the lines also ran outside any test (at import)."""
        wanted = set(lines)
        if wanted & set(self.outside.get(file, [])):
            return None
        return [t for t in self._usable()
                if self.tests[t].get("opaque_engine")
                or wanted & set(self.tests[t].get("lines", {}).get(file, []))]

    def for_contract(self, entries: frozenset[str] | None) -> list[str]:
        """The tests that ran any of ``entries`` plus the opaque ones (``entries`` None: every
        test that ran contract code)."""
        out = []
        for t in self._usable():
            rec = self.tests[t]
            if rec.get("opaque_contracts"):
                out.append(t)
                continue
            names = self.entry_names(t)
            if (names if entries is None else names & entries):
                out.append(t)
        return out

    def seconds_of(self, tests: Iterable[str]) -> float:
        return sum(float(self.tests[t].get("seconds", 0.0)) for t in tests)


_IMPORT = re.compile(r"""^\s*import\s[^;]*?["']([^"']+)["']\s*;""", re.M)


def sol_dependents(repo: Path, file: str) -> list[str]:
    """The contract sources (repository-relative) that are ``file`` or import it, directly or
    not: the only ones whose compilation a change to ``file`` can change."""
    imports: dict[str, set[str]] = {}
    for p in sorted(repo.glob(CONTRACT_GLOB)):
        rel = p.relative_to(repo).as_posix()
        text = p.read_text(encoding="utf-8")
        imports[rel] = {os.path.normpath(os.path.join(os.path.dirname(rel), m.group(1)))
                        .replace(os.sep, "/")
                        for m in _IMPORT.finditer(text) if m.group(1).startswith(".")}
    out = {file}
    grew = True
    while grew:
        grew = False
        for rel, deps in imports.items():
            if rel not in out and deps & out:
                out.add(rel)
                grew = True
    return sorted(out)


_COMPILE_SCRIPT = '''\
"""Written by bench/mutate.py: ``python -m bridge.chain.compile --write`` for the artifacts
whose sources are given (those importing the mutated file) only; the others cannot change."""
import sys

import bridge.chain.compile as c

paths = set(sys.argv[1:])
if paths != {"--all"}:
    c.ARTIFACT_SOURCES = {n: p for n, p in c.ARTIFACT_SOURCES.items() if p in paths}
full = c.SETTINGS["outputSelection"]["*"]["*"]
wanted = {"*": {"*": ["abi"]}}  # every ABI (the market's artifact lists its module's views)
for name, path in c.ARTIFACT_SOURCES.items():
    wanted.setdefault(path, {})[name] = list(full)
_standard_input = c.standard_input


def standard_input():
    inp = _standard_input()
    return {**inp, "settings": {**inp["settings"], "outputSelection": wanted}}


c.standard_input = standard_input
if c.ARTIFACT_SOURCES:
    for path in c.write_artifacts(c.compile_contracts()):
        print(f"wrote {path}")
else:
    print("no artifact depends on the mutated file")
'''


_COVMAP_PLUGIN = '''\
"""Written by bench/mutate.py: records, per test, the engine lines and contract entry points run.

Engine: a ``sys.settrace`` tracer that only follows frames of ``bridge/mechanisms``. Contracts:
every py-evm call frame (``BaseComputation``) records its calldata selector, ``constructor`` for
a creation, ``delegatecall`` when code runs on another account's storage. A test that starts a
subprocess or opens a network connection ran code this cannot see: marked opaque (a network
connection: to both targets, and its engine lines are no longer traced).
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

_ROOT = os.environ["MUTATE_ROOT"]
_PREFIXES = tuple({os.path.join(r, "bridge", "mechanisms") + os.sep
                   for r in (_ROOT, os.path.realpath(_ROOT))})
_CUT = {p: len(p) - len("bridge/mechanisms/") for p in _PREFIXES}
_tests = {}
_outside = {}
_current = [None]
_codes = {}


def _new():
    return {"lines": {}, "evm": set(), "opaque_engine": False, "opaque_contracts": False,
            "seconds": 0.0, "failed": False}


def _record():
    return _tests[_current[0]] if _current[0] is not None else None


def _add_line(rel, line):
    rec = _record()
    target = rec["lines"] if rec is not None else _outside
    s = target.get(rel)
    if s is None:
        s = target[rel] = set()
    s.add(line)


def _local(frame, event, arg):
    rec = _record()
    if rec is not None and rec["opaque_engine"]:
        return None  # selected for every engine mutant anyway: stop paying for the tracer
    if event == "line":
        _add_line(_codes[frame.f_code], frame.f_lineno)
    return _local


def _global(frame, event, arg):
    code = frame.f_code
    rel = _codes.get(code, 0)
    if rel == 0:
        rel = None
        name = code.co_filename
        for p in _PREFIXES:
            if name.startswith(p):
                rel = name[_CUT[p]:].replace(os.sep, "/")
        _codes[code] = rel
    if rel is None:
        return None
    rec = _record()
    if rec is not None and rec["opaque_engine"]:
        return None
    _add_line(rel, frame.f_lineno)
    return _local


def _patch_evm():
    from eth.vm.computation import BaseComputation

    original = BaseComputation.__init__

    def __init__(self, state, message, transaction_context):
        original(self, state, message, transaction_context)
        rec = _record()
        if rec is None or not message.code:
            return
        try:
            if message.is_create:
                rec["evm"].add("constructor")
            else:
                data = bytes(message.data[:4])
                rec["evm"].add(data.hex() if len(data) == 4 else "short")
                if message.storage_address != message.code_address:
                    rec["evm"].add("delegatecall")
        except Exception:
            rec["opaque_contracts"] = True

    BaseComputation.__init__ = __init__


def _patch_opaque():
    popen_init = subprocess.Popen.__init__

    def __init__(self, args, *a, **kw):
        rec = _record()
        if rec is not None:
            rec["opaque_contracts"] = True
            argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
            first = os.path.basename(os.fsdecode(argv[0])) if argv else ""
            if "python" in first or "bridge" in first or argv[:1] == [sys.executable]:
                rec["opaque_engine"] = True
        popen_init(self, args, *a, **kw)

    subprocess.Popen.__init__ = __init__
    for name in ("connect", "connect_ex"):
        original = getattr(socket.socket, name)

        def wrapper(self, address, _original=original):
            rec = _record()
            if rec is not None and self.family in (socket.AF_INET, socket.AF_INET6):
                # a chain elsewhere (anvil): its contracts are unseen, and its driver runs the
                # engine at anvil's speed, which the tracer would slow down many times over
                # (tests/contracts/test_stateful.py: over 10 minutes): opaque to both
                rec["opaque_contracts"] = True
                rec["opaque_engine"] = True
            return _original(self, address)

        setattr(socket.socket, name, wrapper)


# Tracing starts when ``-p mutate_covmap`` is imported (before conftests and entry-point
# plugins), so the engine lines run at import time land in ``outside``.
threading.settrace(_global)
sys.settrace(_global)


def pytest_configure(config):
    _patch_evm()
    _patch_opaque()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _tests[item.nodeid] = _new()
    _current[0] = item.nodeid
    t0 = time.monotonic()
    try:
        yield
    finally:
        rec = _tests[item.nodeid]
        rec["seconds"] = round(time.monotonic() - t0, 3)
        _current[0] = None
        with open(os.environ["MUTATE_COVMAP"] + ".partial", "a") as out:  # progress, if cut off
            out.write(json.dumps({"test": item.nodeid, "seconds": rec["seconds"],
                                  "failed": rec["failed"]}) + "\\n")


def pytest_runtest_logreport(report):
    if report.failed and report.nodeid in _tests:
        _tests[report.nodeid]["failed"] = True


def pytest_sessionfinish(session, exitstatus):
    sys.settrace(None)
    threading.settrace(None)
    tests = {t: {**r, "lines": {f: sorted(s) for f, s in sorted(r["lines"].items())},
                 "evm": sorted(r["evm"])} for t, r in _tests.items()}
    Path(os.environ["MUTATE_COVMAP"]).write_text(json.dumps(
        {"tests": tests, "outside": {f: sorted(s) for f, s in sorted(_outside.items())}}))
'''


# -- running ----------------------------------------------------------------------------------

_INFECT_PLUGIN = '''\
\"\"\"Written by bench/mutate.py: the infection map. Per test (setup, call and teardown): the
contract probes pushed and the engine comparisons whose flip would have differed (the copy runs
probe sources: ``probe_text``, ``python_schema(probe=True)``), the wide (not function-scoped)
fixtures it uses, whether it failed, its seconds, and whether code ran where this cannot see (a
subprocess of Python: engine; any subprocess or a network connection: contracts). Hits while a
wide fixture is set up are kept per fixture: a mutant infecting one must rebuild it.\"\"\"
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mutate_probe as P

_outside = P.Rec()
P.current = _outside
_tests = {}
_wide = {}
_now = [None]


def _settings():
    # the same examples in the map and in every mutant's run (the map's verdicts rest on it)
    from hypothesis import settings

    settings.register_profile("mutate", database=None, derandomize=True)
    settings.load_profile("mutate")


_settings()


_served = set()  # ports this process listens on: a connection there stays in sight


def pytest_configure(config):
    P.install_evm()
    popen_init = subprocess.Popen.__init__

    def __init__(self, args, *a, **kw):
        rec = _tests.get(_now[0])
        if rec is not None:
            argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
            first = os.path.basename(os.fsdecode(argv[0])) if argv else ""
            if "python" in first or "bridge" in first or argv[:1] == [sys.executable]:
                rec["opaque_engine"] = rec["opaque_contracts"] = True  # it may run either
            elif "anvil" in first:
                rec["opaque_contracts"] = True  # a chain elsewhere
        popen_init(self, args, *a, **kw)

    subprocess.Popen.__init__ = __init__
    bind = socket.socket.bind

    def bound(self, address):
        bind(self, address)
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _served.add(self.getsockname()[1])

    socket.socket.bind = bound
    for name in ("connect", "connect_ex"):
        original = getattr(socket.socket, name)

        def wrapper(self, address, _original=original):
            result = _original(self, address)  # refused: nothing ran there
            rec = _tests.get(_now[0])
            if (rec is not None and self.family in (socket.AF_INET, socket.AF_INET6)
                    and address[1] not in _served and not result):
                rec["opaque_contracts"] = rec["opaque_engine"] = True  # anvil, another node
            return result

        setattr(socket.socket, name, wrapper)


def _wide_keys(item):
    out = []
    info = getattr(item, "_fixtureinfo", None)
    for name in getattr(item, "fixturenames", ()):
        defs = info.name2fixturedefs.get(name) if info is not None else None
        if defs and defs[-1].scope != "function":
            out.append(f"{defs[-1].baseid}::{name}")
    return sorted(out)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    rec = _tests[item.nodeid] = {"hits": P.Rec(), "wide": _wide_keys(item), "seconds": 0.0,
                                 "failed": False, "opaque_engine": False,
                                 "opaque_contracts": False}
    _now[0] = item.nodeid
    P.current = rec["hits"]
    t0 = time.monotonic()
    try:
        yield
    finally:
        rec["seconds"] = round(time.monotonic() - t0, 3)
        P.current = _outside
        _now[0] = None


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    if fixturedef.scope == "function" or _now[0] is None:
        yield
        return
    key = f"{fixturedef.baseid}::{fixturedef.argname}"
    before = P.current
    P.current = _wide.setdefault(key, P.Rec())
    try:
        yield
    finally:
        P.current = before


def pytest_runtest_logreport(report):
    if report.failed and report.nodeid in _tests:
        _tests[report.nodeid]["failed"] = True


def _dump(rec):
    return {"py": sorted(rec.py), "evm": sorted(rec.evm)}


def pytest_sessionfinish(session, exitstatus):
    if not hasattr(session.config, "workerinput") and session.config.pluginmanager.hasplugin(
            "dsession"):
        return  # the xdist controller: its workers write the map
    tests = {t: {**r, "hits": _dump(r["hits"])} for t, r in _tests.items()}
    out = os.environ["MUTATE_COVMAP"] + "." + os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(out).write_text(json.dumps({"tests": tests, "outside": _dump(_outside),
                                     "wide": {k: _dump(v) for k, v in _wide.items()}}))
'''


_BATCH_PLUGIN = '''\
\"\"\"Written by bench/mutate.py: one pytest process tests many mutants. It collects the tests
once, then takes jobs from MUTATE_QUEUE/queue (claimed by rename, so workers never share one):
per job it sets the mutant's switches (``block.coinbase`` through MUTATE_SWITCH, the engine's
builtin ``_MUTATE_SW``), runs its tests in order until one fails, and writes the verdict to
MUTATE_QUEUE/results. Wide fixtures are kept between mutants unless the job says ``isolate``
(the mutant infected one: everything is torn down before and after it). A test running over
MUTATE_TEST_TIMEOUT seconds is interrupted: the mutant's verdict is ``timeout``.\"\"\"
import builtins
import json
import os
import signal
import time
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

_Q = Path(os.environ["MUTATE_QUEUE"])
_ME = os.environ["MUTATE_WORKER"]
_LIMIT = float(os.environ.get("MUTATE_TEST_TIMEOUT") or 300)
if os.environ.get("MUTATE_MEMORY"):
    # a mutant that loops allocating ends in a MemoryError (a failed test), not in the kernel's
    # OOM killer taking this process or another of the machine
    import resource

    resource.setrlimit(resource.RLIMIT_DATA, (int(os.environ["MUTATE_MEMORY"]),) * 2)


def _settings():
    from hypothesis import settings

    settings.register_profile("mutate", database=None, derandomize=True)
    settings.load_profile("mutate")


_settings()


class MutantTimeout(BaseException):
    pass


_limit = [_LIMIT]


def _alarm(signum, frame):
    raise MutantTimeout(f"a test ran over {_limit[0]:.0f}s")


def _claim():
    mine = _Q / "claimed" / _ME
    mine.mkdir(parents=True, exist_ok=True)
    for p in sorted((_Q / "queue").iterdir()):
        try:
            os.rename(p, mine / p.name)
        except FileNotFoundError:
            continue
        return mine / p.name
    return None


def _run(item, nextitem, limit):
    """The failed reports of one run of ``item`` (under the time limit)."""
    _limit[0] = limit
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return [r for r in reports if r.failed]


def _teardown(state, nextitem):
    """Tear fixtures down to what ``nextitem`` needs (None: all); a fixture whose teardown fails
    under a mutant is gone all the same (pytest pops it first), and the run goes on."""
    try:
        state.teardown_exact(nextitem)
    except Exception:
        pass


def _switch(job):
    builtins._MUTATE_SW = int(job.get("engine") or 0)
    os.environ["MUTATE_ENGINE_SWITCH"] = str(job.get("engine") or 0)
    os.environ["MUTATE_SWITCH"] = str(job.get("contract") or 0)


def _write(path, out):
    tmp = _Q / "results" / (path.name + ".tmp")
    tmp.write_text(json.dumps(out))
    os.rename(tmp, _Q / "results" / path.name)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    if session.config.option.collectonly:
        return None
    if session.testsfailed:
        if os.environ.get("MUTATE_ENGINE_SWITCH", "0") == "0" and os.environ.get(
                "MUTATE_SWITCH", "0") == "0":
            return None  # no mutant yet: the copy itself is broken (pytest says why)
        path = _claim()  # a process of its own: its mutant broke the import of a test module
        if path is not None:
            _write(path, {"status": "killed", "seconds": 0.0, "by": "<collection>", "ran": 0,
                          "note": "a test module failed to import", "missing": []})
        return True
    items = {i.nodeid: i for i in session.items}
    state = session._setupstate
    signal.signal(signal.SIGALRM, _alarm)
    (_Q / "ready").mkdir(exist_ok=True)
    (_Q / "ready" / _ME).write_text(str(len(items)))
    while (path := _claim()) is not None:
        job = json.loads(path.read_text())
        chosen = [items[t] for t in job["tests"] if t in items]
        t0 = time.monotonic()
        status, by, note, ran = "survived", None, None, 0
        missing = [t for t in job["tests"] if t not in items]
        try:
            if job.get("isolate"):
                _teardown(state, None)
            elif chosen:
                _teardown(state, chosen[0])
            _switch(job)
            unstable = []
            limits = job.get("limits") or {}
            for n, item in enumerate(chosen):
                nxt = chosen[n + 1] if n + 1 < len(chosen) else item.parent
                limit = min(float(limits.get(item.nodeid, _LIMIT)), _LIMIT)
                bad = _run(item, nxt, limit)
                ran += 1
                if not bad:
                    continue
                text = "\\n".join(str(r.longrepr) for r in bad).strip()
                last = text.splitlines()[-1][:200] if text else None
                if "MutantTimeout" in text:
                    status, by, note = "timeout", item.nodeid, last
                    break
                # a kill counts when the test fails again under the mutant and passes without
                # it, here and now (not a failure left behind by an earlier test or mutant)
                again = bool(_run(item, nxt, limit))
                _switch({})
                if job.get("isolate"):  # its wide fixtures, rebuilt without it and again with
                    _teardown(state, None)
                without = bool(_run(item, nxt, limit))
                if without:  # left behind by the mutant's runs? both again on fresh fixtures
                    _teardown(state, None)
                    without = bool(_run(item, nxt, limit))
                    _teardown(state, None)
                    _switch(job)
                    again = bool(_run(item, nxt, limit))
                    _teardown(state, None)
                _switch(job)
                if again and not without:
                    status, by, note = "killed", item.nodeid, last
                    break
                unstable.append(f"{item.nodeid} ("
                                + ("fails without the mutant" if without else
                                   "passed on a second run under it") + ")")
            if unstable and status != "killed":
                note = (note + "; " if note else "") + "unstable here: " + ", ".join(unstable)
            if job.get("isolate"):
                _teardown(state, None)
        finally:
            _switch({})
        _write(path, {"status": status, "seconds": round(time.monotonic() - t0, 3), "by": by,
                      "note": note, "ran": ran, "missing": missing})
    _teardown(state, None)
    return True
'''



_PLUGIN = '''\
"""Written by bench/mutate.py: refuses to test another copy's ``bridge``; records failures."""
import json
import os
from pathlib import Path

import pytest

_ROOT = Path(os.environ["MUTATE_ROOT"]).resolve()
_failed = []
_where = ""


def _settings():
    # the examples of the infection map's run, so a mutant is judged on the same inputs
    from hypothesis import settings

    settings.register_profile("mutate", database=None, derandomize=True)
    settings.load_profile("mutate")


_settings()


def pytest_configure(config):
    global _where
    import bridge

    _where = str(Path(bridge.__file__).resolve())
    if _ROOT not in Path(_where).parents:
        raise pytest.UsageError(f"mutate: bridge imported from {_where}, not from {_ROOT}")


def pytest_collectreport(report):
    if report.failed:
        _failed.append(report.nodeid or "<collection>")


def pytest_runtest_logreport(report):
    if report.failed:
        _failed.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    Path(os.environ["MUTATE_REPORT"]).write_text(
        json.dumps({"bridge": _where, "failed": _failed, "exitstatus": int(exitstatus)}))
'''


_SITECUSTOMIZE = '''\
"""Written by bench/mutate.py: in every Python process of a copy running contract mutant
schemata (``MUTATE_SCHEMA=1``), py-evm's ``block.coinbase`` is the switch of the mutant in
``MUTATE_SWITCH`` (0 or unset: none, the original contracts), and the contract size limits (EIP-170,
EIP-3860) are lifted: a contract with every mutant of its guards compiled in is larger."""
import os

if os.environ.get("MUTATE_SCHEMA") == "1":
    try:
        import eth.vm.forks.shanghai.computation as _shanghai
        import eth.vm.forks.spurious_dragon.computation as _dragon
        import eth.vm.state as _state
    except ImportError:
        pass
    else:
        _dragon.EIP170_CODE_SIZE_LIMIT = 1 << 30
        _shanghai.MAX_INITCODE_SIZE = 1 << 31
        import threading

        import eth.chains.base as _chains

        _coinbase = _state.BaseState.coinbase
        _replaying = threading.local()
        _mined = {}  # block hash -> the switch its transactions ran under

        def _switched(self):
            k = getattr(_replaying, "k", None)
            if k is None:
                k = int(os.environ.get("MUTATE_SWITCH") or 0)  # read per use: a test may set it
            return (SWITCH_BASE + k).to_bytes(20, "big") if k else _coinbase.fget(self)

        _state.BaseState.coinbase = property(_switched)

        # A block is re-executed when it is imported again (eth-tester's revert_to_snapshot
        # does): it must run under the switch it was mined under, or its state root differs.
        _mine_extended = _chains.MiningChain.mine_block_extended
        _mine_all = _chains.MiningChain.mine_all
        _import = _chains.Chain.import_block

        def _now():
            return int(os.environ.get("MUTATE_SWITCH") or 0)

        def mine_block_extended(self, *args, **kwargs):
            result = _mine_extended(self, *args, **kwargs)
            _mined[result.block.hash] = _now()
            return result

        def mine_all(self, *args, **kwargs):
            result = _mine_all(self, *args, **kwargs)
            _mined[result[0].imported_block.hash] = _now()
            return result

        def import_block(self, block, *args, **kwargs):
            before = getattr(_replaying, "k", None)
            _replaying.k = _mined.get(block.hash, 0)
            try:
                return _import(self, block, *args, **kwargs)
            finally:
                _replaying.k = before

        _chains.MiningChain.mine_block_extended = mine_block_extended
        _chains.MiningChain.mine_all = mine_all
        _chains.Chain.import_block = import_block

# Engine mutants are compiled into the copy's bridge/mechanisms behind this builtin switch
# (``python_schema``); the batch runner sets it per mutant; the map's probe sources call these.
import builtins as _builtins

_builtins._MUTATE_SW = int(os.environ.get("MUTATE_ENGINE_SWITCH") or 0)
if os.environ.get("MUTATE_PROBE") == "1":
    import mutate_probe as _probe

    _builtins._MUTATE_CMP = _probe.cmp
    _builtins._MUTATE_HIT = _probe.hit
    _builtins._MUTATE_CHAIN = _probe.chain
'''.replace("SWITCH_BASE", str(SWITCH_BASE))


_PROBE_MODULE = '''\
"""Written by bench/mutate.py: the infection probes' recorder. ``current`` is swapped per test
(and per wide fixture) by the map's plugin; ``cmp`` and ``hit`` are what the probe sources of
bridge/mechanisms call, ``push20`` replaces py-evm's PUSH20 to see the contracts' probes."""
import operator

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}
_FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}


class Rec:
    def __init__(self):
        self.py = set()  # engine switch numbers whose flip would have given another value
        self.evm = set()  # contract probe offsets pushed


current = Rec()


def cmp(k, sym, a, b):
    result = _OPS[sym](a, b)
    try:
        if bool(_OPS[_FLIP[sym]](a, b)) != bool(result):
            current.py.add(k)
    except Exception:
        current.py.add(k)
    return result


def hit(ks, value):
    current.py.update(ks)
    return value


def chain(ks, syms, *thunks):
    left = thunks[0]()
    for k, sym, thunk in zip(ks, syms, thunks[1:]):
        right = thunk()
        result = cmp(k, sym, left, right) if k else _OPS[sym](left, right)
        if not result:
            return result
        left = right
    return result


def push20(computation):
    raw = computation.code.read(20)
    if raw[:3] == b"mut":
        current.evm.add(int.from_bytes(raw[3:], "big"))
    computation.stack_push_bytes(raw if len(raw) == 20 else raw.ljust(20, b"\\0"))


def install_evm():
    import eth.vm.forks  # noqa: F401  (every fork's computation class)
    from eth.vm.computation import BaseComputation

    todo, seen = [BaseComputation], set()
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        op = (getattr(cls, "opcodes", None) or {}).get(0x73)
        if op is not None and id(op) not in seen and hasattr(op, "logic_fn"):
            seen.add(id(op))
            op.logic_fn = push20
'''


@dataclass
class Result:
    mutant: Mutant
    status: str
    seconds: float
    compile_seconds: float | None = None
    test_that_killed: str | None = None
    note: str | None = None
    tests: list[str] | None = None  # the tests run (None: the per-target default paths)

    def as_json(self) -> dict[str, Any]:
        m = self.mutant
        out: dict[str, Any] = {
            "id": m.id, "file": m.file, "line": m.line, "kind": m.kind,
            "original": m.original, "mutated": m.mutated, "status": self.status,
            "seconds": round(self.seconds, 2),
        }
        if self.compile_seconds is not None:
            out["compile_seconds"] = round(self.compile_seconds, 2)
        if self.tests is not None:
            out["tests_run"] = len(self.tests)
            out["tests"] = self.tests
        if self.test_that_killed:
            out["test_that_killed"] = self.test_that_killed
        if self.note:
            out["note"] = self.note
        return out


def _tracked_files(repo: Path) -> list[str]:
    """Tracked files plus untracked ones that are not ignored (a new test must be in the copy)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=repo, check=True, capture_output=True)
    return [p for p in out.stdout.decode().split("\0") if p]


_ACTIVE: set[subprocess.Popen[bytes]] = set()
_ACTIVE_LOCK = threading.Lock()
_STOP = threading.Event()


class Interrupted(Exception):
    """The run was stopped (Ctrl-C, SIGTERM) while this mutant was being tested."""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _run(cmd: Sequence[str], cwd: Path, env: dict[str, str], timeout: float,
         log: Path) -> int | None:
    """Run ``cmd`` in its own process group, output to ``log``; None on timeout (group killed)."""
    if _STOP.is_set():
        raise Interrupted
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        with _ACTIVE_LOCK:
            _ACTIVE.add(proc)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            return None
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(proc)
        if _STOP.is_set():
            raise Interrupted
        return rc


def stop_all() -> None:
    """Stop taking mutants and kill the process groups of the compilers and tests running."""
    _STOP.set()
    with _ACTIVE_LOCK:
        for proc in list(_ACTIVE):
            _kill_group(proc)


def _tail(path: Path, lines: int = 1) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:])[:300]


@dataclass
class Workspace:
    """A private copy of the repository in which mutants are applied, compiled and tested."""

    repo: Path
    root: Path
    python: str
    pristine: dict[str, bytes] = field(default_factory=dict)
    schema: bool = False  # contract mutants are switched on in schema artifacts, not compiled
    extra_env: dict[str, str] = field(default_factory=dict)  # for every pytest run here

    @classmethod
    def create(cls, repo: Path, root: Path) -> Workspace:
        root.mkdir(parents=True)
        for rel in _tracked_files(repo):
            src = repo / rel
            if not src.exists() and not src.is_symlink():
                continue  # deleted in the working tree
            dst = root / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)
        for name in (".venv", "node_modules"):
            if (repo / name).exists() and not (root / name).is_symlink():
                (root / name).symlink_to((repo / name).resolve())  # (a worktree's is copied)
        plugins = root.parent / f"{root.name}-plugin"
        plugins.mkdir()
        (plugins / "mutate_plugin.py").write_text(_PLUGIN, encoding="utf-8")
        (plugins / "mutate_compile.py").write_text(_COMPILE_SCRIPT, encoding="utf-8")
        (plugins / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
        (plugins / "mutate_probe.py").write_text(_PROBE_MODULE, encoding="utf-8")
        (plugins / "mutate_infect.py").write_text(_INFECT_PLUGIN, encoding="utf-8")
        (plugins / "mutate_batch.py").write_text(_BATCH_PLUGIN, encoding="utf-8")
        venv_python = repo / ".venv" / "bin" / "python"
        python = str(venv_python) if venv_python.exists() else sys.executable
        ws = cls(repo, root, python)
        ws.pristine = {p.relative_to(root).as_posix(): p.read_bytes()
                       for p in sorted((root / ARTIFACTS).glob("*.json"))}
        ws.check_import()
        return ws

    def compile(self, file: str, timeout: float) -> int | None:
        """Recompile the artifacts whose sources are ``file`` or import it (the others cannot
        change: byte-identical to a full ``python -m bridge.chain.compile --write``)."""
        return _run([self.python, str(self.plugin_dir / "mutate_compile.py"),
                     *sol_dependents(self.root, file)], self.root, self.env(), timeout,
                    self.plugin_dir / "compile.log")

    def build_schema(self, mutants: Sequence[Mutant], timeout: float) -> dict[str, int]:
        """Compile every contract with ``mutants`` behind switches (``schema_sources``) into
        this copy's artifacts, keeping the original ABIs (``pure`` stays ``pure`` for clients)
        and sources; from now on this copy runs contract mutants by switch. Returns the switch
        numbers."""
        sources, numbers = schema_sources(self.root, mutants)
        self.compile_sources(sources, timeout)
        return numbers

    def compile_sources(self, sources: dict[str, str], timeout: float) -> None:
        """Compile the contracts as ``sources`` (path → text) into this copy's artifacts,
        keeping the original ABIs and source files; the copy then runs them (``schema``)."""
        originals = {rel: (self.root / rel).read_text(encoding="utf-8") for rel in sources}
        try:
            for rel, text in sources.items():
                (self.root / rel).write_text(text, encoding="utf-8")
            rc = _run([self.python, str(self.plugin_dir / "mutate_compile.py"), "--all"],
                      self.root, self.env(), timeout, self.plugin_dir / "compile.log")
        finally:
            for rel, text in originals.items():
                (self.root / rel).write_text(text, encoding="utf-8")
        if rc != 0:
            note = "timed out" if rc is None else _tail(self.plugin_dir / "compile.log", 5)
            raise RuntimeError(f"the mutant schemata do not compile: {note}")
        for rel, blob in self.pristine.items():
            built = json.loads((self.root / rel).read_text(encoding="utf-8"))
            built["abi"] = json.loads(blob)["abi"]
            (self.root / rel).write_text(json.dumps(built, indent=2, sort_keys=True) + "\n",
                                         encoding="utf-8")
        self.adopt_schema(self.root / ARTIFACTS)

    def write_sources(self, sources: dict[str, str]) -> None:
        """Replace files of this copy (engine schemata or probes: they stay)."""
        for rel, text in sources.items():
            (self.root / rel).write_text(text, encoding="utf-8")

    def adopt_schema(self, artifacts: Path) -> None:
        """Use the schema artifacts in ``artifacts`` (built by ``build_schema``)."""
        for rel in self.pristine:
            src = artifacts / Path(rel).name
            if src.resolve() != (self.root / rel).resolve():
                shutil.copyfile(src, self.root / rel)
        self.pristine = {rel: (self.root / rel).read_bytes() for rel in self.pristine}
        self.schema = True

    def coverage_map(self, tests: Sequence[str], timeout: float) -> dict[str, Any]:
        """Run ``tests`` once, unmutated, with the coverage-map plugin; its JSON."""
        (self.plugin_dir / "mutate_covmap.py").write_text(_COVMAP_PLUGIN, encoding="utf-8")
        out = self.plugin_dir / "covmap.json"
        out.unlink(missing_ok=True)
        shutil.rmtree(self.root / ".hypothesis", ignore_errors=True)
        env = self.env()
        env["MUTATE_COVMAP"] = str(out)
        t0 = time.monotonic()
        rc = _run([self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                   "mutate_covmap", *tests], self.root, env, timeout,
                  self.plugin_dir / "covmap.log")
        if rc is None or not out.exists():
            raise RuntimeError(f"the coverage map run failed (exit {rc}): "
                               f"{_tail(self.plugin_dir / 'covmap.log', 3)}")
        data: dict[str, Any] = json.loads(out.read_text())
        data["seconds"] = round(time.monotonic() - t0, 1)
        data["exit"] = rc
        return data

    @property
    def plugin_dir(self) -> Path:
        return self.root.parent / f"{self.root.name}-plugin"

    def env(self, report: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        path = [str(self.root), str(self.plugin_dir)]
        if env.get("PYTHONPATH"):
            path.append(env["PYTHONPATH"])
        env.update(PYTHONPATH=os.pathsep.join(path), PYTHONDONTWRITEBYTECODE="1",
                   MUTATE_ROOT=str(self.root), MUTATE_SCHEMA="1" if self.schema else "0",
                   MUTATE_SWITCH="0")
        env.update(self.extra_env)
        if report is not None:
            env["MUTATE_REPORT"] = str(report)
        return env

    def check_import(self) -> None:
        """Fail unless ``bridge`` (and its compiler) resolve into this copy."""
        code = ("import bridge, bridge.chain.compile as c; "
                "print(bridge.__file__); print(c.REPO_ROOT)")
        out = subprocess.run([self.python, "-c", code], cwd=self.root, env=self.env(),
                             capture_output=True, text=True, check=True).stdout.split("\n")
        root = self.root.resolve()
        if root not in Path(out[0]).resolve().parents or Path(out[1]).resolve() != root:
            raise RuntimeError(f"the copy's bridge is not the one imported: {out[:2]} vs {root}")

    def restore_artifacts(self) -> None:
        for rel, blob in self.pristine.items():
            path = self.root / rel
            if path.read_bytes() != blob:
                path.write_bytes(blob)

    def artifacts_changed(self) -> bool:
        return any((self.root / rel).read_bytes() != blob for rel, blob in self.pristine.items())

    def run(self, mutant: Mutant, tests: Sequence[str], timeout: float,
            compile_timeout: float, switch: int | None = None) -> Result:
        """Test ``mutant``: a contract mutant by its ``switch`` in this copy's schema artifacts
        when given, else by editing its file (and recompiling, for a contract)."""
        path = self.root / mutant.file
        original = path.read_text(encoding="utf-8")
        started = time.monotonic()
        logs = self.plugin_dir
        switched = switch is not None and mutant.target == "contracts"
        if switched and not self.schema:
            raise ValueError("a switched mutant needs the schema artifacts (build_schema)")
        try:
            if not switched:
                path.write_text(mutant.apply(original), encoding="utf-8")
            compile_seconds = None
            if mutant.target == "contracts" and not switched:
                t0 = time.monotonic()
                rc = self.compile(mutant.file, compile_timeout)
                compile_seconds = time.monotonic() - t0
                if rc != 0:
                    note = "compile timed out" if rc is None else _tail(logs / "compile.log", 3)
                    return Result(mutant, "error", time.monotonic() - started, compile_seconds,
                                  note=f"does not compile: {note}")
                if not self.artifacts_changed() and mutant.kind != "noop":
                    return Result(mutant, "equivalent", time.monotonic() - started,
                                  compile_seconds, note="bytecode identical to the original")
            if not tests:
                return Result(mutant, "survived", time.monotonic() - started, compile_seconds,
                              note="no test covers it")
            shutil.rmtree(self.root / ".hypothesis", ignore_errors=True)  # independent runs
            report = logs / "report.json"
            report.unlink(missing_ok=True)
            cmd = [self.python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                   "-p", "mutate_plugin", *tests]
            env = self.env(report)
            if switched:
                env["MUTATE_SWITCH"] = str(switch)
            rc = _run(cmd, self.root, env, timeout, logs / "pytest.log")
            seconds = time.monotonic() - started
            if rc is None:
                return Result(mutant, "timeout", seconds, compile_seconds,
                              note=f"tests exceeded {timeout:.0f}s")
            failed = json.loads(report.read_text())["failed"] if report.exists() else []
            if rc == 0:
                return Result(mutant, "survived", seconds, compile_seconds)
            if rc == 1 or (rc == 2 and failed):
                return Result(mutant, "killed", seconds, compile_seconds,
                              test_that_killed=failed[0] if failed else None)
            return Result(mutant, "error", seconds, compile_seconds,
                          note=f"pytest exit {rc}: {_tail(logs / 'pytest.log', 2)}")
        finally:
            if not switched:
                path.write_text(original, encoding="utf-8")
                if mutant.target == "contracts":
                    self.restore_artifacts()


# -- command line -----------------------------------------------------------------------------


def select(mutants: list[Mutant], args: argparse.Namespace) -> list[Mutant]:
    """The mutants chosen by ``--file``, ``--id`` and ``--sample``, preceded by the controls
    (``--noop``) of the targets that still have a mutant."""
    real = [m for m in mutants if m.kind != "noop"]
    if args.file:
        wanted = {Path(f).as_posix().removeprefix("./") for f in args.file}
        real = [m for m in real
                if m.file in wanted or any(fnmatch.fnmatchcase(m.file, w) for w in wanted)]
    if args.id:
        real = [m for m in real if any(fnmatch.fnmatchcase(m.id, p) for p in args.id)]
    if args.sample is not None and args.sample < len(real):
        picked = set(random.Random(args.seed).sample(range(len(real)), args.sample))
        real = [m for i, m in enumerate(real) if i in picked]
    targets = {m.target for m in real}
    return [m for m in mutants if m.kind == "noop" and m.target in targets] + real


def fingerprint(repo: Path) -> str:
    """A hash of the files a coverage map depends on (sources, tests, artifacts)."""
    h = hashlib.sha256()
    for rel in sorted(_tracked_files(repo)):
        if rel.startswith(MAP_INPUTS) and (repo / rel).is_file():
            h.update(rel.encode() + b"\0" + (repo / rel).read_bytes() + b"\0")
    return h.hexdigest()


class Selection:
    """Per mutant, the tests to run: from the coverage map, or None for the default paths."""

    def __init__(self, cmap: CoverageMap, graph: CallGraph) -> None:
        self.map = cmap
        self.graph = graph

    @classmethod
    def build(cls, repo: Path, data: dict[str, Any]) -> Selection:
        sources = {p.relative_to(repo).as_posix(): p.read_text(encoding="utf-8")
                   for p in sorted(repo.glob(CONTRACT_GLOB))}
        return cls(CoverageMap.from_json(data, selector_names(repo / ARTIFACTS)),
                   CallGraph.from_sources(sources))

    def tests_for(self, m: Mutant) -> list[str] | None:
        """The covering tests, fastest first (a mutant is killed by its first failing test:
        the fast, focused tests usually find it before the long ones start)."""
        if m.target == "engine":
            lo, hi = m.lines if m.lines != (0, 0) else (m.line, m.line)
            chosen = self.map.for_engine(m.file, range(lo, hi + 1))
        else:
            chosen = self.map.for_contract(self.graph.entries(m.file, m.start))
        if chosen is None:
            return None
        return sorted(chosen, key=lambda t: float(self.map.tests[t].get("seconds", 0.0)))


def build_map(repo: Path, base: Path, timeout: float,
              schema: Path | None = None) -> dict[str, Any]:
    """The coverage map of ``MAP_TESTS`` from an unmutated private copy (with the schema
    artifacts in ``schema``, switched off, when given: a test failing there is never selected)."""
    ws = Workspace.create(repo, base / "map")
    if schema is not None:
        ws.adopt_schema(schema)
    tests = [*MAP_TESTS, *(f"--deselect={t}" for t in MAP_DESELECT)]
    data = ws.coverage_map(tests, timeout)
    failed = [t for t, r in data["tests"].items() if r.get("failed")]
    if failed:
        # Failed under tracing (slower: a deadline, a timing margin) or failing anyway? Run them
        # again without the tracer: those that pass now are unmapped, so selected for every
        # mutant (conservative); those that fail again cannot judge a mutant: never selected.
        report = ws.plugin_dir / "report.json"
        report.unlink(missing_ok=True)
        _run([ws.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mutate_plugin",
              *failed], ws.root, ws.env(report), timeout, ws.plugin_dir / "refail.log")
        again = set(json.loads(report.read_text())["failed"]) if report.exists() else set(failed)
        for t in failed:
            if t not in again:
                data["tests"][t].update(failed=False, opaque_engine=True, opaque_contracts=True,
                                        note="failed under the tracer only: unmapped")
    data["fingerprint"] = fingerprint(repo) + (":schema" if schema is not None else "")
    data["tests_args"] = tests
    return data


def _shown(tests: list[str], most: int = 6) -> str:
    if not tests:
        return "no test"
    more = f" +{len(tests) - most} more" if len(tests) > most else ""
    return ", ".join(t.split("::", 1)[-1] if "::" in t else t for t in tests[:most]) + more


def _table(rows: list[list[str]], widths: list[int]) -> str:
    def cut(s: str, w: int) -> str:
        return s if len(s) <= w else s[: w - 1] + "…"

    return "\n".join("  ".join(cut(c, w).ljust(w) for c, w in zip(r, widths, strict=True))
                     .rstrip() for r in rows)


def print_list(mutants: list[Mutant]) -> None:
    rows = [["id", "mutated"]] + [[m.id, m.mutated] for m in mutants]
    print(_table(rows, [58, 100]))
    by_target: dict[str, int] = {}
    for m in mutants:
        by_target[m.target] = by_target.get(m.target, 0) + 1
    print(f"\n{len(mutants)} mutants: "
          + ", ".join(f"{n} {t}" for t, n in sorted(by_target.items())))


def summary(results: list[Result], args: argparse.Namespace, generated: int) -> dict[str, Any]:
    real = [r for r in results if r.mutant.kind != "noop"]
    by_status = {s: [r for r in real if r.status == s]
                 for s in ("killed", "survived", "equivalent", "timeout", "error")}
    judged = len(real) - len(by_status["equivalent"]) - len(by_status["error"])
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip())
    return {
        "mutants": len(real),
        "killed": len(by_status["killed"]),
        "score": round(len(by_status["killed"]) / judged, 3) if judged else None,
        "survived": [r.mutant.id for r in by_status["survived"]],
        "equivalent": [{"id": r.mutant.id, "reason": r.note or ""}
                       for r in by_status["equivalent"]],
        "timeout": [r.mutant.id for r in by_status["timeout"]],
        "error": [{"id": r.mutant.id, "reason": r.note or ""} for r in by_status["error"]],
        "controls": [r.as_json() for r in results if r.mutant.kind == "noop"],
        "results": [r.as_json() for r in real],
        "run": {
            "commit": head, "dirty": dirty, "generated": generated,
            "only": args.only, "files": args.file, "ids": args.id, "sample": args.sample,
            "seed": args.seed, "tests": args.tests, "timeout": args.timeout, "jobs": args.jobs,
            "seconds": round(sum(r.seconds for r in results), 1),
        },
    }


def print_results(results: list[Result]) -> None:
    rows = [["status", "secs", "id", "mutated", "killed by / note"]]
    for r in results:
        rows.append([r.status + (" (control)" if r.mutant.kind == "noop" else ""),
                     f"{r.seconds:.1f}", r.mutant.id, r.mutant.mutated,
                     r.test_that_killed or r.note or ""])
    print(_table(rows, [20, 6, 60, 56, 70]))


def load_or_build_map(args: argparse.Namespace, base: Path,
                      schema: Path | None = None) -> dict[str, Any]:
    """``--map`` if it matches the sources now, else a new map (saved to ``--map``)."""
    if args.map is not None and args.map.exists():
        data: dict[str, Any] = json.loads(args.map.read_text(encoding="utf-8"))
        if data.get("fingerprint") == fingerprint(REPO) + (":schema" if schema else ""):
            print(f"coverage map: {args.map} ({len(data['tests'])} tests)", flush=True)
            return data
        print(f"coverage map: {args.map} is out of date (the sources or tests changed); "
              "building it again", flush=True)
    print(f"coverage map: running {' '.join(MAP_TESTS)} once with per-test tracing…", flush=True)
    data = build_map(REPO, base, args.map_timeout, schema)
    print(f"coverage map: {len(data['tests'])} tests in {data['seconds']:.0f}s", flush=True)
    if args.map is not None:
        args.map.parent.mkdir(parents=True, exist_ok=True)
        args.map.write_text(json.dumps(data) + "\n", encoding="utf-8")
    data["built_now"] = True
    return data


def confirmed(switched: Result, alone: Result) -> Result:
    """The verdict on a contract mutant that survived its switch, from its own compilation."""
    alone.seconds += switched.seconds
    if alone.status == "survived":
        alone.note = "survived its switch and its own compilation" + (
            f"; {alone.note}" if alone.note else "")
    elif alone.status == "killed":
        alone.note = "survived its switch, killed compiled on its own"
    return alone


def _root_of(group: tuple[str, ...]) -> str:
    """The file of ``group`` whose dependents are the whole group (it was made from one)."""
    return next(f for f in group if tuple(sol_dependents(REPO, f)) == group)


def print_estimate(mutants: list[Mutant], selection: Selection, base: Path, jobs: int,
                   data: dict[str, Any], schema_seconds: float | None = None) -> int:
    """Each mutant's cost if it survives (the worst case): its tests' seconds in the map, plus
    one contract compilation (measured here) unless they are switched on in one schema
    compilation (``schema_seconds``); the total over ``jobs`` parallel copies."""
    compile_s: dict[tuple[str, ...], float] = {}  # per set of recompiled sources, measured
    groups = {tuple(sol_dependents(REPO, m.file)) for m in mutants if m.target == "contracts"}
    if schema_seconds is not None:
        compile_s = dict.fromkeys(groups, 0.0)
        groups = set()
    if groups:
        ws = Workspace.create(REPO, base / "estimate")
        for group in sorted(groups):
            t0 = time.monotonic()
            rc = ws.compile(group[0] if len(group) == 1 else _root_of(group), 600)
            compile_s[group] = time.monotonic() - t0
            print(f"compiling {', '.join(group)}: {compile_s[group]:.1f}s", flush=True)
            if rc != 0:
                print(f"mutate: the compilation failed: "
                      f"{_tail(ws.plugin_dir / 'compile.log', 3)}", file=sys.stderr)
                return 2
    default_s = {t: selection.map.seconds_of(x for x in selection.map.tests
                                             if any(x.startswith(p) for p in DEFAULT_TESTS[t]))
                 for t in DEFAULT_TESTS}
    rows = [["id", "tests", "secs"]]
    total = {"contracts": 0.0, "engine": 0.0}
    uncovered = 0
    declared = load_equivalent()
    for m in mutants:
        if m.kind != "noop" and declared_equivalent(m, declared) is not None:
            rows.append([m.id, "equivalent", "0"])
            continue
        chosen = selection.tests_for(m)
        secs = default_s[m.target] if chosen is None else selection.map.seconds_of(chosen)
        uncovered += chosen == []
        if m.target == "contracts":
            secs += compile_s[tuple(sol_dependents(REPO, m.file))]
        total[m.target] += secs
        rows.append([m.id, "default" if chosen is None else str(len(chosen)), f"{secs:.1f}"])
    print(_table(rows, [70, 8, 8]))
    if schema_seconds is not None:
        total["contracts"] += schema_seconds * jobs  # once, before the copies start
    whole = sum(total.values())
    print(f"\n{len(mutants)} mutants, {uncovered} covered by no test; the map took "
          f"{data.get('seconds', 0):.0f}s (add it to the total when it is built in the run).")
    print("If every mutant survived (the upper bound): "
          + ", ".join(f"{t} {s / 60:.1f} min" for t, s in total.items())
          + f"; total {whole / 60:.1f} min on one copy, {whole / 60 / jobs:.1f} min on {jobs} "
          "(--jobs)")
    return 0


# -- the infection run: schemata, an infection map, many mutants per pytest process ----------

# The tests that judge a mutant: the fast tier (``make check``'s tests of these paths). Realtime
# tests drive the same code through other processes (anvil, the CLI, agents), where neither the
# switches nor the probes reach.
RUN_TESTS = [*MAP_TESTS, "-m", "not realtime", *(f"--deselect={t}" for t in MAP_DESELECT)]
RUN_ENV = {"BRIDGE_TEST_TIER": "check"}


@dataclass
class Infection:
    """The infection map of every mutant (``_INFECT_PLUGIN``'s files, merged) and the schemata's
    numbering: per mutant, the tests to run and how."""

    data: dict[str, Any]
    sch: Schemata

    @classmethod
    def merge(cls, parts: Iterable[dict[str, Any]], sch: Schemata) -> Infection:
        data: dict[str, Any] = {"tests": {}, "outside": {"py": [], "evm": []}, "wide": {}}
        for part in parts:
            data["tests"].update(part["tests"])
            for kind in ("py", "evm"):
                data["outside"][kind] = sorted(set(data["outside"][kind])
                                               | set(part["outside"][kind]))
            for key, hits in part["wide"].items():
                have = data["wide"].setdefault(key, {"py": [], "evm": []})
                for kind in ("py", "evm"):
                    have[kind] = sorted(set(have[kind]) | set(hits[kind]))
        return cls(data, sch)

    def failed(self) -> list[str]:
        return [t for t, r in self.data["tests"].items() if r.get("failed")]

    def job(self, m: Mutant) -> dict[str, Any]:
        """``tests`` (fastest first): those the map saw infected by ``m``, those using a wide
        fixture whose setup it infected, and the opaque ones of its target; ``isolate`` when
        it infected a wide fixture (rebuilt under it); ``fresh`` when it was infected outside
        any test (at import: a process of its own, switched from the start)."""
        kind, hit = self.sch.infection(m)
        tests = self.data["tests"]
        wide = {key for key, h in self.data["wide"].items() if hit in h[kind]}
        fresh = hit in self.data["outside"][kind]
        opaque = f"opaque_{m.target}"
        chosen = [t for t, r in tests.items() if not r.get("failed") and (
            fresh or hit in r["hits"][kind] or r.get(opaque) or wide & set(r["wide"]))]
        chosen.sort(key=lambda t: float(tests[t]["seconds"]))
        return {"tests": chosen, "isolate": bool(wide), "fresh": fresh,
                "engine": self.sch.numbers[m.id] if m.target == "engine" else 0,
                "contract": self.sch.numbers[m.id] if m.target == "contracts" else 0}

    def seconds_of(self, tests: Iterable[str]) -> float:
        return sum(float(self.data["tests"][t]["seconds"]) for t in tests)


def all_schemata(repo: Path, mutants: Sequence[Mutant]) -> tuple[
        dict[str, str], dict[str, str], dict[str, str], dict[str, str], Schemata]:
    """Contract schema and probe sources, engine schema and probe sources, one numbering."""
    real = [m for m in mutants if m.kind != "noop"]
    sol_schema, sol_probe, sch = contract_schemata(repo, real)
    py_schema, py_probe, py_numbers = engine_schemata(repo, real)
    sch.numbers.update(py_numbers)
    return sol_schema, sol_probe, py_schema, py_probe, sch


def _compile_both(pairs: Sequence[tuple[Workspace, dict[str, str]]], timeout: float) -> None:
    """Compile each copy's contracts (solc-js, one core each) at the same time."""
    with ThreadPoolExecutor(len(pairs)) as pool:
        for f in [pool.submit(ws.compile_sources, src, timeout) for ws, src in pairs]:
            f.result()


def infection_map(ws: Workspace, jobs: int, timeout: float) -> list[dict[str, Any]]:
    """Run the fast tier once in the probe copy ``ws`` (``jobs`` xdist workers); the per-worker
    maps."""
    out = ws.plugin_dir / "infect.json"
    for old in ws.plugin_dir.glob("infect.json.*"):
        old.unlink()
    env = {**ws.env(), **RUN_ENV, "MUTATE_PROBE": "1", "MUTATE_COVMAP": str(out)}
    xdist = ["-n", str(jobs), "--dist", "worksteal"] if jobs > 1 else []
    rc = _run([ws.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mutate_infect",
               *xdist, *RUN_TESTS], ws.root, env, timeout, ws.plugin_dir / "infect.log")
    parts = [json.loads(f.read_text()) for f in sorted(ws.plugin_dir.glob("infect.json.*"))]
    if rc is None or not parts:
        raise RuntimeError(f"the infection map run failed (exit {rc}): "
                           f"{_tail(ws.plugin_dir / 'infect.log', 3)}")
    return parts


BATCH_MEMORY = 6 << 30  # bytes of heap per mutant test process (MUTATE_MEMORY)


class BatchRunner:
    """Worker pytest processes in one schema copy, each testing mutants from a shared queue
    (``_BATCH_PLUGIN``); a worker that dies or overruns ``timeout`` on one mutant is killed and
    replaced, and that mutant is ``error`` or ``timeout``."""

    def __init__(self, ws: Workspace, queue: Path, test_timeout: float, timeout: float,
                 tests: Sequence[str] = tuple(RUN_TESTS)) -> None:
        self.ws = ws
        self.tests = list(tests)
        self.q = queue
        self.test_timeout = test_timeout
        self.timeout = timeout
        for d in ("queue", "claimed", "results"):
            (queue / d).mkdir(parents=True, exist_ok=True)
        self.n = 0

    def put(self, name: str, job: dict[str, Any]) -> None:
        (self.q / "queue" / f"{name}.json").write_text(json.dumps(job))

    def _start(self, extra: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
        self.n += 1
        me = f"{self.q.name}-w{self.n}"
        env = {**self.ws.env(self.ws.plugin_dir / f"report-{me}.json"), **RUN_ENV,
               "MUTATE_QUEUE": str(self.q), "MUTATE_WORKER": me,
               "MUTATE_TEST_TIMEOUT": str(self.test_timeout), "MUTATE_MEMORY": str(BATCH_MEMORY),
               **(extra or {})}
        log = (self.ws.plugin_dir / f"batch-{me}.log").open("wb")
        proc = subprocess.Popen(
            [self.ws.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
             "mutate_plugin", "-p", "mutate_batch", *self.tests], cwd=self.ws.root, env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        with _ACTIVE_LOCK:
            _ACTIVE.add(proc)
        return proc, me

    def run(self, workers: int, on_result: Any, extra: dict[str, str] | None = None) -> None:
        """Until the queue is empty and every claimed job has a verdict: ``on_result(name,
        verdict)`` per job."""
        running = [self._start(extra) for _ in range(workers)]
        seen: dict[str, float] = {}
        done: set[str] = set()
        while running and not _STOP.is_set():
            time.sleep(0.5)
            for f in sorted((self.q / "results").glob("*.json")):
                if f.name not in done:
                    done.add(f.name)
                    on_result(f.stem, json.loads(f.read_text()))
            for proc, me in list(running):
                claimed = [f for f in (self.q / "claimed" / me).glob("*.json")
                           if f.name not in done] if (self.q / "claimed" / me).exists() else []
                now = time.monotonic()
                for f in claimed:
                    seen.setdefault(f.name, now)
                over = [f for f in claimed if now - seen[f.name] > self.timeout]
                rc = proc.poll()
                if rc is None and not over:
                    continue
                if rc is None:
                    _kill_group(proc)
                    proc.wait()
                with _ACTIVE_LOCK:
                    _ACTIVE.discard(proc)
                running.remove((proc, me))
                for f in sorted((self.q / "results").glob("*.json")):  # written meanwhile
                    if f.name not in done:
                        done.add(f.name)
                        on_result(f.stem, json.loads(f.read_text()))
                for f in claimed:
                    if f.name in done:
                        continue
                    done.add(f.name)
                    log = self.ws.plugin_dir / f"batch-{me}.log"
                    verdict = ({"status": "timeout", "note": f"over {self.timeout:.0f}s"}
                               if f in over else
                               {"status": "killed", "by": "<memory>", "note": "the test process "
                                "ran out of memory under this mutant (a test that passes "
                                "without it)"} if "MemoryError" in _tail(log, 3) else
                               {"status": "error", "note": f"the test process exited ({rc}): "
                                f"{_tail(log, 2)}"})
                    on_result(f.stem, {**verdict, "seconds": now - seen[f.name], "ran": 0})
                if rc not in (None, 0) and not any((self.q / "claimed" / me).glob("*.json")):
                    if extra and any(v != "0" for k, v in extra.items() if "SWITCH" in k):
                        # a process of its own, switched from the start: its mutant broke the
                        # session before any test (an import of a conftest or plugin)
                        for f in sorted((self.q / "queue").glob("*.json")):
                            f.unlink()
                            done.add(f.name)
                            on_result(f.stem, {"status": "killed", "by": "<startup>",
                                               "seconds": 0.0, "ran": 0, "note": _tail(
                                                   self.ws.plugin_dir / f"batch-{me}.log", 1)})
                        continue
                    raise RuntimeError(f"a mutant test process failed before any mutant "
                                       f"(exit {rc}): "
                                       f"{_tail(self.ws.plugin_dir / f'batch-{me}.log', 3)}")
                if any((self.q / "queue").iterdir()):
                    running.append(self._start(extra))


def run_infection(args: argparse.Namespace, everything: list[Mutant], mutants: list[Mutant],
                  results: list[Result | None], todo: list[int], base: Path) -> dict[str, Any]:
    """The default run: every mutant compiled in behind switches (contracts and engine), the
    infection map of the fast tier on probe sources (reused from ``--map`` while the sources
    and tests are unchanged), then ``--jobs`` pytest processes testing mutant after mutant,
    each on the tests that its mutation infected; a survivor that ran tests is then applied on
    its own (compiled alone, for a contract) and tested again. Fills ``results``."""
    t0 = time.monotonic()
    sol_schema, sol_probe, py_schema, py_probe, sch = all_schemata(REPO, everything)
    jobs = max(1, args.jobs)
    run_ws = Workspace.create(REPO, base / "run")
    print(f"schemata: {sum(m.target == 'contracts' for m in everything if m.kind != 'noop')} "
          f"contract and {sum(m.target == 'engine' for m in everything if m.kind != 'noop')} "
          f"engine mutants behind switches; {len(sch.probed)} contract comparisons probed",
          flush=True)
    # the map depends on the sources, the tests and how this file probes them
    key = fingerprint(REPO) + ":infect:" + hashlib.sha256(
        Path(__file__).read_bytes()).hexdigest()[:16]
    parts: list[dict[str, Any]] | None = None
    map_seconds = 0.0
    if args.map is not None and args.map.exists():
        saved = json.loads(args.map.read_text(encoding="utf-8"))
        if saved.get("fingerprint") == key:
            parts = saved["parts"]
            map_seconds = float(saved.get("seconds", 0.0))
            print(f"infection map: {args.map}", flush=True)
    if parts is None:
        map_ws = Workspace.create(REPO, base / "map")
        _compile_both([(run_ws, sol_schema), (map_ws, sol_probe)], args.compile_timeout * 4)
        print(f"compiled the schemata and the probes in {time.monotonic() - t0:.0f}s; "
              "running the fast tier once on the probes…", flush=True)
        map_ws.write_sources(py_probe)
        t1 = time.monotonic()
        parts = infection_map(map_ws, jobs, args.map_timeout)
        map_seconds = time.monotonic() - t1
        if args.map is not None:
            args.map.parent.mkdir(parents=True, exist_ok=True)
            args.map.write_text(json.dumps({"fingerprint": key, "parts": parts,
                                            "seconds": round(map_seconds, 1)}) + "\n",
                                encoding="utf-8")
    elif not args.estimate:  # an estimate needs the map only
        run_ws.compile_sources(sol_schema, args.compile_timeout * 4)
    run_ws.write_sources(py_schema)
    inf = Infection.merge(parts, sch)
    failed = inf.failed()
    print(f"infection map: {len(inf.data['tests'])} tests in {map_seconds:.0f}s"
          + (f"; {len(failed)} fail without a mutant (never selected): {_shown(failed, 4)}"
             if failed else ""), flush=True)

    usable = [t for t, r in inf.data["tests"].items() if not r.get("failed")]
    info = {"tests": len(inf.data["tests"]), "seconds": round(map_seconds, 1),
            "failed_without_mutant": failed, "tests_args": RUN_TESTS,
            "opaque": {t: [k for k in ("opaque_engine", "opaque_contracts") if r.get(k)]
                       for t, r in inf.data["tests"].items()
                       if r.get("opaque_engine") or r.get("opaque_contracts")}}
    if args.estimate:
        print_infection_estimate([mutants[i] for i in todo], inf, jobs)
        return info
    batch: list[tuple[float, int, dict[str, Any]]] = []
    fresh: list[tuple[int, dict[str, Any]]] = []
    for i in todo:
        m = mutants[i]
        job = (inf.job(m) if m.kind != "noop" else
               {"tests": [t for t in usable if t.startswith(tuple(DEFAULT_TESTS[m.target]))],
                "isolate": True, "fresh": False, "engine": 0, "contract": 0})
        # a test may take ten times its time in the map (at least --test-floor seconds)
        job["limits"] = {t: max(args.test_floor, 10 * float(inf.data["tests"][t]["seconds"]))
                         for t in job["tests"]}
        if not job["tests"]:
            results[i] = Result(m, "survived", 0.0, tests=[],
                                note="no test infects it: every test runs as on the original")
        elif job["fresh"]:
            fresh.append((i, job))
        else:
            batch.append((inf.seconds_of(job["tests"]), i, job))
    jobs_of: dict[int, dict[str, Any]] = {i: job for _, i, job in batch}
    jobs_of.update(fresh)
    runner = BatchRunner(run_ws, base / "queue", args.test_timeout, args.timeout)
    for rank, (_, i, job) in enumerate(sorted(batch, key=lambda b: -b[0])):
        runner.put(f"{rank:05d}-{i}", job)

    def on_result(name: str, v: dict[str, Any]) -> None:
        i = int(name.rsplit("-", 1)[1])
        m, job = mutants[i], jobs_of[i]
        r = Result(m, v["status"], float(v.get("seconds", 0.0)), test_that_killed=v.get("by"),
                   note=v.get("note") if v["status"] != "killed" else None,
                   tests=job["tests"][: max(int(v.get("ran", 0)), 0)])
        if v.get("missing"):
            r.note = f"{len(v['missing'])} selected test(s) not collected" + (
                f"; {r.note}" if r.note else "")
        results[i] = r
        print(f"[{sum(x is not None for x in results)}/{len(mutants)}] {r.status:<10} "
              f"{r.seconds:6.1f}s  {m.id}  {r.test_that_killed or r.note or ''}  "
              f"({len(r.tests or [])}/{len(job['tests'])} tests)", flush=True)

    print(f"{len(batch)} mutants to test in {jobs} process(es), {len(fresh)} in a process of "
          f"their own, {sum(r is not None for r in results)} decided already", flush=True)
    if batch:
        runner.run(min(jobs, len(batch)), on_result)
    def alone_in_a_process(i: int, job: dict[str, Any]) -> None:
        own = BatchRunner(run_ws, base / f"queue-{i}", args.test_timeout, args.timeout)
        own.put(f"{len(batch) + i:05d}-{i}", job)
        own.run(1, on_result, {"MUTATE_ENGINE_SWITCH": str(job["engine"]),
                               "MUTATE_SWITCH": str(job["contract"])})

    if fresh:
        with ThreadPoolExecutor(jobs) as pool:
            for f in [pool.submit(alone_in_a_process, i, job) for i, job in fresh]:
                f.result()
    again = [i for i in todo if (r := results[i]) is not None and r.status == "survived"
             and r.tests and mutants[i].kind != "noop"]
    if again and not _STOP.is_set():
        print(f"applying the {len(again)} survivor(s) that ran tests on their own and testing "
              "them again…", flush=True)
        pending: Queue[int] = Queue()
        for i in again:
            pending.put(i)

        def confirm(w: int) -> None:
            ws = Workspace.create(REPO, base / f"alone{w}")
            ws.extra_env = dict(RUN_ENV)
            while not _STOP.is_set():
                try:
                    i = pending.get_nowait()
                except Empty:
                    return
                before = results[i]
                assert before is not None
                try:
                    r = confirmed(before, ws.run(mutants[i], before.tests or [], args.timeout,
                                                 args.compile_timeout))
                except Interrupted:
                    return
                r.tests = before.tests
                results[i] = r
                print(f"        alone: {r.status:<10} {mutants[i].id}  "
                      f"{r.test_that_killed or r.note or ''}", flush=True)

        with ThreadPoolExecutor(jobs) as pool:
            for f in [pool.submit(confirm, w) for w in range(min(jobs, len(again)))]:
                f.result()
    return {**info, "isolated": sum(bool(j.get("isolate")) for j in jobs_of.values()),
            "fresh": len(fresh), "wall_seconds": round(time.monotonic() - t0, 1)}


def print_infection_estimate(mutants: Sequence[Mutant], inf: Infection, jobs: int) -> None:
    """Per mutant, the tests its mutation infected and their seconds in the map: the cost if it
    survives (a killed one stops at its first failing test, usually among the first)."""
    rows = [["id", "tests", "secs", "how"]]
    total = {"contracts": 0.0, "engine": 0.0}
    none = 0
    declared = load_equivalent()
    for m in mutants:
        if m.kind == "noop":
            continue
        if declared_equivalent(m, declared) is not None:
            rows.append([m.id, "-", "0", "declared equivalent"])
            continue
        job = inf.job(m)
        secs = inf.seconds_of(job["tests"])
        none += not job["tests"]
        total[m.target] += secs
        how = ("own process" if job["fresh"] else "isolated" if job["isolate"] else
               "no test infects it" if not job["tests"] else "")
        rows.append([m.id, str(len(job["tests"])), f"{secs:.1f}", how])
    print(_table(rows, [70, 6, 8, 20]))
    whole = sum(total.values())
    print(f"\n{len(rows) - 1} mutants, {none} infected by no test (survive without a run). If "
          "every mutant survived (the upper bound): "
          + ", ".join(f"{t} {s / 60:.1f} min" for t, s in total.items())
          + f"; {whole / 60 / jobs:.1f} min on {jobs} process(es), plus the map")


def main(argv: list[str] | None = None) -> int:
    doc = (__doc__ or "").strip()
    parser = argparse.ArgumentParser(description=doc.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["contracts", "engine"])
    parser.add_argument("--file", action="append", metavar="PATH",
                        help="only mutants of this file (repeatable; glob allowed)")
    parser.add_argument("--id", action="append", metavar="PATTERN",
                        help="only mutants whose id matches this glob (repeatable)")
    parser.add_argument("--sample", type=int, metavar="N", help="a random sample of N mutants")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel copies (default 1)")
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    parser.add_argument("--tests", nargs="+", metavar="PATH",
                        help="pytest arguments instead of the per-target default")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds of tests per mutant (default 900)")
    parser.add_argument("--compile-timeout", type=float, default=300.0)
    parser.add_argument("--noop", action="store_true",
                        help="also run a no-op control mutant per target (it must survive)")
    parser.add_argument("--no-map", action="store_true",
                        help="no coverage map: every mutant runs its target's default paths")
    parser.add_argument("--map", type=Path, metavar="JSON",
                        help="reuse this coverage map if it matches the sources, else build "
                             "it and save it here")
    parser.add_argument("--map-timeout", type=float, default=3600.0)
    parser.add_argument("--estimate", action="store_true",
                        help="build/load the map and print the full run's estimated time per "
                             "mutant (its selected tests' seconds in the map, plus a measured "
                             "compilation for contract mutants); run nothing")
    parser.add_argument("--test-timeout", type=float, default=300.0,
                        help="seconds one test may run under a mutant, at most (default 300)")
    parser.add_argument("--test-floor", type=float, default=30.0,
                        help="a test may run ten times its seconds in the infection map under "
                             "a mutant, and at least this long (default 30)")
    parser.add_argument("--legacy-map", action="store_true",
                        help="one pytest process per mutant and the entry-point coverage map "
                             "instead of the infection map")
    parser.add_argument("--compile-each", action="store_true",
                        help="compile every contract mutant on its own (slow: ~15 s each) "
                             "instead of all at once behind switches")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--workdir", type=Path, help="where the copies go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the copies afterwards")
    args = parser.parse_args(argv)

    everything = discover(REPO, args.only, noop=args.noop)
    generated = sum(m.kind != "noop" for m in everything)
    mutants = select(everything, args)
    if args.list:
        print_list(mutants)
        return 0
    if not mutants:
        print("no mutants selected", file=sys.stderr)
        return 2

    declared = load_equivalent()
    results: list[Result | None] = [None] * len(mutants)
    todo: Queue[int] = Queue()
    for i, m in enumerate(mutants):
        reason = declared_equivalent(m, declared) if m.kind != "noop" else None
        if reason is not None:
            results[i] = Result(m, "equivalent", 0.0, note=reason)
        else:
            todo.put(i)
    jobs = max(1, min(args.jobs, todo.qsize() or 1))
    base = Path(tempfile.mkdtemp(prefix="mutate-", dir=args.workdir))
    if not (args.legacy_map or args.compile_each or args.no_map or args.tests):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        interrupted = False
        map_info: dict[str, Any] | None = None
        try:
            map_info = run_infection(args, everything, mutants, results, list(todo.queue), base)
        except (KeyboardInterrupt, SystemExit):
            interrupted = True
            print("\ninterrupted: stopping the running tests; partial results follow",
                  file=sys.stderr, flush=True)
        except (RuntimeError, OSError, ValueError) as exc:
            print(f"mutate: {exc}", file=sys.stderr)  # the verdicts so far are still written
            interrupted = True
        finally:
            stop_all()
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
        if args.estimate:
            return 0
        code = report_results(args, results, generated, map_info, interrupted)
        return 2 if interrupted and code == 130 else code
    selection: Selection | None = None
    map_info: dict[str, Any] | None = None
    switches: dict[str, int] = {}
    schema: Path | None = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not args.compile_each and any(m.target == "contracts" for m in mutants):
        t0 = time.monotonic()
        print("compiling every contract mutant behind its switch…", flush=True)
        try:
            schema_ws = Workspace.create(REPO, base / "schema")
            switches = schema_ws.build_schema(mutants, args.compile_timeout * 4)
        except (RuntimeError, OSError, ValueError) as exc:
            shutil.rmtree(base, ignore_errors=True)
            print(f"mutate: {exc}", file=sys.stderr)
            return 2
        except (KeyboardInterrupt, SystemExit):
            stop_all()
            shutil.rmtree(base, ignore_errors=True)
            return 130
        schema = schema_ws.root / ARTIFACTS
        schema_seconds = time.monotonic() - t0
        print(f"compiled {len(switches)} contract mutants in {schema_seconds:.0f}s", flush=True)
    if not args.no_map and not args.tests:
        try:
            data = load_or_build_map(args, base, schema)
        except (RuntimeError, OSError, ValueError) as exc:
            shutil.rmtree(base, ignore_errors=True)
            print(f"mutate: {exc}", file=sys.stderr)
            return 2
        except (KeyboardInterrupt, SystemExit):
            stop_all()  # the map's pytest runs in its own process group
            shutil.rmtree(base, ignore_errors=True)
            print("\ninterrupted while building the coverage map", file=sys.stderr)
            return 130
        selection = Selection.build(REPO, data)
        failed = selection.map.failed()
        map_info = {"tests": len(data["tests"]), "seconds": data.get("seconds"),
                    "built": data.get("built_now", False),
                    "failed_without_mutant": failed,
                    "opaque": {t: [k for k in ("opaque_engine", "opaque_contracts") if r.get(k)]
                               for t, r in data["tests"].items()
                               if r.get("opaque_engine") or r.get("opaque_contracts")}}
        if failed:
            print(f"WARNING: {len(failed)} test(s) fail without a mutant and are never selected: "
                  + ", ".join(failed[:5]), file=sys.stderr, flush=True)
        if args.estimate:
            code = print_estimate(mutants, selection, base, jobs, data,
                                  schema_seconds if schema is not None else None)
            shutil.rmtree(base, ignore_errors=True)
            return code
    elif args.estimate:
        print("mutate: --estimate needs the coverage map (not --no-map or --tests)",
              file=sys.stderr)
        return 2
    print(f"{len(mutants)} mutants ({generated} generated), {todo.qsize()} to run, "
          f"{jobs} job(s), copies in {base}", flush=True)

    def worker(w: int, queue: Queue[int], switched: bool) -> None:
        ws = Workspace.create(REPO, base / f"{'w' if switched else 'c'}{w}")
        if switched and schema is not None:
            ws.adopt_schema(schema)
        while not _STOP.is_set():
            try:
                i = queue.get_nowait()
            except Empty:
                return
            m = mutants[i]
            before = results[i]
            default = args.tests or [
                *DEFAULT_TESTS[m.target],
                *(f"--deselect={t}" for t in DEFAULT_DESELECT[m.target]),
            ]
            chosen = selection.tests_for(m) if selection is not None else None
            tests = default if chosen is None else chosen
            try:
                r = ws.run(m, tests, args.timeout, args.compile_timeout,
                           switches.get(m.id) if switched else None)
                if before is not None:  # a switched survivor, compiled on its own
                    r = confirmed(before, r)
            except Interrupted:
                return
            except Exception as exc:  # a harness failure on one mutant is reported, not fatal
                r = Result(m, "error", 0.0, note=f"harness: {exc!r}"[:300])
            r.tests = list(tests)
            results[i] = r
            ran = (f"{len(chosen)} test(s) from the map: {_shown(chosen)}" if chosen is not None
                   else "default: " + " ".join(t for t in tests if not t.startswith("--")))
            print(f"[{sum(x is not None for x in results)}/{len(mutants)}] {r.status:<10} "
                  f"{r.seconds:6.1f}s  {m.id}  {r.test_that_killed or r.note or ''}\n"
                  f"        ran {ran}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a SIGTERM cleans up like Ctrl-C
    interrupted = False
    pool = ThreadPoolExecutor(jobs)
    try:
        for f in [pool.submit(worker, w, todo, True) for w in range(jobs)]:
            f.result()
        # A contract mutant that survived its switch is compiled on its own and tested again:
        # identical bytecode makes it equivalent, and a test that failed only on the schema's
        # (larger, costlier) contracts gets its say.
        again: Queue[int] = Queue()
        for i, r in enumerate(results):
            if (r is not None and r.status == "survived" and r.mutant.target == "contracts"
                    and r.mutant.kind != "noop" and schema is not None):
                again.put(i)
        if again.qsize():
            print(f"compiling the {again.qsize()} surviving contract mutant(s) one by one…",
                  flush=True)
            for f in [pool.submit(worker, w, again, False)
                      for w in range(min(jobs, again.qsize()))]:
                f.result()
    except (KeyboardInterrupt, SystemExit):
        interrupted = True
        print("\ninterrupted: stopping the running tests; partial results follow",
              file=sys.stderr, flush=True)
    finally:
        stop_all()
        pool.shutdown(wait=True)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    return report_results(args, results, generated, map_info, interrupted)


def report_results(args: argparse.Namespace, results: Sequence[Result | None], generated: int,
                   map_info: dict[str, Any] | None, interrupted: bool) -> int:
    """Write ``--out``, print the table and the score; the exit code."""
    done = [r for r in results if r is not None]
    report = summary(done, args, generated)
    report["run"]["interrupted"] = interrupted
    report["run"]["coverage_map"] = map_info
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print()
    print_results(done)
    score = "n/a" if report["score"] is None else f"{report['score']:.0%}"
    print(f"\n{report['mutants']} mutants: {report['killed']} killed, "
          f"{len(report['survived'])} survived, {len(report['equivalent'])} equivalent, "
          f"{len(report['timeout'])} timeout, {len(report['error'])} error; score {score}. "
          f"Wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    if interrupted:
        return 130
    bad = [c for c in report["controls"] if c["status"] != "survived"]
    if bad:
        print("WARNING: a no-op control mutant did not survive: the suite fails (or the harness "
              "breaks) without a real mutation; results are unreliable", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
