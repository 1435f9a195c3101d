"""Load the committed compiled contracts (``bridge/artifacts/*.json``, shipped in the package);
no compiler needed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its ABI, creation and runtime bytecode and how it was compiled."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    settings_hash: str


@cache
def load_artifact(name: str) -> Artifact:
    """The artifact ``bridge/artifacts/<name>.json``; raises ConfigError naming the fix."""
    path = ARTIFACTS_DIR / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"missing artifact {path}: run `make artifacts`") from exc
    return Artifact(
        name=raw["contractName"],
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        deployed_bytecode=raw["deployedBytecode"],
        compiler_version=raw["compiler"]["version"],
        settings_hash=raw["settingsHash"],
    )
