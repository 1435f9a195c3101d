"""Regenerate ``commitments.json``, ``envelopes.json`` (plaintext encoding and envelopes) and
``dleq.json`` (the keeper's Chaum–Pedersen proofs of an envelope's shared point).

Run once; the committed file is the reference. Everything is derived from fixed labels, so a rerun
reproduces the file byte for byte. It uses reference implementations only (``eth_abi`` for the
encoding, ``eciespy``'s own key encapsulation for the envelope, ``coincurve`` point arithmetic and
``hmac`` for the proofs), never ``bridge.sealed`` or ``bridge.evidence``, so that the test comparing
the module with this file checks two independent computations.

    .venv/bin/python tests/vectors/generate_vectors.py
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path

from coincurve import PublicKey
from Crypto.Cipher import AES
from ecies.keys import PrivateKey as EciesPrivateKey
from eth_abi import encode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

HERE = Path(__file__).parent
MAX = 2**256 - 1
P = 2**256 - 2**32 - 977  # secp256k1 field prime
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 group order
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


def base_point(secret: int) -> bytes:
    """``secret·G``, 65 bytes uncompressed."""
    return PublicKey.from_secret(secret.to_bytes(32, "big")).format(compressed=False)


def multiply(point: bytes, scalar: int) -> bytes:
    return PublicKey(point).multiply(scalar.to_bytes(32, "big")).format(compressed=False)


def rfc6979_nonce(secret: int, message: bytes) -> int:
    """RFC 6979 §3.2 with HMAC-SHA256, q = N (qlen = hlen = 256)."""
    x = secret.to_bytes(32, "big")
    h = (int.from_bytes(message, "big") % N).to_bytes(32, "big")
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.digest(k, v + b"\x00" + x + h, "sha256")
    v = hmac.digest(k, v, "sha256")
    k = hmac.digest(k, v + b"\x01" + x + h, "sha256")
    v = hmac.digest(k, v, "sha256")
    while True:
        v = hmac.digest(k, v, "sha256")
        candidate = int.from_bytes(v, "big")
        if 0 < candidate < N:
            return candidate
        k = hmac.digest(k, v + b"\x00", "sha256")
        v = hmac.digest(k, v, "sha256")


def dleq_case(note: str, keeper: int, ephemeral: bytes) -> dict[str, str | bool]:
    """A true proof that ``S = k·E`` uses the key of ``K = k·G`` (Chaum–Pedersen, Fiat–Shamir)."""
    g = base_point(1)
    k_pub = base_point(keeper)
    shared = multiply(ephemeral, keeper)
    r = rfc6979_nonce(keeper, keccak(g + k_pub + ephemeral + shared))
    a1, a2 = base_point(r), multiply(ephemeral, r)
    c = int.from_bytes(keccak(g + k_pub + ephemeral + shared + a1 + a2), "big") % N
    z = (r + c * keeper) % N
    return {
        "note": note,
        "keeper_private_key": "0x" + keeper.to_bytes(32, "big").hex(),
        "keeper_public_key": "0x" + k_pub.hex(),
        "ephemeral_public_key": "0x" + ephemeral.hex(),
        "shared_point": "0x" + shared.hex(),
        "c": "0x" + c.to_bytes(32, "big").hex(),
        "z": "0x" + z.to_bytes(32, "big").hex(),
        "valid": True,
    }


def falsified(case: dict[str, str | bool], note: str, field: str,
              value: bytes | int) -> dict[str, str | bool]:
    """``case`` with the one ``field`` replaced: a proof that must not verify."""
    raw = value.to_bytes(32, "big") if isinstance(value, int) else value
    return {**case, "note": note, field: "0x" + raw.hex(), "valid": False}


def scalar(case: dict[str, str | bool], field: str) -> int:
    return int(str(case[field]), 16)


def point_of(case: dict[str, str | bool], field: str) -> bytes:
    return bytes.fromhex(str(case[field])[2:])


def dleq_vectors() -> list[dict[str, str | bool]]:
    """Every ``dleq.json`` vector: true proofs, then single-field changes of them."""
    keeper = int.from_bytes(label("keeper"), "big")
    other = int.from_bytes(label("dleq-other-keeper"), "big")
    d = [int.from_bytes(label(f"dleq-{i}"), "big") for i in range(7)]
    assert all(0 < secret < N for secret in [keeper, other, *d])
    true = [
        dleq_case("envelopes.json 'bid': keeper label('keeper'), ephemeral secret "
                  "label('ephemeral-0'); S opens that envelope", keeper,
                  base_point(int.from_bytes(label("ephemeral-0"), "big"))),
        dleq_case("envelopes.json 'ask': keeper label('keeper'), ephemeral secret "
                  "label('ephemeral-1'); S opens that envelope", keeper,
                  base_point(int.from_bytes(label("ephemeral-1"), "big"))),
        dleq_case("keeper label('dleq-0'), ephemeral secret label('dleq-1')", d[0],
                  base_point(d[1])),
        dleq_case("keeper secret 1: K = G and S = E (ephemeral secret label('dleq-2'))",
                  1, base_point(d[2])),
        dleq_case("keeper secret n - 1: K = -G and S = -E (ephemeral secret label('dleq-3'))",
                  N - 1, base_point(d[3])),
        dleq_case("ephemeral secret 1: E = G and S = K (keeper label('dleq-4'))",
                  d[4], base_point(1)),
        dleq_case("ephemeral key equal to the keeper's: E = K (keeper label('dleq-5'))",
                  d[5], base_point(d[5])),
        dleq_case("ephemeral secret n - 1: E = -G and S = -K (keeper label('dleq-6'))",
                  d[6], base_point(N - 1)),
    ]
    t0, t1, t2, t3 = true[:4]
    s0 = point_of(t0, "shared_point")
    s2 = point_of(t2, "shared_point")
    off_curve = s0[:64] + bytes([s0[64] ^ 1])
    false = [
        falsified(t0, "c + 1 of true vector 0", "c", (scalar(t0, "c") + 1) % N),
        falsified(t1, "c - 1 of true vector 1", "c", (scalar(t1, "c") - 1) % N),
        falsified(t2, "z + 1 of true vector 2", "z", (scalar(t2, "z") + 1) % N),
        falsified(t3, "z - 1 of true vector 3", "z", (scalar(t3, "z") - 1) % N),
        falsified(t0, "S of true vector 0 replaced by S + G", "shared_point",
                  PublicKey.combine_keys([PublicKey(s0), PublicKey(base_point(1))])
                  .format(compressed=False)),
        falsified(t0, "S of true vector 0 replaced by k'*E for another key k' = "
                  "label('dleq-other-keeper')", "shared_point",
                  multiply(point_of(t0, "ephemeral_public_key"), other)),
        falsified(t2, "S of true vector 2 replaced by -S (same x, other y)", "shared_point",
                  s2[:33] + (P - int.from_bytes(s2[33:], "big")).to_bytes(32, "big")),
        falsified(t0, "S of true vector 0 with the low bit of y flipped (not on the curve)",
                  "shared_point", off_curve),
        falsified(t0, "K of true vector 0 replaced by the key of label('dleq-other-keeper')",
                  "keeper_public_key", base_point(other)),
        falsified(true[4], "K of true vector 4 replaced by G (= -K)", "keeper_public_key",
                  base_point(1)),
        falsified(t0, "E of true vector 0 replaced by the ephemeral key of true vector 1",
                  "ephemeral_public_key", point_of(t1, "ephemeral_public_key")),
        falsified(t2, "E of true vector 2 replaced by -E", "ephemeral_public_key",
                  base_point(N - d[1])),
    ]
    return true + false


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
    write("dleq.json", dleq_vectors())


def render(document: object) -> str:
    """The exact text of a vector file."""
    return json.dumps(document, indent=2) + "\n"


def write(name: str, document: object) -> None:
    (HERE / name).write_text(render(document))


if __name__ == "__main__":
    main()
