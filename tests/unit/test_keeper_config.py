"""Keeper configuration: precedence file < environment < flags, and errors that say how to fix."""

from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.keeper.config import load_config

ADDR = "0x" + "11" * 20


def test_flags_override_environment_which_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "keeper.toml"
    f.write_text(f'market = "{ADDR}"\nconfirmations = 1\npoll_interval = 2.5\n')
    cfg = load_config(str(f), env={"BRIDGE_KEEPER_CONFIRMATIONS": "3"})
    assert (cfg.confirmations, cfg.poll_interval, cfg.market) == (3, 2.5, ADDR)
    cfg = load_config(str(f), env={"BRIDGE_KEEPER_CONFIRMATIONS": "3"}, confirmations=5)
    assert cfg.confirmations == 5


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        ({"market": ""}, "market is not set"),
        ({"market": "0x1234"}, "not a 20-byte address"),
        ({"market": "missing.json"}, "run `bridge deploy`"),
        ({"market": ADDR, "rpc": "localhost:8545"}, "not a URL"),
        ({"market": ADDR, "database": "mysql://x"}, r"postgresql\+psycopg"),
        ({"market": ADDR, "confirmations": -1}, "must be ≥ 0"),
        ({"market": ADDR, "misfire_grace_time": 1}, "would be dropped"),
        ({"market": ADDR, "keystore": "nope.json"}, "does not exist"),
        ({"market": ADDR, "confirmations": "two"}, "not a valid int"),
    ],
)
def test_invalid_settings_are_refused_with_the_fix(flags: dict[str, object],
                                                    fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_config(env={}, **flags)


def test_unknown_key_in_file_lists_valid_ones(tmp_path: Path) -> None:
    f = tmp_path / "keeper.toml"
    f.write_text(f'market = "{ADDR}"\nconfirmation = 1\n')
    with pytest.raises(ConfigError, match=r"unknown setting 'confirmation'.*confirmations"):
        load_config(str(f), env={})


def test_broken_toml_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "keeper.toml"
    f.write_text("market = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(str(f), env={})
