"""Regenerate ``commitments.json`` and ``envelopes.json`` (plaintext encoding and envelopes).

Run once; the committed file is the reference. Everything is derived from fixed labels, so a rerun
reproduces the file byte for byte. It uses reference implementations only (``eth_abi`` for the
encoding, ``eciespy``'s own key encapsulation for the envelope), never ``bridge.sealed``, so that
the test comparing the module with this file checks two independent computations.

    .venv/bin/python tests/vectors/generate_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

from Crypto.Cipher import AES
from ecies.keys import PrivateKey as EciesPrivateKey
from eth_abi import encode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

HERE = Path(__file__).parent
MAX = 2**256 - 1
TYPES = ["bytes32", "uint256", "address", "uint256", "address", "uint8", "uint256", "uint256",
         "bytes32"]


def label(text: str) -> bytes:
    return keccak(text.encode())


def address(text: str) -> str:
    return to_checksum_address(label(text)[12:])


def commitment_case(name: str, chain_id: int, market: str, round_: int, participant: str,
                    side: int, price: int, quantity: int, salt: bytes) -> dict[str, str | int]:
    encoded = encode(TYPES, [label("ProverMarket.Bid.v1"), chain_id, market, round_, participant,
                             side, price, quantity, salt])
    return {
        "name": name,
        "chain_id": str(chain_id),
        "market": market,
        "round": str(round_),
        "participant": participant,
        "side": side,
        "price": str(price),
        "quantity": str(quantity),
        "salt": "0x" + salt.hex(),
        "encoded": "0x" + encoded.hex(),
        "commitment": "0x" + keccak(encoded).hex(),
    }


def envelope_case(name: str, keeper: bytes, ephemeral: bytes, nonce: bytes, price: int,
                  quantity: int, salt: bytes) -> dict[str, str]:
    plaintext = encode(["uint256", "uint256", "bytes32"], [price, quantity, salt])
    eph = EciesPrivateKey("secp256k1", ephemeral)
    receiver = EciesPrivateKey("secp256k1", keeper).public_key
    key = eph.encapsulate(receiver)  # HKDF-SHA256(eph_pk_uncompressed || shared_uncompressed)
    body, tag = AES.new(key, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(plaintext)
    ciphertext = eph.public_key.to_bytes(False) + nonce + tag + body
    return {
        "name": name,
        "keeper_private_key": "0x" + keeper.hex(),
        "keeper_public_key": "0x" + receiver.to_bytes(False)[1:].hex(),
        "price": str(price),
        "quantity": str(quantity),
        "salt": "0x" + salt.hex(),
        "plaintext": "0x" + plaintext.hex(),
        "ciphertext": "0x" + ciphertext.hex(),
    }


def main() -> None:
    market = address("market")
    alice, bob = address("alice"), address("bob")
    salt = [label(f"salt-{i}") for i in range(10)]
    commitments = [
        commitment_case("bid, mainnet", 1, market, 0, alice, 0, 10**18, 1, salt[0]),
        commitment_case("ask, mainnet", 1, market, 0, bob, 1, 3 * 10**15, 4, salt[1]),
        commitment_case("bid, anvil chain, later round", 31337, market, 17, alice, 0, 5 * 10**17,
                        3, salt[2]),
        commitment_case("same bid, other participant", 31337, market, 17, bob, 0, 5 * 10**17, 3,
                        salt[2]),
        commitment_case("same bid, next round", 31337, market, 18, alice, 0, 5 * 10**17, 3,
                        salt[2]),
        commitment_case("same bid, other market", 31337, address("other market"), 17, alice, 0,
                        5 * 10**17, 3, salt[2]),
        commitment_case("all zero", 0, to_checksum_address(bytes(20)), 0,
                        to_checksum_address(bytes(20)), 0, 0, 0, bytes(32)),
        commitment_case("all maximal", MAX, to_checksum_address(b"\xff" * 20), MAX,
                        to_checksum_address(b"\xff" * 20), 1, MAX, MAX, b"\xff" * 32),
        commitment_case("ask, large round", 11155111, market, 2**64 + 5, bob, 1, 1, 2**32,
                        salt[3]),
        commitment_case("bid, one wei", 1, market, 1, alice, 0, 1, 1, salt[4]),
    ]
    keeper = label("keeper")
    envelopes = [
        envelope_case("bid", keeper, label("ephemeral-0"), label("nonce-0")[:16], 10**18, 2,
                      salt[5]),
        envelope_case("ask", keeper, label("ephemeral-1"), label("nonce-1")[:16], 3 * 10**15, 8,
                      salt[6]),
    ]
    plaintext = {
        "price": str(10**18),
        "quantity": "3",
        "salt": "0x" + salt[7].hex(),
        "encoded": "0x" + encode(["uint256", "uint256", "bytes32"], [10**18, 3, salt[7]]).hex(),
    }
    write("commitments.json", {
        "format": "bridge sealed-bid commitment vectors v1; see README.md beside this file",
        "commitment_tag": "0x" + label("ProverMarket.Bid.v1").hex(),
        "commitments": commitments,
    })
    write("envelopes.json", {
        "format": "bridge sealed-bid envelope vectors v1; see README.md beside this file",
        "plaintext": plaintext,
        "envelopes": envelopes,
    })


def write(name: str, document: dict[str, object]) -> None:
    (HERE / name).write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
