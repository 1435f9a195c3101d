"""The ABIs a client needs, and the ABI reference page, generated from the committed artifacts.

``python -m bridge.chain.abidoc --write`` writes, from ``bridge/artifacts/<Name>.json`` (the
compiler's output, ``python -m bridge.chain.compile``):

- ``abi/<Name>.json``: each deployable contract's ABI, a plain JSON array (what web3.py, ethers
  and viem take), whose canonical hash is the deployment record's ``abi_hash``;
- ``docs/reference/abi.md``: every function (signature, selector, mutability, parameters and
  returns with their types), event (signature, topic 0, each field with its type and whether it is
  indexed), error (signature, selector) and struct of those contracts, with the NatSpec comments
  (``@notice``, ``@dev``, ``@param``, ``@return``) of the Solidity sources in ``contracts/``.

``--check`` exits 1 naming each stale file (``tests/unit/test_abi_reference.py`` runs it). Both
files are generated: edit the contracts (and recompile), never them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak

from bridge.chain.compile import ARTIFACT_SOURCES, ARTIFACTS_DIR, CONTRACTS_DIR, REPO_ROOT
from bridge.chain.deployment import abi_hash

ABI_DIR = REPO_ROOT / "abi"
REFERENCE = REPO_ROOT / "docs" / "reference" / "abi.md"

SHIPPED: dict[str, str] = {
    "ProverMarket": "the market (Prooφ, DARA and fixedprice): orders, settlement, proofs, slashing",
    "PostedPriceMarket": "the posted-price market mode (docs/clearing.md)",
    "ProofOfWorkVerifier": "the proof-of-work verifier of test markets",
    "CircuitRegistry": "the Groth16 circuit registry a circuit market's verifier is",
    "Groth16Registry": "the generic Groth16 verifier: circuits registered as data, batched proofs",
    "PoseidonChain16Verifier": "a registered Groth16 circuit's verifier",
    "MerkleRoot8Verifier": "a registered Groth16 circuit's verifier",
    "AttestationVerifier": "a verifier that accepts a trusted attester's signature",
}
"""The contracts whose ABIs ship in ``abi/`` (the test contracts do not), in page order."""

_DECL = re.compile(r"^\s*(function|event|error|struct)\s+(\w+)")


@dataclass
class NatSpec:
    """One declaration's NatSpec: tags ``notice``/``dev`` as text, ``params`` and ``returns``."""

    notice: str = ""
    dev: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: list[str] = field(default_factory=list)


def _parse_block(lines: list[str]) -> NatSpec:
    spec = NatSpec()
    tag, name = "notice", ""
    parts: dict[tuple[str, str], list[str]] = {}
    order: list[tuple[str, str]] = []
    for line in lines:
        text = line.strip()
        m = re.match(r"@(\w+)\s*(.*)", text)
        if m:
            tag, rest = m.group(1), m.group(2)
            if tag in ("param", "return"):
                name, _, rest = rest.partition(" ") if tag == "param" else (str(len(order)), "",
                                                                          rest)
            else:
                name = ""
            key = (tag, name)
            order.append(key)
            parts[key] = [rest]
        else:
            key = (tag, name)
            if key not in parts:
                order.append(key)
                parts[key] = []
            parts[key].append(text)
    for key in order:
        text = " ".join(p for p in parts[key] if p).strip()
        tag, name = key
        if tag == "notice":
            spec.notice = text
        elif tag == "dev":
            spec.dev = text
        elif tag == "param":
            spec.params[name] = text
        elif tag == "return":
            spec.returns.append(text)
    return spec


def _local_imports(path: Path) -> list[Path]:
    """``path`` and the files of ``contracts/`` it imports, transitively (libraries from npm,
    ``@openzeppelin/…``, are not read)."""
    seen: list[Path] = []
    todo = [path.resolve()]
    while todo:
        current = todo.pop(0)
        if current in seen or not current.is_file():
            continue
        seen.append(current)
        for target in re.findall(r'^\s*import\s+[^;]*?"(\.{1,2}/[^"]+)"', current.read_text(),
                                 flags=re.MULTILINE):
            todo.append((current.parent / target).resolve())
    return seen


def contract_sources(name: str) -> list[Path]:
    """The Solidity files whose NatSpec documents contract ``name``: its own interface
    (``I<name>.sol``) first, then the other interfaces it imports, then the rest."""
    files = _local_imports(CONTRACTS_DIR.parent / ARTIFACT_SOURCES[name])
    return sorted(files, key=lambda p: (p.stem != f"I{name}", p.parent.name != "interfaces"))


def natspec(sources: list[Path]) -> dict[tuple[str, str], NatSpec]:
    """``(kind, name) → NatSpec`` from the ``///`` blocks above each declaration of ``sources``
    (in order: the first block found for a name wins, so an implementation's ``@inheritdoc``
    defers to its interface)."""
    found: dict[tuple[str, str], NatSpec] = {}
    for path in sources:
        block: list[str] = []
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("///"):
                block.append(stripped[3:])
                continue
            m = _DECL.match(line)
            if m and block and (m.group(1), m.group(2)) not in found:
                spec = _parse_block(block)
                if spec.notice or spec.dev or spec.params or spec.returns:
                    found[(m.group(1), m.group(2))] = spec
            block = []
    return found


def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI in the committed artifact ``bridge/artifacts/<name>.json``."""
    abi: list[dict[str, Any]] = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())["abi"]
    return abi


def _canonical_type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple'):]}"
    return kind


def _shown_type(param: dict[str, Any]) -> str:
    """``Job`` for a struct, ``Job[]`` for an array of them, else the ABI type."""
    internal = param.get("internalType", "")
    if param["type"].startswith("tuple") and internal.startswith("struct "):
        return internal.removeprefix("struct ").split(".")[-1]
    return str(param["type"])


def signature(item: dict[str, Any]) -> str:
    """The canonical signature, e.g. ``commitBid(uint256,bytes32,bytes,uint256,bytes32)``."""
    return f"{item['name']}({','.join(_canonical_type(p) for p in item.get('inputs', []))})"


def selector(item: dict[str, Any]) -> str:
    """4-byte selector (function, error) or 32-byte topic 0 (event), 0x-hex."""
    digest = keccak(text=signature(item))
    return "0x" + (digest if item["type"] == "event" else digest[:4]).hex()


def _structs(abi: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}

    def visit(params: list[dict[str, Any]]) -> None:
        for p in params:
            if p["type"].startswith("tuple"):
                name = _shown_type(p).removesuffix("[]")
                found.setdefault(name, p["components"])
                visit(p["components"])

    for item in abi:
        visit(item.get("inputs", []))
        visit(item.get("outputs", []))
    return dict(sorted(found.items()))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _doc_lines(spec: NatSpec | None) -> list[str]:
    if spec is None:
        return []
    lines = []
    if spec.notice:
        lines += [_cell(spec.notice), ""]
    if spec.dev:
        lines += [f"*Dev:* {_cell(spec.dev)}", ""]
    return lines


def _params_table(params: list[dict[str, Any]], spec: NatSpec | None, *,
                  event: bool = False, returns: bool = False) -> list[str]:
    if not params:
        return []
    head = "| # | name | type | indexed | notes |" if event else "| # | name | type | notes |"
    rule = "|---|---|---|---|---|" if event else "|---|---|---|---|"
    lines = [head, rule]
    for i, p in enumerate(params):
        name = p.get("name") or "—"
        note = ""
        if spec is not None:
            if returns:
                note = spec.returns[i] if i < len(spec.returns) else ""
                if note.startswith(f"{p.get('name')} "):
                    note = note[len(p["name"]) + 1:]
            else:
                note = spec.params.get(p.get("name", ""), "")
        cells = [str(i), f"`{name}`", f"`{_shown_type(p)}`"]
        if event:
            cells.append("yes" if p.get("indexed") else "no")
        cells.append(_cell(note))
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_reference(names: list[str] | None = None) -> str:
    """The Markdown of ``docs/reference/abi.md``."""
    names = list(SHIPPED) if names is None else names
    out = [
        "<!-- Generated by `python -m bridge.chain.abidoc --write` from bridge/artifacts and the",
        "     NatSpec in contracts/; do not edit (tests/unit/test_abi_reference.py checks it). -->",
        "",
        "# ABI reference",
        "",
        "Every function, event, error and struct of the contracts a client talks to, generated",
        "from the compiled artifacts. The ABIs themselves ship in the repository as plain JSON",
        "arrays under `abi/` "
        "(`abi/<Contract>.json`, the same ABI as",
        "`bridge/artifacts/<Contract>.json`'s `abi`); the deployment record's `abi_hash` is the",
        "hash of `abi/ProverMarket.json` (or `abi/PostedPriceMarket.json`) by the",
        "[ABI hash rule](../integrating/protocol.md#the-deployment-record). How the calls fit",
        "together is in the [protocol](../integrating/protocol.md).",
        "",
        "| contract | ABI file | `abi_hash` | what it is |",
        "|---|---|---|---|",
    ]
    for name in names:
        out.append(f"| [{name}](#{name.lower()}) | `abi/{name}.json` | "
                   f"`{abi_hash(load_abi(name))}` | {SHIPPED.get(name, '')} |")
    out.append("")
    for name in names:
        abi = load_abi(name)
        specs = natspec(contract_sources(name))
        out += [f"## {name}", ""]
        functions = sorted((i for i in abi if i["type"] == "function"),
                           key=lambda i: (i["stateMutability"] in ("view", "pure"), i["name"],
                                          signature(i)))
        if functions:
            out += ["### Functions", ""]
        for item in functions:
            spec = specs.get(("function", item["name"]))
            out += [f"#### `{item['name']}`", "",
                    f"`{signature(item)}` · selector `{selector(item)}` · "
                    f"{item['stateMutability']}", ""]
            out += _doc_lines(spec)
            out += _params_table(item.get("inputs", []), spec)
            if item.get("outputs"):
                out += ["Returns:", ""]
                out += _params_table(item["outputs"], spec, returns=True)
        events = sorted((i for i in abi if i["type"] == "event"), key=lambda i: i["name"])
        if events:
            out += ["### Events", ""]
        for item in events:
            spec = specs.get(("event", item["name"]))
            out += [f"#### `{item['name']}`", "",
                    f"`{signature(item)}` · topic 0 `{selector(item)}`", ""]
            out += _doc_lines(spec)
            out += _params_table(item.get("inputs", []), spec, event=True)
        errors = sorted((i for i in abi if i["type"] == "error"), key=lambda i: i["name"])
        if errors:
            out += ["### Errors", "", "| error | selector | meaning |", "|---|---|---|"]
            for item in errors:
                spec = specs.get(("error", item["name"]))
                note = " ".join(x for x in (spec.notice, spec.dev) if x) if spec else ""
                out.append(f"| `{signature(item)}` | `{selector(item)}` | {_cell(note)} |")
            out.append("")
        structs = _structs(abi)
        if structs:
            out += ["### Structs", ""]
        for sname, components in structs.items():
            spec = specs.get(("struct", sname))
            inner = ",".join(_canonical_type(c) for c in components)
            out += [f"#### `{sname}`", "", f"ABI tuple `({inner})`", ""]
            out += _doc_lines(spec)
            out += _params_table(components, None)
    return "\n".join(out).rstrip() + "\n"


def render_abi(name: str) -> str:
    """``abi/<name>.json``: the ABI array, two-space indented."""
    return json.dumps(load_abi(name), indent=2) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {ABI_DIR / f"{name}.json": render_abi(name) for name in SHIPPED}
    files[REFERENCE] = render_reference()
    return files


def stale_files() -> list[Path]:
    """Generated files missing or different from what the artifacts give."""
    return [path for path, text in expected_files().items()
            if not path.exists() or path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    """``--write`` regenerates ``abi/*.json`` and ``docs/reference/abi.md``; ``--check`` fails
    naming the stale ones."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite abi/ and the reference")
    group.add_argument("--check", action="store_true", help="fail if any of them is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"{path.relative_to(REPO_ROOT)} is stale: run "
                  "`python -m bridge.chain.abidoc --write`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
