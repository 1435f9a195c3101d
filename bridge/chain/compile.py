"""Compile the Solidity sources in ``contracts/`` through py-solc-x with pinned settings.

The compiler is a native ``solc`` of the pinned version when one is on ``PATH``; otherwise the npm
package ``solc`` (solc-js) served by ``bridge/chain/solc`` (a wrapper around ``solcjs.js`` that
answers ``--version`` and ``--standard-json`` the way py-solc-x expects).

``python -m bridge.chain.compile --write`` rewrites ``bridge/artifacts/<Name>.json``;
``--check`` exits non-zero when a committed artifact differs from a fresh compilation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import solcx

from bridge.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
ARTIFACTS_DIR = REPO_ROOT / "bridge" / "artifacts"
SOLCJS_WRAPPER = Path(__file__).resolve().parent / "solc"

SOLC_VERSION = "0.8.37"
"""Pinned compiler version (native solc or the npm ``solc`` package)."""

SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 10_000},
    "evmVersion": "prague",
    "viaIR": True,
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
"""Pinned compiler settings. Prague is what eth-tester's py-evm 0.12 runs; ``bytecodeHash: none``
keeps the bytecode independent of source paths and comments-only metadata."""

# Contracts written to artifacts (name -> source path relative to the repository root).
ARTIFACT_SOURCES: dict[str, str] = {
    "ProverMarket": "contracts/ProverMarket.sol",
    "PostedPriceMarket": "contracts/PostedPriceMarket.sol",
    "ProofOfWorkVerifier": "contracts/verifiers/ProofOfWorkVerifier.sol",
    "AttestationVerifier": "contracts/verifiers/AttestationVerifier.sol",
    "CircuitRegistry": "contracts/verifiers/CircuitRegistry.sol",
    "Groth16Registry": "contracts/verifiers/Groth16Registry.sol",
    "PoseidonChain16Verifier": "contracts/verifiers/groth16/PoseidonChain16Verifier.sol",
    "MerkleRoot8Verifier": "contracts/verifiers/groth16/MerkleRoot8Verifier.sol",
    "AlwaysTrueVerifier": "contracts/test/AlwaysTrueVerifier.sol",
    "ReentrantReceiver": "contracts/test/ReentrantReceiver.sol",
    "GasProbe": "contracts/test/GasProbe.sol",
    "AskFlood": "contracts/test/AskFlood.sol",
    "BidFlood": "contracts/test/BidFlood.sol",
}


def settings_hash() -> str:
    """sha256 of the canonical JSON of the pinned settings and compiler version."""
    blob = json.dumps({"version": SOLC_VERSION, "settings": SETTINGS}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def sources_hash() -> str:
    """sha256 of what a compilation depends on: the compiler version, the pinned settings and
    every source's path and text. Each artifact records it (``sourcesHash``), so a stale
    artifact shows without compiling (``--check-hash``; a full ``--check`` compiles)."""
    blob = json.dumps({"version": SOLC_VERSION, "settings": SETTINGS, "sources": {
        str(p.relative_to(REPO_ROOT)): p.read_text(encoding="utf-8") for p in source_files()}},
        sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def find_solc() -> Path:
    """A native ``solc`` of the pinned version on PATH, else the solc-js wrapper."""
    native = shutil.which("solc")
    if native:
        try:
            version = solcx.wrapper.get_solc_version(native)
        except (solcx.exceptions.SolcError, OSError, subprocess.CalledProcessError):
            version = None
        if version is not None and str(version) == SOLC_VERSION:
            return Path(native)
    if not (REPO_ROOT / "node_modules" / "solc").is_dir():
        raise ConfigError(
            "no solc found: install solc "
            f"{SOLC_VERSION} on PATH or run `npm ci` to get the npm package `solc`"
        )
    return SOLCJS_WRAPPER


def source_files() -> list[Path]:
    """Every ``.sol`` file under ``contracts/`` (sorted, artifacts excluded)."""
    return sorted(p for p in CONTRACTS_DIR.rglob("*.sol") if ARTIFACTS_DIR not in p.parents)


def standard_input() -> dict[str, Any]:
    """The compiler's standard-JSON input: all sources by content, the pinned settings."""
    sources = {
        str(p.relative_to(REPO_ROOT)): {"content": p.read_text(encoding="utf-8")}
        for p in source_files()
    }
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def compile_contracts(solc_binary: Path | None = None) -> dict[str, dict[str, Any]]:
    """Compile every source; return ``{Name: artifact}`` for the names in ``ARTIFACT_SOURCES``."""
    binary = solc_binary or find_solc()
    output = solcx.compile_standard(
        standard_input(), solc_binary=str(binary), allow_paths=[str(REPO_ROOT)]
    )
    version = str(solcx.wrapper.get_solc_version(binary, with_commit_hash=True))
    inputs = sources_hash()
    artifacts: dict[str, dict[str, Any]] = {}
    for name, path in ARTIFACT_SOURCES.items():
        try:
            contract = output["contracts"][path][name]
        except KeyError as exc:
            raise ConfigError(f"compiler output lacks {path}:{name}") from exc
        abi = contract["abi"]
        if name == "ProverMarket":
            abi = _with_module_views(abi, output)
        artifacts[name] = {
            "contractName": name,
            "sourceName": path,
            "abi": abi,
            "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
            "compiler": {"version": version.split("+")[0], "settings": SETTINGS},
            "settingsHash": settings_hash(),
            "sourcesHash": inputs,
        }
    return artifacts


def _with_module_views(abi: list[dict[str, Any]], output: dict[str, Any]) -> list[dict[str, Any]]:
    """The market's ABI plus the functions its ``SettlementModule`` serves through the market's
    fallback (``IMarketViews``: configuration and fee views), so clients call them on the market.
    """
    module = output["contracts"]["contracts/SettlementModule.sol"]["SettlementModule"]["abi"]
    known = {e.get("name") for e in abi if e.get("type") == "function"}
    views = [e for e in module if e.get("type") == "function" and e["name"] not in known
             and e.get("stateMutability") == "view"]
    return abi + sorted(views, key=lambda e: str(e["name"]))


def render(artifact: dict[str, Any]) -> str:
    """The exact text an artifact is stored as."""
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def stale_artifacts(artifacts: dict[str, dict[str, Any]]) -> list[str]:
    """Names whose committed file differs from ``artifacts`` (or is missing)."""
    stale = []
    for name, artifact in artifacts.items():
        path = ARTIFACTS_DIR / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(artifact):
            stale.append(name)
    return stale


def artifacts_behind_sources() -> list[str]:
    """Names whose committed artifact was compiled from other sources than today's (or is
    missing its record): stale, found without compiling."""
    want = sources_hash()
    behind = []
    for name in ARTIFACT_SOURCES:
        path = ARTIFACTS_DIR / f"{name}.json"
        if not path.exists() or json.loads(path.read_text(encoding="utf-8")).get(
                "sourcesHash") != want:
            behind.append(name)
    return behind


def write_artifacts(artifacts: dict[str, dict[str, Any]]) -> list[Path]:
    """Write ``bridge/artifacts/<Name>.json``; return the paths written."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, artifact in artifacts.items():
        path = ARTIFACTS_DIR / f"{name}.json"
        path.write_text(render(artifact), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bridge.chain.compile``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite bridge/artifacts/*.json")
    group.add_argument("--check", action="store_true", help="fail if any artifact is stale")
    group.add_argument("--check-hash", action="store_true",
                       help="fail if any artifact was compiled from other sources (no compile)")
    args = parser.parse_args(argv)
    if args.check_hash:
        behind = artifacts_behind_sources()
        if behind:
            print("artifacts compiled from other sources: " + ", ".join(behind)
                  + " (run `make artifacts`)", file=sys.stderr)
            return 1
        print(f"{len(ARTIFACT_SOURCES)} artifacts compiled from today's sources")
        return 0
    artifacts = compile_contracts()
    if args.write:
        for path in write_artifacts(artifacts):
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    stale = stale_artifacts(artifacts)
    if stale:
        print("stale artifacts: " + ", ".join(stale) + " (run `make artifacts`)", file=sys.stderr)
        return 1
    print(f"{len(artifacts)} artifacts up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
