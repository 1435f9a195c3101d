"""A signing key (a participant's, the keeper's, the deployer's): an encrypted keystore file or
``BRIDGE_PRIVATE_KEY``; never a flag.

Password for a keystore comes from ``BRIDGE_KEYSTORE_PASSWORD`` or, on a terminal, a prompt.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from bridge.errors import ConfigError

KEY_ENV = "BRIDGE_PRIVATE_KEY"
PASSWORD_ENV = "BRIDGE_KEYSTORE_PASSWORD"


def load_account(keystore: str | None = None, *, env: dict[str, str] | None = None,
                 key_env: str = KEY_ENV) -> LocalAccount:
    """The account to sign with, from ``keystore`` (if given) or the environment."""
    env = dict(os.environ) if env is None else env
    if keystore:
        path = Path(keystore)
        if not path.is_file():
            raise ConfigError(f"keystore {keystore!r} does not exist: create one with "
                              "`bridge key new --keystore FILE`")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise ConfigError(f"keystore {keystore!r} is not a JSON keystore file") from None
        password = env.get(PASSWORD_ENV)
        if password is None:
            if not sys.stdin.isatty():
                raise ConfigError(f"keystore {keystore!r} needs a password: set "
                                  f"{PASSWORD_ENV}")
            password = getpass.getpass(f"password for {keystore}: ")
        try:
            key = Account.decrypt(data, password)
        except ValueError:
            raise ConfigError(f"wrong password for keystore {keystore!r} "
                              f"(from {PASSWORD_ENV} or the prompt)") from None
        account: LocalAccount = Account.from_key(key)
        return account
    raw = env.get(key_env)
    if not raw:
        raise ConfigError(f"no key: pass --keystore FILE (password in {PASSWORD_ENV}) or set "
                          f"{key_env} to a 0x-prefixed private key")
    try:
        account = Account.from_key(raw.strip())
    except (ValueError, TypeError):
        raise ConfigError(f"{key_env} is not a valid private key (64 hex digits)") from None
    return account


def write_keystore(path: str, private_key: bytes, password: str) -> str:
    """Encrypt ``private_key`` into a keystore file at ``path``; returns the address."""
    if Path(path).exists():
        raise ConfigError(f"{path!r} exists already: choose another file (nothing overwritten)")
    data = Account.encrypt(private_key, password)
    try:
        # created readable by the owner only, before the secret is written
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data))
    except OSError as exc:
        raise ConfigError(f"cannot write keystore {path!r}: {exc.strerror}; choose a writable "
                          "path") from None
    address: str = Account.from_key(private_key).address
    return address


def same_address(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` name the same account, whatever their case: wallets and users give
    lowercase (``eth_accounts``, a pasted address), web3 decodes logs checksummed."""
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()
