"""Run slither's detectors over a solc standard-JSON output; print the findings as JSON.

Runs under the slither virtualenv's Python (``.venv-slither``: slither-analyzer pins web3 < 8, the
project web3 8), so it imports nothing from ``bridge``; ``bridge.chain.static_analysis`` compiles
the sources with the project's solc-js build and starts it as
``python slither_driver.py OUTPUT.json --root DIR --version V [--exclude D ...] [--include RE]``.

The output holds each source's AST (all slither analyses) and each contract's ABI; bytecode and
source maps, which no detector reads, are left out of the compilation (they would take codegen
through the IR optimizer, minutes in solc-js) and given to crytic-compile as empty strings.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

from crytic_compile import CryticCompile
from crytic_compile.compilation_unit import CompilationUnit
from crytic_compile.compiler.compiler import CompilerVersion
from crytic_compile.platform.solc_standard_json import (
    SolcStandardJson,
    parse_standard_json_output,
)
from slither import Slither
from slither.detectors import all_detectors
from slither.detectors.abstract_detector import AbstractDetector


class CompiledOutput(SolcStandardJson):
    """A crytic-compile platform that reads a standard-JSON output instead of compiling."""

    def __init__(self, output: dict[str, Any], version: str, root: str) -> None:
        super().__init__({"language": "Solidity", "sources": {}, "settings": {}})
        self._output = output
        self._version = version
        self._root = root

    def compile(self, crytic_compile: CryticCompile, **_kwargs: Any) -> None:
        unit = CompilationUnit(crytic_compile, "standard_json")
        unit.compiler_version = CompilerVersion(
            compiler="solc", version=self._version, optimized=True
        )
        for contracts in self._output.get("contracts", {}).values():
            for info in contracts.values():
                evm = info.setdefault("evm", {})
                for part in ("bytecode", "deployedBytecode"):
                    evm.setdefault(part, {}).setdefault("object", "")
                    evm[part].setdefault("sourceMap", "")
        parse_standard_json_output(self._output, unit, solc_working_dir=self._root)


def detectors() -> list[type[AbstractDetector]]:
    """Every detector slither ships."""
    return [
        d for d in vars(all_detectors).values()
        if inspect.isclass(d) and issubclass(d, AbstractDetector)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="solc standard-JSON output (sources with their ASTs)")
    parser.add_argument("--root", required=True, help="directory the source names are relative to")
    parser.add_argument("--version", required=True, help="the compiler version that produced it")
    parser.add_argument("--exclude", action="append", default=[], help="detector not to run")
    parser.add_argument("--include", action="append", default=[],
                        help="path regex: report findings with a place in a matching file only")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    with open(args.output, encoding="utf-8") as f:
        output = json.load(f)
    platform = CompiledOutput(output, args.version, args.root)
    compilation = CryticCompile(platform, cwd=args.root)
    slither = Slither(compilation, include_paths=args.include)
    unknown = set(args.exclude) - {d.ARGUMENT for d in detectors()}
    if unknown:
        print(f"unknown detectors excluded: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    run = [d for d in detectors() if d.ARGUMENT not in args.exclude]
    for detector in run:
        slither.register_detector(detector)
    findings = [
        {
            "check": r["check"],
            "impact": r["impact"],
            "confidence": r["confidence"],
            "description": r["description"].strip(),
            "files": sorted({
                Path(os.path.relpath(e["source_mapping"]["filename_absolute"], root)).as_posix()
                for e in r["elements"] if "source_mapping" in e
            }),
        }
        for results in slither.run_detectors() for r in results
    ]
    # Every detector has run, so a disable comment that silenced none of its detectors is stale.
    # (slither lists a comment once per time its file's comments were read: deduplicated here)
    unused = [
        {"file": file, "line": line, "detectors": list(detectors)}
        for file, line, detectors in sorted({
            (Path(os.path.relpath(c["file"], root)).as_posix(), c["line"],
             tuple(sorted(c["unused_detectors"])))
            for c in slither.get_unused_ignore_comments()
        })
    ]
    files = {
        Path(os.path.relpath(f.absolute, root)).as_posix()
        for unit in compilation.compilation_units.values() for f in unit.filenames
    }
    json.dump({
        "detectors": sorted(d.ARGUMENT for d in run),
        "contracts": sorted({c.name for c in slither.contracts}),
        "files": sorted(files),
        "findings": findings,
        "unused_suppressions": unused,
    }, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
