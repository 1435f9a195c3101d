"""The prover agent's configuration: a TOML file, then ``BRIDGE_PROVER_*`` variables, then flags.

Example ``prover.toml``::

    rpc = "http://127.0.0.1:8545"
    market = "deployments/31337/market.json"   # or a 0x address
    database = "sqlite:///prover.sqlite"       # or postgresql+psycopg://user@host/db
    keystore = "prover.json"                   # else BRIDGE_PRIVATE_KEY
    cost_per_unit = "60gwei"                   # your true cost of one unit (see the README)
    capacity = 2                               # units offered each round
    max_stake = "0.01ether"                    # collateral it may add on its own (0: never)
    max_concurrent_proofs = 2
    safety_margin = 5                          # seconds before a proof deadline it aims for
    withdraw_above = "0.05ether"               # free earnings above this are withdrawn
    metrics_port = 9109                        # 0 disables /metrics and /healthz

    circuits = ["range32"]                     # optional: the circuits it serves (default all)

    [backends]                                 # optional: how each circuit is proven
    "poseidon-chain-16" = "builtin"            # snarkjs with the committed keys
    "merkle-root-8" = "command:my-prover --task {task} --inputs {inputs} --out {out}"

Amounts are wei or a unit (``50gwei``, ``0.1ether``). Secrets never come from a flag.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.config import load_layered, missing_market_file
from bridge.errors import ConfigError, InvalidInput
from bridge.units import parse_amount

ENV_PREFIX = "BRIDGE_PROVER_"


@dataclass(frozen=True)
class ProverAgentConfig:
    """Settings of ``bridge prover run`` (module docstring)."""

    rpc: str = "http://127.0.0.1:8545"
    market: str = ""
    database: str = "sqlite:///prover.sqlite"
    keystore: str = ""
    cost_per_unit: str = ""
    capacity: int = 1
    max_stake: str = "0"
    max_concurrent_proofs: int = 2
    safety_margin: float = 5.0
    ask_margin: float = 3.0
    """An ask is sent only while the round stays open this many more seconds."""
    withdraw_above: str = "0"
    """Withdraw free collateral (earnings) once it exceeds this; 0: never."""
    poll_interval: float = 1.0
    from_block: int = -1
    """Where log reads may start (-1: the deployment record's block, else block 0)."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    log_level: str = "INFO"
    log_format: str = "text"
    circuits: list[str | int] = field(default_factory=list)
    """Markets whose verifier is a ``Groth16Registry``: the circuits this agent serves, by name,
    id (``0x…``) or registration index (empty: every circuit the market accepts). Each is checked
    before the agent starts: artifacts fetched and hash-checked, the proving key against the
    registered key, one proof of a random input."""
    backends: dict[str, str] = field(default_factory=dict)
    """Circuit name → ``builtin`` or ``command:TEMPLATE`` (:class:`bridge.proving.CommandBackend`);
    proof-of-work markets use ``pow``."""

    # parsed amounts (wei)
    @property
    def cost_wei(self) -> int:
        return _amount("cost_per_unit", self.cost_per_unit)

    @property
    def max_stake_wei(self) -> int:
        return _amount("max_stake", self.max_stake)

    @property
    def withdraw_above_wei(self) -> int:
        return _amount("withdraw_above", self.withdraw_above)

    def validate(self) -> ProverAgentConfig:
        """Raise :class:`ConfigError` naming the first invalid setting and its fix; return self."""
        if not (self.rpc == "eth-tester" or self.rpc.startswith(("http://", "https://"))):
            raise ConfigError(f"rpc {self.rpc!r} is not a URL: use http://host:port")
        if not self.market:
            raise ConfigError("market is not set: give the market address (0x…) or its "
                              "deployment file (market = \"deployments/<chain>/market.json\")")
        if not self.market.startswith("0x") and not Path(self.market).is_file():
            raise ConfigError(missing_market_file(self.market))
        if not self.cost_per_unit:
            raise ConfigError("cost_per_unit is not set: put your cost of proving one unit "
                              "(e.g. cost_per_unit = \"60gwei\") in the config")
        if self.cost_wei <= 0:
            raise ConfigError(f"cost_per_unit {self.cost_per_unit!r} must be positive")
        self.max_stake_wei, self.withdraw_above_wei  # noqa: B018  (parse errors surface now)
        if self.capacity < 0:
            raise ConfigError(f"capacity {self.capacity} is negative: use 0 (no asks) or more")
        if self.max_concurrent_proofs < 1:
            raise ConfigError("max_concurrent_proofs must be at least 1")
        if self.safety_margin < 0 or self.ask_margin < 0:
            raise ConfigError("safety_margin and ask_margin must be ≥ 0 seconds")
        if self.poll_interval <= 0:
            raise ConfigError("poll_interval must be > 0 seconds")
        if self.keystore and not Path(self.keystore).is_file():
            raise ConfigError(f"keystore {self.keystore!r} does not exist: create one with "
                              "`bridge key new --keystore FILE` or use BRIDGE_PRIVATE_KEY")
        if not self.database.startswith(("sqlite:///", "postgresql")):
            raise ConfigError(f"database {self.database!r} is not supported: use "
                              "sqlite:///path or postgresql+psycopg://user@host/db")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log_format {self.log_format!r}: use text or json")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"log_level {self.log_level!r}: use DEBUG, INFO, WARNING or ERROR")
        if not isinstance(self.circuits, list) or not all(
                isinstance(c, (str, int)) and not isinstance(c, bool) for c in self.circuits):
            raise ConfigError(f"circuits = {self.circuits!r}: use a list of circuit names, ids "
                              "(\"0x…\") or registration indexes, e.g. circuits = [\"range32\"]")
        for name, spec in self.backends.items():
            if not isinstance(spec, str) or not (spec in ("builtin", "pow")
                                                 or spec.startswith("command:")):
                raise ConfigError(f"backends.{name} = {spec!r}: use \"builtin\" or "
                                  "\"command:TEMPLATE\" (placeholders {task} {prover} {inputs} "
                                  "{out})")
        return self


def _amount(name: str, text: str) -> int:
    try:
        return parse_amount(str(text), name=name)
    except InvalidInput as exc:
        raise ConfigError(str(exc)) from None


def load_agent_config(path: str | None = None, *, env: dict[str, str] | None = None,
                      **flags: Any) -> ProverAgentConfig:
    """Merge file < ``BRIDGE_PROVER_*`` environment < flags and validate."""
    return load_layered(ProverAgentConfig, path, ENV_PREFIX,
                        dict(os.environ) if env is None else env, flags).validate()
