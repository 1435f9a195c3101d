"""Layered settings for long-running processes (the keeper, the prover agent).

A frozen dataclass of settings is filled from a TOML file, then ``<PREFIX><NAME>`` environment
variables, then flags (later sources win, ``None`` flags are ignored); every value is coerced to
its field's type with a :class:`~bridge.errors.ConfigError` naming the setting, and unknown keys
are refused with the list of valid ones. Table-valued fields (``dict``) come from the file only.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

from bridge.errors import ConfigError

T = TypeVar("T")


def _kind(annotation: Any) -> type:
    text = str(annotation)
    if text in ("int", str(int)):
        return int
    if text in ("float", str(float)):
        return float
    if text in ("bool", str(bool)):
        return bool
    if text.startswith("dict"):
        return dict
    if text.startswith("list"):
        return list
    return str


def coerce(name: str, raw: Any, kind: type) -> Any:
    """``raw`` as ``kind``, or :class:`ConfigError` naming ``name``."""
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if kind is dict:
            if not isinstance(raw, dict):
                raise ValueError
            return dict(raw)
        if kind is list:  # a TOML array, or comma-separated text (an environment variable)
            if isinstance(raw, str):
                return [part.strip() for part in raw.split(",") if part.strip()]
            if not isinstance(raw, list):
                raise ValueError
            return list(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {raw!r} is not a valid {kind.__name__}") from None


def load_layered(cls: type[T], path: str | None, env_prefix: str, env: dict[str, str],
                 flags: dict[str, Any]) -> T:
    """``cls()`` updated from the file at ``path``, the environment and ``flags`` (unvalidated)."""
    types = {f.name: _kind(f.type) for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {path!r} does not exist")
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path!r} is not valid TOML: {exc}") from None
        for key, raw in data.items():
            if key not in types:
                import difflib

                near = difflib.get_close_matches(key, list(types), n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                raise ConfigError(f"unknown setting {key!r} in {path}: {hint}valid ones are "
                                  + ", ".join(sorted(types)))
            values[key] = coerce(key, raw, types[key])
    import logging

    for key in env:
        if key.startswith(env_prefix) and key[len(env_prefix):].lower() not in types \
                and not key.endswith("_PASSWORD"):
            logging.getLogger(__name__).warning(
                "ignoring %s: not a setting (valid: %s)", key,
                ", ".join(env_prefix + n.upper() for n in sorted(types)))
    for name, kind in types.items():
        raw_env = env.get(env_prefix + name.upper())
        if raw_env is not None and kind is not dict:
            values[name] = coerce(env_prefix + name.upper(), raw_env, kind)
    for name, raw in flags.items():
        if raw is None:
            continue
        if name not in types:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = coerce(name, raw, types[name])
    return replace(cls(), **values)  # type: ignore[type-var]


# ------------------------------------------------------------------------------------- devnet
DEVNET_DIR = ".devnet"
"""``bridge devnet``'s default working directory (relative to where it runs): the deployment
record lands in ``.devnet/deployments/31337/market.json``, the same path every run."""
DEVNET_CHAIN_ID = 31337
"""The devnet's chain id on both chains (eth-tester and anvil), as anvil and hardhat use."""
DEVNET_POINTER = "devnet.json"


def bridge_home() -> Path:
    """``$BRIDGE_HOME``, else ``~/.bridge``: the user's sealed-bid records and devnet pointer."""
    return Path(os.environ.get("BRIDGE_HOME") or Path.home() / ".bridge")


def running_devnet() -> dict[str, Any] | None:
    """The devnet running on this machine (its URL and deployment file, from the pointer
    ``bridge devnet`` writes in :func:`bridge_home`), or None if none runs."""
    try:
        info = json.loads((bridge_home() / DEVNET_POINTER).read_text())
        os.kill(int(info["pid"]), 0)  # still alive?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if isinstance(info, dict) else None


def missing_market_file(path: str) -> str:
    """The one line for a market file that does not exist: the running devnet's file when a
    devnet runs, else how to make one."""
    dev = running_devnet()
    if dev is not None:
        return (f"market file {path!r} does not exist; the devnet running at {dev['url']} "
                f"wrote {dev['deployment']}: use that (market = \"{dev['deployment']}\")")
    return (f"market file {path!r} does not exist: start `bridge devnet` (it writes "
            f"{DEVNET_DIR}/deployments/{DEVNET_CHAIN_ID}/market.json) or run `bridge deploy` "
            "(deployments/<chain-id>/market.json), or give the market's address")
