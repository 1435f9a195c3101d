"""``bridge.sealed`` against other implementations: the committed vectors and eciesjs through node.

The vectors in ``tests/vectors/`` were generated with ``eth_abi`` and ``eciespy`` directly (see
``generate_vectors.py``), so these tests compare two independent computations; another client (a
browser wallet, a Solidity test) can check itself against the same files. The eciesjs tests run the
npm package a wallet would use, with its default configuration, through ``eciesjs_cli.js``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ecies
import pytest
from ecies.config import Config

from bridge import sealed
from bridge.sealed import Side

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
NODE_SCRIPT = VECTORS / "eciesjs_cli.js"
NODE_MODULES = ROOT / "node_modules"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return document


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


# --- committed vectors --------------------------------------------------------------------------

COMMITMENTS = load("commitments.json")
ENVELOPES = load("envelopes.json")


def test_commitment_tag_vector() -> None:
    assert unhex(COMMITMENTS["commitment_tag"]) == sealed.COMMITMENT_TAG


@pytest.mark.parametrize("case", COMMITMENTS["commitments"], ids=lambda case: case["name"])
def test_commitment_vectors(case: dict[str, Any]) -> None:
    got = sealed.commitment(
        chain_id=int(case["chain_id"]),
        market=case["market"],
        round=int(case["round"]),
        participant=case["participant"],
        side=Side(case["side"]),
        price=int(case["price"]),
        quantity=int(case["quantity"]),
        salt=unhex(case["salt"]),
    )
    assert "0x" + got.hex() == case["commitment"]


def test_commitment_vectors_cover_both_sides_and_the_extremes() -> None:
    cases = COMMITMENTS["commitments"]
    assert len(cases) >= 10
    assert {case["side"] for case in cases} == {0, 1}
    assert {case["price"] for case in cases} >= {"0", str(2**256 - 1)}
    assert len({case["commitment"] for case in cases}) == len(cases)


def test_plaintext_vector() -> None:
    vector = ENVELOPES["plaintext"]
    encoded = sealed.encode_plaintext(price=int(vector["price"]), quantity=int(vector["quantity"]),
                                      salt=unhex(vector["salt"]))
    assert "0x" + encoded.hex() == vector["encoded"]
    assert sealed.decode_plaintext(encoded) == sealed.Opened(
        int(vector["price"]), int(vector["quantity"]), unhex(vector["salt"]))


@pytest.mark.parametrize("case", ENVELOPES["envelopes"], ids=lambda case: case["name"])
def test_envelope_vectors(case: dict[str, Any]) -> None:
    private_key = unhex(case["keeper_private_key"])
    ciphertext = unhex(case["ciphertext"])
    assert sealed.public_key_bytes64(private_key) == unhex(case["keeper_public_key"])
    assert ecies.decrypt(private_key, ciphertext) == unhex(case["plaintext"])
    assert sealed.unseal(private_key, ciphertext) == sealed.Opened(
        int(case["price"]), int(case["quantity"]), unhex(case["salt"]))


# --- eciesjs through node -----------------------------------------------------------------------

node_missing = shutil.which("node") is None
eciesjs_missing = not (NODE_MODULES / "eciesjs" / "package.json").is_file()
needs_eciesjs = pytest.mark.skipif(
    node_missing or eciesjs_missing,
    reason="needs node on PATH and node_modules/eciesjs (run `npm ci` or `make test`)",
)


def eciesjs(*ops: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a batch of operations through eciesjs in one node process."""
    done = subprocess.run(
        ["node", str(NODE_SCRIPT)],
        input=json.dumps(list(ops)),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "BRIDGE_NODE_MODULES": str(NODE_MODULES)},
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


@needs_eciesjs
def test_eciesjs_defaults_are_eciespy_defaults() -> None:
    (config,) = eciesjs({"op": "config"})
    ours = Config()
    assert config == {
        "version": "0.5.0",
        "ellipticCurve": ours.elliptic_curve,
        "isEphemeralKeyCompressed": ours.is_ephemeral_key_compressed,
        "isHkdfKeyCompressed": ours.is_hkdf_key_compressed,
        "symmetricAlgorithm": ours.symmetric_algorithm,
        "symmetricNonceLength": ours.symmetric_nonce_length,
        "ephemeralKeySize": sealed.EPHEMERAL_KEY_SIZE,
    }
    assert (ours.elliptic_curve, ours.is_ephemeral_key_compressed, ours.is_hkdf_key_compressed,
            ours.symmetric_algorithm, ours.symmetric_nonce_length) == (
        "secp256k1", False, False, "aes-256-gcm", 16)


@needs_eciesjs
def test_eciesjs_encrypts_and_bridge_unseals() -> None:
    keeper = sealed.generate_keypair()
    uncompressed = b"\x04" + keeper.public_key
    salts = [sealed.new_salt() for _ in range(3)]
    plaintexts = [sealed.encode_plaintext(price=10**18 + i, quantity=i + 1, salt=salt)
                  for i, salt in enumerate(salts)]
    results = eciesjs(
        # the contract's 64-byte key as hex: what a wallet reading the chain passes
        {"op": "encrypt", "keyAs": "hex", "publicKey": keeper.public_key.hex(),
         "data": plaintexts[0].hex()},
        {"op": "encrypt", "keyAs": "bytes", "publicKey": uncompressed.hex(),
         "data": plaintexts[1].hex()},
        {"op": "encrypt", "keyAs": "hex", "publicKey": "0x" + uncompressed.hex(),
         "data": plaintexts[2].hex()},
    )
    for i, result in enumerate(results):
        ciphertext = unhex(result["ciphertext"])
        assert len(ciphertext) == sealed.CIPHERTEXT_SIZE
        assert sealed.unseal(keeper.private_key, ciphertext) == sealed.Opened(
            10**18 + i, i + 1, salts[i])
        posted = sealed.commitment(chain_id=1, market=b"\x01" * 20, round=3,
                                   participant=b"\x02" * 20, side=Side.BID, price=10**18 + i,
                                   quantity=i + 1, salt=salts[i])
        opened = sealed.open_bid(keeper.private_key, ciphertext=ciphertext, commitment=posted,
                                 chain_id=1, market=b"\x01" * 20, round=3,
                                 participant=b"\x02" * 20, side=Side.BID)
        assert opened.ok


@needs_eciesjs
def test_eciesjs_rejects_the_64_byte_key_as_raw_bytes() -> None:
    """eciesjs 0.5.0 takes the contract's 64-byte x || y only as hex; clients must know this."""
    keeper = sealed.generate_keypair()
    (result,) = eciesjs({"op": "encrypt", "keyAs": "bytes", "publicKey": keeper.public_key.hex(),
                         "data": "00"})
    assert "error" in result


@needs_eciesjs
def test_bridge_seals_and_eciesjs_decrypts() -> None:
    keeper = sealed.generate_keypair()
    orders = [(1, 1, sealed.new_salt()), (2**256 - 1, 7, sealed.new_salt())]
    ciphertexts = [sealed.seal(keeper.public_key, price=price, quantity=quantity, salt=salt)
                   for price, quantity, salt in orders]
    tampered = ciphertexts[0][:-1] + bytes([ciphertexts[0][-1] ^ 1])
    results = eciesjs(
        *[{"op": "decrypt", "privateKey": keeper.private_key.hex(), "data": c.hex()}
          for c in [*ciphertexts, tampered]]
    )
    for (price, quantity, salt), result in zip(orders, results[:2], strict=True):
        assert unhex(result["plaintext"]) == sealed.encode_plaintext(
            price=price, quantity=quantity, salt=salt)
    assert "error" in results[2]


@needs_eciesjs
def test_eciesjs_decrypts_the_committed_envelope_vectors() -> None:
    cases = ENVELOPES["envelopes"]
    results = eciesjs(*[{"op": "decrypt", "privateKey": case["keeper_private_key"],
                         "data": case["ciphertext"]} for case in cases])
    assert ["0x" + result["plaintext"] for result in results] == [c["plaintext"] for c in cases]
