"""Keeper configuration: a TOML file, then ``BRIDGE_KEEPER_*`` environment variables, then flags.

Later sources win. Everything is validated once, at start; each error is a
:class:`~bridge.errors.ConfigError` whose message names the setting, what is wrong and how to fix
it. Secrets (the keeper's key) never come from a flag: they come from ``BRIDGE_PRIVATE_KEY`` or an
encrypted keystore file whose password is in ``BRIDGE_KEYSTORE_PASSWORD``.

Example ``keeper.toml``::

    rpc = "http://127.0.0.1:8545"
    market = "deployments/31337/market.json"   # or a 0x address
    database = "sqlite:///keeper.sqlite"       # or postgresql+psycopg://user@host/db
    keystore = "keeper.json"
    confirmations = 2
    poll_interval = 1.0
    metrics_port = 9108                        # 0 disables the HTTP endpoint
    max_page_bids = 0                          # bids per settlement page: 0 = as many as fit
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.config import load_layered, missing_market_file
from bridge.errors import ConfigError

ENV_PREFIX = "BRIDGE_KEEPER_"


@dataclass(frozen=True)
class KeeperConfig:
    """Validated keeper settings (see the module docstring for sources and precedence)."""

    rpc: str = "http://127.0.0.1:8545"
    market: str = ""
    database: str = "sqlite:///keeper.sqlite"
    keystore: str = ""
    expected_chain_id: int = 0
    confirmations: int = 0
    poll_interval: float = 1.0
    max_log_range: int = 500
    start_block: int = -1
    receipt_timeout: float = 120.0
    bump_after: float = 30.0
    max_retry_interval: float = 30.0
    max_fee_per_gas: int = 0
    min_balance_wei: int = 10**15
    misfire_grace_time: int = 3600
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    lock_id: int = 0
    log_level: str = "INFO"
    log_format: str = "text"
    max_page_bids: int = 0

    def validate(self) -> KeeperConfig:
        """Raise :class:`ConfigError` naming the first invalid setting; return self."""
        if not self.rpc:
            raise ConfigError("rpc is empty: set rpc to an http(s)/ws URL or 'eth-tester'")
        if not (self.rpc == "eth-tester" or self.rpc.startswith(("http://", "https://"))):
            raise ConfigError(f"rpc {self.rpc!r} is not a URL: use http://host:port or "
                              "'eth-tester'")
        if not self.market:
            raise ConfigError("market is not set: give the market address (0x…) or a "
                              "deployment record file written by `bridge deploy`")
        if self.market.startswith("0x"):
            if len(self.market) != 42:
                raise ConfigError(f"market {self.market!r} is not a 20-byte address")
        elif not Path(self.market).is_file():
            raise ConfigError(missing_market_file(self.market))
        if not self.database.startswith(("sqlite:", "postgresql")):
            raise ConfigError(f"database {self.database!r} is not supported: use "
                              "sqlite:///path or postgresql+psycopg://user@host/db")
        for name in ("confirmations", "max_log_range", "misfire_grace_time", "metrics_port",
                     "expected_chain_id", "max_fee_per_gas", "min_balance_wei", "lock_id",
                     "max_page_bids"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} is {getattr(self, name)}: it must be ≥ 0")
        if self.max_log_range < 1:
            raise ConfigError("max_log_range must be ≥ 1")
        if self.misfire_grace_time < 60:
            raise ConfigError(f"misfire_grace_time is {self.misfire_grace_time}s: below 60s a "
                              "late deadline job would be dropped; use ≥ 60")
        for name in ("poll_interval", "receipt_timeout", "bump_after", "max_retry_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0 seconds")
        if self.keystore and not Path(self.keystore).is_file():
            raise ConfigError(f"keystore {self.keystore!r} does not exist: create one with "
                              "`bridge key new --keystore FILE` or use BRIDGE_PRIVATE_KEY")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"log_level {self.log_level!r}: use DEBUG, INFO, WARNING or ERROR")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log_format {self.log_format!r}: use text or json")
        return self


def load_config(path: str | None = None, *, env: dict[str, str] | None = None,
                **flags: Any) -> KeeperConfig:
    """Merge file, environment and flags (``None`` flags are ignored) and validate."""
    return load_layered(KeeperConfig, path, ENV_PREFIX,
                        dict(os.environ) if env is None else env, flags).validate()
