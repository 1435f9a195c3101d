"""Participant basics: exact amounts with units, keys from keystore or environment, salt records."""

from pathlib import Path

import pytest
from eth_account import Account

from bridge.client.salts import SaltStore, SealedRecord
from bridge.errors import ConfigError, InvalidInput
from bridge.keys import load_account, write_keystore
from bridge.units import format_wei, parse_amount


@pytest.mark.parametrize(
    ("text", "wei"),
    [("1000", 1000), ("20gwei", 20 * 10**9), ("0.5ether", 5 * 10**17), ("1_000 wei", 1000),
     ("1.5eth", 15 * 10**17), ("0.000000001ether", 10**9), ("2 GWEI", 2 * 10**9)],
)
def test_amounts_parse_exactly(text: str, wei: int) -> None:
    assert parse_amount(text) == wei


@pytest.mark.parametrize(("text", "fragment"),
                         [("abc", "not an amount"), ("1.5wei", "whole number"),
                          ("3 btc", "unknown unit"), ("-1", "not an amount")])
def test_bad_amounts_say_what_to_write(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        parse_amount(text, name="escrow")


def test_format_wei_is_exact() -> None:
    assert format_wei(20 * 10**9) == "20 gwei"
    assert format_wei(15 * 10**17) == "1.5 ether"
    assert format_wei(10**18 + 1) == "1.000000000000000001 ether"
    assert format_wei(100582433850) == "100.58243385 gwei"
    assert format_wei(7) == "7 wei"


def test_key_from_keystore_and_from_environment(tmp_path: Path) -> None:
    acct = Account.create()
    path = str(tmp_path / "k.json")
    assert write_keystore(path, acct.key, "pw") == acct.address
    assert load_account(path, env={"BRIDGE_KEYSTORE_PASSWORD": "pw"}).address == acct.address
    with pytest.raises(ConfigError, match="wrong password"):
        load_account(path, env={"BRIDGE_KEYSTORE_PASSWORD": "nope"})
    with pytest.raises(ConfigError, match="exists already"):
        write_keystore(path, acct.key, "pw")
    env = {"BRIDGE_PRIVATE_KEY": acct.key.to_0x_hex()}
    assert load_account(env=env).address == acct.address
    with pytest.raises(ConfigError, match="no key"):
        load_account(env={})
    with pytest.raises(ConfigError, match="not a valid private key"):
        load_account(env={"BRIDGE_PRIVATE_KEY": "0x1234"})


def test_salt_store_survives_and_replaces_by_commitment(tmp_path: Path) -> None:
    store = SaltStore(tmp_path / "sealed.json")
    rec = SealedRecord(chain_id=1, market="0xAb", round=3, participant="0xCd", side=0,
                       price=10**30, quantity=2, salt="0x" + "00" * 32, commitment="0x01")
    store.add(rec)
    store.add(SealedRecord(**{**rec.__dict__, "tx_hash": "0xfeed"}))
    again = SaltStore(tmp_path / "sealed.json")
    assert [r.tx_hash for r in again.find(market="0xab", round=3)] == ["0xfeed"]
    assert again.all()[0].price == 10**30


def test_pow_ok_is_the_verifiers_rule_exactly_at_the_difficulty() -> None:
    from bridge.proving import pow_ok, solve_pow

    task, prover = b"\x07" * 32, "0x" + "11" * 20
    nonce = solve_pow(task, prover, 12)
    assert pow_ok(task, prover, nonce, 12) and pow_ok(task, prover, nonce, 1)
    # a nonce found for 12 bits rarely passes 20; the first failing difficulty is a boundary
    first_fail = next(b for b in range(12, 257) if not pow_ok(task, prover, nonce, b))
    assert pow_ok(task, prover, nonce, first_fail - 1)
    n = int.from_bytes(nonce, "big")  # solve_pow returns the first passing nonce from 0
    assert n > 0 and not any(pow_ok(task, prover, k.to_bytes(32, "big"), 12) for k in range(n))
