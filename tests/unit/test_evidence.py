"""Unit tests for ``bridge.evidence``: the keeper's DLEQ proof and the check of an invalid mark.

The proof is checked three ways: against ``tests/vectors/dleq.json`` (made by
``generate_vectors.py`` with coincurve), against a pure-Python secp256k1 and RFC 6979 written here
(nothing of ``bridge.evidence`` is used for the math), and by the project's own ``dleq_verify``.
The mark checks build real envelopes with ``bridge.sealed.seal`` and real commitments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import importlib.util
import json
from pathlib import Path
from typing import Any

import ecies
import pytest
from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from bridge import sealed
from bridge.errors import SealedInputError
from bridge.evidence import (
    EVIDENCE_SIZE,
    Evidence,
    MarkReason,
    OrderContext,
    check_mark,
    decode_evidence,
    dleq_prove,
    dleq_verify,
    encode_evidence,
    make_evidence,
)
from bridge.sealed import Side

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"

# --------------------------------------------------------------------------------------------------
# An independent secp256k1 (affine points, Jacobian arithmetic) and RFC 6979, in plain Python

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8

Affine = tuple[int, int] | None
"""``(x, y)``, or ``None`` for the point at infinity."""
Jacobian = tuple[int, int, int]
"""``(X, Y, Z)`` for ``(X/Z², Y/Z³)``; ``Z = 0`` is the point at infinity."""

GEN: Affine = (GX, GY)
INFINITY: Jacobian = (0, 1, 0)


def on_curve(point: Affine) -> bool:
    if point is None:
        return False
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - 7) % P == 0


def to_jacobian(point: Affine) -> Jacobian:
    return INFINITY if point is None else (point[0], point[1], 1)


def to_affine(point: Jacobian) -> Affine:
    x, y, z = point
    if z % P == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def jacobian_double(point: Jacobian) -> Jacobian:
    x, y, z = point
    if z == 0 or y == 0:
        return INFINITY
    yy = y * y % P
    s = 4 * x * yy % P
    m = 3 * x * x % P  # a = 0
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    return x3, y3, 2 * y * z % P


def jacobian_add(p: Jacobian, q: Jacobian) -> Jacobian:
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    x1, y1, z1 = p
    x2, y2, z2 = q
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    if u1 == u2:
        return jacobian_double(p) if s1 == s2 else INFINITY
    h, r = (u2 - u1) % P, (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    return x3, y3, h * z1 * z2 % P


def affine_add(p: Affine, q: Affine) -> Affine:
    """Textbook affine addition (used to cross-check the Jacobian formulas)."""
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % P == 0:
        return None
    if p == q:
        slope = 3 * p[0] * p[0] * pow(2 * p[1], -1, P) % P
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, P) % P
    x = (slope * slope - p[0] - q[0]) % P
    return x, (slope * (p[0] - x) - p[1]) % P


def mul(point: Affine, scalar: int) -> Affine:
    """``scalar·point`` by double-and-add from the top bit."""
    scalar %= N
    acc = INFINITY
    base = to_jacobian(point)
    for bit in bin(scalar)[2:] if scalar else "":
        acc = jacobian_double(acc)
        if bit == "1":
            acc = jacobian_add(acc, base)
    return to_affine(acc)


def add(p: Affine, q: Affine) -> Affine:
    return to_affine(jacobian_add(to_jacobian(p), to_jacobian(q)))


def encode_point(point: Affine) -> bytes:
    assert point is not None
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def decode_point(raw: bytes) -> Affine:
    """A 65-byte uncompressed point on the curve, else ``ValueError``."""
    if len(raw) != 65 or raw[0] != 4:
        raise ValueError("not a 65-byte uncompressed point")
    point = (int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big"))
    if not on_curve(point):
        raise ValueError("not on secp256k1")
    return point


def ref_rfc6979(secret: int, h1: bytes) -> int:
    """RFC 6979 §3.2 for q = N with HMAC-SHA256, written from the RFC's steps a–h."""
    qlen = N.bit_length()
    rlen = (qlen + 7) // 8

    def bits2int(data: bytes) -> int:
        value = int.from_bytes(data, "big")
        blen = 8 * len(data)
        return value >> (blen - qlen) if blen > qlen else value

    def int2octets(value: int) -> bytes:
        return value.to_bytes(rlen, "big")

    def bits2octets(data: bytes) -> bytes:
        z1 = bits2int(data)
        return int2octets(z1 - N if z1 >= N else z1)

    def mac(key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    v = bytes([1]) * 32                                                        # b
    k = bytes(32)                                                              # c
    k = mac(k, v + bytes([0]) + int2octets(secret) + bits2octets(h1))         # d
    v = mac(k, v)                                                              # e
    k = mac(k, v + bytes([1]) + int2octets(secret) + bits2octets(h1))         # f
    v = mac(k, v)                                                              # g
    while True:                                                                # h
        t = b""
        while 8 * len(t) < qlen:
            v = mac(k, v)
            t += v
        candidate = bits2int(t)
        if 1 <= candidate < N:
            return candidate
        k = mac(k, v + bytes([0]))
        v = mac(k, v)


def ref_challenge(*points: Affine) -> int:
    return int.from_bytes(keccak(b"".join(encode_point(p) for p in points)), "big") % N


def ref_prove(secret: int, ephemeral: Affine) -> tuple[bytes, int, int]:
    """``(S, c, z)`` from the equations of ``tests/vectors/README.md``."""
    k_pub, shared = mul(GEN, secret), mul(ephemeral, secret)
    r = ref_rfc6979(secret, keccak(b"".join(encode_point(p)
                                            for p in (GEN, k_pub, ephemeral, shared))))
    c = ref_challenge(GEN, k_pub, ephemeral, shared, mul(GEN, r), mul(ephemeral, r))
    return encode_point(shared), c, (r + c * secret) % N


def ref_verify(keeper: bytes, ephemeral: bytes, shared: bytes, c: int, z: int) -> bool:
    if not (0 <= c < N and 0 <= z < N):
        return False
    try:
        k_pub, e, s = decode_point(keeper), decode_point(ephemeral), decode_point(shared)
    except ValueError:
        return False
    a1 = add(mul(GEN, z), mul(k_pub, N - c))
    a2 = add(mul(e, z), mul(s, N - c))
    if a1 is None or a2 is None:
        return False
    return c == ref_challenge(GEN, k_pub, e, s, a1, a2)


def test_reference_curve_agrees_with_libsecp256k1() -> None:
    assert on_curve(GEN)
    assert mul(GEN, N) is None
    assert mul(GEN, N - 1) == (GX, P - GY)
    assert add(GEN, mul(GEN, N - 1)) is None
    assert affine_add(GEN, GEN) == mul(GEN, 2) == add(GEN, GEN)
    for scalar in (1, 2, 3, 7, 2**128 + 1, N - 2, N - 1, int.from_bytes(keccak(b"x"), "big") % N):
        theirs = PublicKey.from_secret(scalar.to_bytes(32, "big")).format(compressed=False)
        assert encode_point(mul(GEN, scalar)) == theirs
        point = mul(GEN, scalar)
        assert affine_add(point, GEN) == add(point, GEN)
        assert affine_add(point, point) == add(point, point)


# Widely published RFC 6979 secp256k1 / SHA-256 answers (the message's SHA-256 is h1).
RFC6979_KNOWN = [
    (1, b"Satoshi Nakamoto",
     0x8F8A276C19F4149656B280621E358CCE24F5F52542772691EE69063B74F15D15),
    (1, b"All those moments will be lost in time, like tears in rain. Time to die...",
     0x38AA22D72376B4DBC472E06C3BA403EE0A394DA63FC58D88686C611ABA98D6B3),
    (N - 1, b"Satoshi Nakamoto",
     0x33A19B60E25FB6F4435AF53A3D42D493644827367E6453928554F43E49AA6F90),
    (0xF8B8AF8CE3C7CCA5E300D33939540C10D45CE001B8F252BFBC57BA0342904181, b"Alan Turing",
     0x525A82B70E67874398067543FD84C83D30C175FDC45FDEEE082FE13B1D7CFDF1),
]


@pytest.mark.parametrize(("secret", "message", "nonce"), RFC6979_KNOWN)
def test_reference_rfc6979_known_answers(secret: int, message: bytes, nonce: int) -> None:
    assert ref_rfc6979(secret, hashlib.sha256(message).digest()) == nonce


def test_reference_rfc6979_matches_libsecp256k1_signing_nonce() -> None:
    """libsecp256k1 signs with the RFC 6979 nonce: the signature's r is x(k·G) mod n."""
    for i in range(4):
        secret = int.from_bytes(keccak(f"signer-{i}".encode()), "big") % N
        digest = keccak(f"message-{i}".encode())
        signature = PrivateKey(secret.to_bytes(32, "big")).sign_recoverable(digest, hasher=None)
        point = mul(GEN, ref_rfc6979(secret, digest))
        assert point is not None
        assert int.from_bytes(signature[:32], "big") == point[0] % N


# --------------------------------------------------------------------------------------------------
# The committed vectors

DLEQ: list[dict[str, Any]] = json.loads((VECTORS / "dleq.json").read_text())
POINT_FIELDS = ("keeper_public_key", "ephemeral_public_key", "shared_point")
PROOF_FIELDS = (*POINT_FIELDS, "c", "z")


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def proof_of(vector: dict[str, Any]) -> tuple[bytes, bytes, bytes, int, int]:
    return (unhex(vector["keeper_public_key"]), unhex(vector["ephemeral_public_key"]),
            unhex(vector["shared_point"]), int(vector["c"], 16), int(vector["z"], 16))


TRUE_VECTORS = [v for v in DLEQ if v["valid"]]
FALSE_VECTORS = [v for v in DLEQ if not v["valid"]]


def vector_id(vector: dict[str, Any]) -> str:
    return f"{vector['valid']}: {vector['note'][:60]}"


def test_vector_file_shape() -> None:
    assert len(TRUE_VECTORS) >= 6
    assert len(FALSE_VECTORS) >= 4
    for vector in DLEQ:
        assert isinstance(vector["valid"], bool) and isinstance(vector["note"], str)
        for field in POINT_FIELDS:
            assert vector[field].startswith("0x") and len(unhex(vector[field])) == 65
        for field in ("c", "z", "keeper_private_key"):
            assert vector[field].startswith("0x") and len(unhex(vector[field])) == 32
    # every false vector is a true one with exactly one of K, E, S, c, z changed
    for vector in FALSE_VECTORS:
        assert any(sum(vector[f] != true[f] for f in PROOF_FIELDS) == 1
                   and vector["keeper_private_key"] == true["keeper_private_key"]
                   for true in TRUE_VECTORS), vector["note"]
    changed = {next(f for f in PROOF_FIELDS if v[f] != t[f])
               for v in FALSE_VECTORS for t in TRUE_VECTORS
               if sum(v[f] != t[f] for f in PROOF_FIELDS) == 1}
    assert changed == set(PROOF_FIELDS)
    assert len({v["shared_point"] for v in TRUE_VECTORS}) == len(TRUE_VECTORS)


def test_vector_file_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("generate_vectors",
                                                  VECTORS / "generate_vectors.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.render(generator.dleq_vectors()) == (VECTORS / "dleq.json").read_text()


@pytest.mark.parametrize("vector", DLEQ, ids=vector_id)
def test_reference_verifier_agrees_with_every_vector(vector: dict[str, Any]) -> None:
    assert ref_verify(*proof_of(vector)) is vector["valid"]


@pytest.mark.parametrize("vector", DLEQ, ids=vector_id)
def test_dleq_verify_agrees_with_every_vector(vector: dict[str, Any]) -> None:
    keeper, ephemeral, shared, c, z = proof_of(vector)
    assert dleq_verify(keeper, ephemeral, shared, c, z) is vector["valid"]
    # the contract's 64-byte x || y form gives the same answer
    assert dleq_verify(keeper[1:], ephemeral[1:], shared[1:], c, z) is vector["valid"]


@pytest.mark.parametrize("vector", TRUE_VECTORS, ids=vector_id)
def test_reference_and_dleq_prove_reproduce_every_true_vector(vector: dict[str, Any]) -> None:
    keeper, ephemeral, shared, c, z = proof_of(vector)
    secret = unhex(vector["keeper_private_key"])
    assert encode_point(mul(GEN, int.from_bytes(secret, "big"))) == keeper
    expected = (shared, c, z)
    assert ref_prove(int.from_bytes(secret, "big"), decode_point(ephemeral)) == expected
    assert dleq_prove(secret, ephemeral) == expected
    assert dleq_prove(secret, ephemeral) == expected  # deterministic
    assert dleq_prove(secret, ephemeral[1:]) == expected  # 64-byte form of E


@pytest.mark.parametrize("vector", TRUE_VECTORS, ids=vector_id)
def test_out_of_range_scalars_are_rejected(vector: dict[str, Any]) -> None:
    keeper, ephemeral, shared, c, z = proof_of(vector)
    for c2, z2 in ((c + N, z), (c, z + N), (c - N, z), (-1, z), (c, -1)):
        assert not dleq_verify(keeper, ephemeral, shared, c2, z2)
        assert not ref_verify(keeper, ephemeral, shared, c2, z2)


def test_vector_shared_points_open_the_envelope_vectors() -> None:
    envelopes = json.loads((VECTORS / "envelopes.json").read_text())["envelopes"]
    for vector, envelope in zip(TRUE_VECTORS[:2], envelopes, strict=True):
        ciphertext = unhex(envelope["ciphertext"])
        assert unhex(vector["ephemeral_public_key"]) == ciphertext[:65]
        assert unhex(vector["keeper_private_key"]) == unhex(envelope["keeper_private_key"])
        plaintext = sealed.decrypt_with_shared(ciphertext[:65], unhex(vector["shared_point"]),
                                               ciphertext)
        assert plaintext == unhex(envelope["plaintext"])


def test_dleq_prove_matches_reference_on_fresh_envelopes() -> None:
    for i in range(3):
        secret = keccak(f"evidence-fresh-keeper-{i}".encode())
        ciphertext = sealed.seal(sealed.public_key_bytes64(secret), price=i, quantity=1,
                                 salt=keccak(b"salt"))
        ephemeral = ciphertext[:65]
        proof = dleq_prove(secret, ephemeral)
        assert proof == ref_prove(int.from_bytes(secret, "big"), decode_point(ephemeral))
        assert proof == dleq_prove(secret, ephemeral)
        keeper = encode_point(mul(GEN, int.from_bytes(secret, "big")))
        assert ref_verify(keeper, ephemeral, *proof)
        assert dleq_verify(keeper, ephemeral, *proof)


# --------------------------------------------------------------------------------------------------
# Marks on real envelopes

KEEPER_SECRET = keccak(b"evidence-test keeper")
KEEPER = sealed.public_key_bytes64(KEEPER_SECRET)
OTHER_SECRET = keccak(b"evidence-test other keeper")
OTHER = sealed.public_key_bytes64(OTHER_SECRET)
MARKET = to_checksum_address(keccak(b"market")[12:])
ALICE = to_checksum_address(keccak(b"alice")[12:])
BOB = to_checksum_address(keccak(b"bob")[12:])
CHAIN = 31337
ROUND = 7
SALT = keccak(b"salt")
ETH = 10**18
R = MarkReason


def posted(side: Side, price: int, quantity: int, participant: str = ALICE,
           round_: int = ROUND) -> bytes:
    return sealed.commitment(chain_id=CHAIN, market=MARKET, round=round_,
                             participant=participant, side=side, price=price, quantity=quantity,
                             salt=SALT)


def order(side: Side, price: int, quantity: int, *, mechanism: str = "dara",
          **fields: Any) -> OrderContext:
    """An honest order (matching commitment, sealed to the keeper); ``fields`` override the rest."""
    ctx = OrderContext(chain_id=CHAIN, market=MARKET, round=ROUND, participant=ALICE, side=side,
                       commitment=posted(side, price, quantity),
                       ciphertext=sealed.seal(KEEPER, price=price, quantity=quantity, salt=SALT),
                       mechanism=mechanism)
    return dataclasses.replace(ctx, **fields)


def sealed_raw(plaintext: bytes, public_key: bytes = KEEPER) -> bytes:
    """An envelope of any plaintext, encrypted exactly as ``sealed.seal`` does."""
    return ecies.encrypt(b"\x04" + public_key, plaintext, config=sealed._ecies_config())


def off_curve(ciphertext: bytes) -> bytes:
    """The envelope with the ephemeral key's y changed in its last bit: not a curve point."""
    return ciphertext[:64] + bytes([ciphertext[64] ^ 1]) + ciphertext[65:]


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    ctx: OrderContext
    held: frozenset[MarkReason]
    """Every reason that makes the order invalid (independently of ``reasons_that_hold``)."""
    valid: OrderContext | None = None
    """The same envelope and commitment under a context that makes the order valid, if any."""


def build_cases() -> list[Case]:
    bid = order(Side.BID, ETH, 1, escrow=ETH)
    ask = order(Side.ASK, 10**15, 4, capacity=4, free_units=4)
    size_two = order(Side.BID, ETH, 2, mechanism="proofphi", escrow=ETH)
    three_of_four = order(Side.ASK, 10**15, 3, mechanism="proofphi", capacity=4, free_units=4)
    return [
        Case("undecryptable: sealed to another key",
             dataclasses.replace(bid, ciphertext=sealed.seal(OTHER, price=ETH, quantity=1,
                                                             salt=SALT)),
             frozenset({R.UNDECRYPTABLE})),
        Case("undecryptable: ephemeral key not a point",
             dataclasses.replace(bid, ciphertext=off_curve(bid.ciphertext)),
             frozenset({R.UNDECRYPTABLE})),
        Case("undecryptable: ephemeral key all zero",
             dataclasses.replace(ask, ciphertext=bytes(65) + ask.ciphertext[65:]),
             frozenset({R.UNDECRYPTABLE})),
        Case("undecryptable: shorter than a key", dataclasses.replace(bid, ciphertext=b"\x04" * 40),
             frozenset({R.UNDECRYPTABLE})),
        Case("undecryptable: body tampered",
             dataclasses.replace(bid, ciphertext=bid.ciphertext[:-1]
                                 + bytes([bid.ciphertext[-1] ^ 1])),
             frozenset({R.UNDECRYPTABLE})),
        Case("malformed plaintext: 95 bytes",
             dataclasses.replace(bid, ciphertext=sealed_raw(
                 sealed.encode_plaintext(price=ETH, quantity=1, salt=SALT)[:95])),
             frozenset({R.MALFORMED_PLAINTEXT})),
        Case("malformed plaintext: 97 bytes",
             dataclasses.replace(ask, ciphertext=sealed_raw(
                 sealed.encode_plaintext(price=10**15, quantity=4, salt=SALT) + b"\x00")),
             frozenset({R.MALFORMED_PLAINTEXT})),
        Case("malformed plaintext: empty", dataclasses.replace(bid, ciphertext=sealed_raw(b"")),
             frozenset({R.MALFORMED_PLAINTEXT})),
        Case("commitment mismatch: other price",
             dataclasses.replace(bid, commitment=posted(Side.BID, ETH + 1, 1)),
             frozenset({R.COMMITMENT_MISMATCH}), bid),
        Case("commitment mismatch: copied from another participant",
             dataclasses.replace(ask, participant=BOB), frozenset({R.COMMITMENT_MISMATCH}), ask),
        Case("commitment mismatch: copied from another round",
             dataclasses.replace(bid, round=ROUND + 1), frozenset({R.COMMITMENT_MISMATCH}), bid),
        Case("value above escrow", dataclasses.replace(bid, escrow=ETH - 1),
             frozenset({R.VALUE_ABOVE_ESCROW}), bid),
        Case("quantity above capacity", dataclasses.replace(ask, capacity=3, free_units=None),
             frozenset({R.QUANTITY_ABOVE_CAPACITY}), dataclasses.replace(ask, free_units=None)),
        Case("zero quantity: bid", order(Side.BID, ETH, 0, escrow=ETH),
             frozenset({R.ZERO_QUANTITY})),
        Case("zero quantity: ask", order(Side.ASK, 10**15, 0, capacity=4, free_units=4),
             frozenset({R.ZERO_QUANTITY})),
        Case("size not one: proofphi bid of 2", size_two, frozenset({R.SIZE_NOT_ONE}),
             dataclasses.replace(size_two, mechanism="dara")),
        Case("cost too large: 2**128", order(Side.ASK, 2**128, 1, capacity=1, free_units=1),
             frozenset({R.COST_TOO_LARGE})),
        Case("cost too large: 2**256 - 1", order(Side.ASK, 2**256 - 1, 1, capacity=1),
             frozenset({R.COST_TOO_LARGE})),
        Case("quantity not capacity: proofphi ask of 3 for capacity 4", three_of_four,
             frozenset({R.QUANTITY_NOT_CAPACITY}),
             dataclasses.replace(three_of_four, capacity=3, free_units=3)),
        Case("insufficient collateral", dataclasses.replace(ask, free_units=3),
             frozenset({R.INSUFFICIENT_COLLATERAL}), ask),
        Case("several reasons: proofphi ask",
             order(Side.ASK, 2**128, 5, mechanism="proofphi", capacity=4, free_units=3),
             frozenset({R.QUANTITY_ABOVE_CAPACITY, R.COST_TOO_LARGE, R.QUANTITY_NOT_CAPACITY,
                        R.INSUFFICIENT_COLLATERAL})),
        Case("several reasons: zero-size proofphi bid above escrow",
             order(Side.BID, ETH, 0, mechanism="proofphi", escrow=1),
             frozenset({R.ZERO_QUANTITY, R.VALUE_ABOVE_ESCROW, R.SIZE_NOT_ONE})),
    ]


CASES = build_cases()
CASE_IDS = [case.name for case in CASES]
HONEST = [(case, reason) for case in CASES for reason in sorted(case.held)]
NOT_A_POINT = {"undecryptable: ephemeral key not a point", "undecryptable: ephemeral key all zero",
               "undecryptable: shorter than a key"}


def evidence_for(ctx: OrderContext, reason: MarkReason, secret: bytes = KEEPER_SECRET) -> bytes:
    encoded = make_evidence(secret, ctx.ciphertext, reason).encode()
    assert len(encoded) == EVIDENCE_SIZE == 129
    return encoded


@pytest.mark.parametrize(("case", "reason"), HONEST,
                         ids=[f"{case.name}/{reason.label}" for case, reason in HONEST])
def test_honest_mark_is_confirmed(case: Case, reason: MarkReason) -> None:
    encoded = evidence_for(case.ctx, reason)
    result = check_mark(KEEPER, case.ctx, encoded)
    assert result.ok, result.explanation
    assert check_mark(b"\x04" + KEEPER, case.ctx, decode_evidence(encoded)).ok
    assert encoded[0] == int(reason)
    if case.name in NOT_A_POINT:
        assert encoded[1:] == bytes(128)
        assert result.opened is None
        return
    # the published S is k·E and its proof verifies in the independent implementation
    ephemeral = case.ctx.ciphertext[:65]
    secret = int.from_bytes(KEEPER_SECRET, "big")
    assert b"\x04" + encoded[1:65] == encode_point(mul(decode_point(ephemeral), secret))
    assert ref_verify(b"\x04" + KEEPER, ephemeral, b"\x04" + encoded[1:65],
                      int.from_bytes(encoded[65:97], "big"), int.from_bytes(encoded[97:], "big"))
    if reason not in (R.UNDECRYPTABLE, R.MALFORMED_PLAINTEXT):
        opened = sealed.unseal(KEEPER_SECRET, case.ctx.ciphertext)
        assert result.opened == opened


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_wrong_reason_on_an_invalid_order_is_rejected(case: Case) -> None:
    for reason in set(MarkReason) - case.held:
        result = check_mark(KEEPER, case.ctx, evidence_for(case.ctx, reason))
        assert not result.ok, (reason, result.explanation)
        if case.name in NOT_A_POINT:
            assert "would be undecryptable" in result.explanation
        else:
            assert "does not hold" in result.explanation
            for held in case.held:
                assert held.label in result.explanation


@pytest.mark.parametrize("case", [c for c in CASES if c.valid is not None],
                         ids=[c.name for c in CASES if c.valid is not None])
def test_the_same_evidence_on_the_valid_order_is_provably_wrong(case: Case) -> None:
    assert case.valid is not None
    assert case.valid.ciphertext == case.ctx.ciphertext
    valid_result = sealed.open_bid(
        KEEPER_SECRET, ciphertext=case.valid.ciphertext, commitment=case.valid.commitment,
        chain_id=case.valid.chain_id, market=case.valid.market, round=case.valid.round,
        participant=case.valid.participant, side=case.valid.side,
        escrow=case.valid.escrow if case.valid.side is Side.BID else None,
        capacity=case.valid.capacity if case.valid.side is Side.ASK else None)
    assert valid_result.ok
    for reason in case.held:
        encoded = evidence_for(case.ctx, reason)
        assert check_mark(KEEPER, case.ctx, encoded).ok
        result = check_mark(KEEPER, case.valid, encoded)
        assert not result.ok
        assert "provably wrong" in result.explanation


VALID_ORDERS = {
    "bid": order(Side.BID, ETH, 3, escrow=ETH),
    "bid at the escrow, proofphi": order(Side.BID, ETH, 1, mechanism="proofphi", escrow=ETH),
    "ask at the page limit": order(Side.ASK, 2**128 - 1, 4, capacity=4, free_units=4),
    "ask, proofphi, at capacity and collateral": order(Side.ASK, 10**15, 4, mechanism="proofphi",
                                                       capacity=4, free_units=4),
}


@pytest.mark.parametrize("reason", list(MarkReason), ids=lambda r: r.label)
@pytest.mark.parametrize("name", list(VALID_ORDERS))
def test_any_mark_of_a_valid_order_is_provably_wrong(name: str, reason: MarkReason) -> None:
    ctx = VALID_ORDERS[name]
    result = check_mark(KEEPER, ctx, evidence_for(ctx, reason))
    assert not result.ok
    assert "provably wrong" in result.explanation
    assert result.opened == sealed.unseal(KEEPER_SECRET, ctx.ciphertext)


def test_insufficient_collateral_needs_the_collateral() -> None:
    ask = order(Side.ASK, 10**15, 4, capacity=4, free_units=None)
    result = check_mark(KEEPER, ask, evidence_for(ask, R.INSUFFICIENT_COLLATERAL))
    assert not result.ok
    assert "cannot be confirmed" in result.explanation
    assert check_mark(KEEPER, dataclasses.replace(ask, free_units=3),
                      evidence_for(ask, R.INSUFFICIENT_COLLATERAL)).ok


def test_unprovable_holds_exactly_when_the_circuit_was_run_and_refused() -> None:
    """An ``unprovable`` mark of a circuit task: confirmed when the task's witness did not compute,
    provably wrong when it did, unconfirmable when nobody ran the circuit; on an opaque task or an
    ask it is plainly wrong."""
    bid = order(Side.BID, ETH, 1, escrow=ETH, task_units=1)
    ev = evidence_for(bid, R.UNPROVABLE)
    refused = check_mark(KEEPER, dataclasses.replace(bid, provable=False,
                                                     provable_detail="Assert Failed"), ev)
    assert refused.ok and refused.explanation == "unprovable confirmed (Assert Failed)"
    computed = check_mark(KEEPER, dataclasses.replace(bid, provable=True), ev)
    assert not computed.ok and "the task is provable" in computed.explanation
    unknown = check_mark(KEEPER, bid, ev)
    assert not unknown.ok and "cannot be confirmed" in unknown.explanation
    opaque = dataclasses.replace(bid, task_units=None)
    assert "provably wrong" in check_mark(KEEPER, opaque, evidence_for(opaque, R.UNPROVABLE)
                                          ).explanation
    # another reason that holds is named instead
    big = order(Side.BID, ETH + 1, 1, escrow=ETH, task_units=1, provable=True)
    wrong = check_mark(KEEPER, big, evidence_for(big, R.UNPROVABLE))
    assert not wrong.ok and "value_above_escrow" in wrong.explanation


# --------------------------------------------------------------------------------------------------
# Tampered and forged evidence

PARTS = {"reason": range(0, 1), "S": range(1, 65), "c": range(65, 97), "z": range(97, 129)}
FLIP_CASES = [c for c in CASES if c.name in ("commitment mismatch: other price",
                                             "insufficient collateral",
                                             "undecryptable: sealed to another key",
                                             "malformed plaintext: 95 bytes",
                                             "several reasons: proofphi ask")]


def split(encoded: bytes) -> tuple[bytes, int, int]:
    return (b"\x04" + encoded[1:65], int.from_bytes(encoded[65:97], "big"),
            int.from_bytes(encoded[97:129], "big"))


@pytest.mark.parametrize("part", list(PARTS))
@pytest.mark.parametrize("case", FLIP_CASES, ids=[c.name for c in FLIP_CASES])
def test_flipping_any_byte_of_the_evidence_breaks_it(case: Case, part: str) -> None:
    reason = min(case.held)
    encoded = evidence_for(case.ctx, reason)
    ephemeral = case.ctx.ciphertext[:65]
    assert dleq_verify(KEEPER, ephemeral, *split(encoded))
    for position in PARTS[part]:
        for mask in (0x01, 0x80, 0xFF):
            flipped = bytearray(encoded)
            flipped[position] ^= mask
            result = check_mark(KEEPER, case.ctx, bytes(flipped))
            if position == 0:
                code = flipped[0]
                assert not result.ok or (code in set(R) and R(code) is not reason
                                         and R(code) in case.held), (code, result.explanation)
                continue
            assert not result.ok, (position, mask)
            assert "the evidence is false" in result.explanation
            assert not dleq_verify(KEEPER, ephemeral, *split(bytes(flipped)))


def test_flipped_evidence_fails_the_reference_verifier_too() -> None:
    case = FLIP_CASES[0]
    encoded = evidence_for(case.ctx, min(case.held))
    ephemeral = case.ctx.ciphertext[:65]
    assert ref_verify(b"\x04" + KEEPER, ephemeral, *split(encoded))
    for position in range(1, 129, 3):
        flipped = bytearray(encoded)
        flipped[position] ^= 0x01
        assert not ref_verify(b"\x04" + KEEPER, ephemeral, *split(bytes(flipped)))


def test_a_proof_made_with_another_key_is_rejected() -> None:
    case = next(c for c in CASES if c.name == "commitment mismatch: other price")
    ephemeral = case.ctx.ciphertext[:65]
    forged_shared, c, z = dleq_prove(OTHER_SECRET, ephemeral)
    # a sound proof, but for the other key
    assert dleq_verify(OTHER, ephemeral, forged_shared, c, z)
    assert ref_verify(b"\x04" + OTHER, ephemeral, forged_shared, c, z)
    assert not dleq_verify(KEEPER, ephemeral, forged_shared, c, z)
    assert not ref_verify(b"\x04" + KEEPER, ephemeral, forged_shared, c, z)
    forged = Evidence(R.COMMITMENT_MISMATCH, forged_shared[1:], c, z)
    result = check_mark(KEEPER, case.ctx, forged)
    assert not result.ok
    assert "the evidence is false" in result.explanation
    assert check_mark(OTHER, case.ctx, forged.encode()).ok is False  # S' does not open it
    # the real shared point with the other key's proof, or the real proof of another envelope
    real_shared, real_c, real_z = dleq_prove(KEEPER_SECRET, ephemeral)
    assert not dleq_verify(KEEPER, ephemeral, real_shared, c, z)
    other_ephemeral = CASES[0].ctx.ciphertext[:65]
    replayed = dleq_prove(KEEPER_SECRET, other_ephemeral)
    assert not dleq_verify(KEEPER, ephemeral, *replayed)
    assert not check_mark(KEEPER, case.ctx,
                          Evidence(R.COMMITMENT_MISMATCH, replayed[0][1:], *replayed[1:])).ok
    assert check_mark(KEEPER, case.ctx,
                      Evidence(R.COMMITMENT_MISMATCH, real_shared[1:], real_c, real_z)).ok


# --------------------------------------------------------------------------------------------------
# The 129 bytes


def test_evidence_encoding_round_trips() -> None:
    shared, c, z = dleq_prove(KEEPER_SECRET, CASES[0].ctx.ciphertext[:65])
    evidence = Evidence(R.COST_TOO_LARGE, shared[1:], c, z)
    encoded = encode_evidence(evidence)
    assert encoded == bytes([8]) + shared[1:] + c.to_bytes(32, "big") + z.to_bytes(32, "big")
    assert decode_evidence(encoded) == evidence
    assert evidence.encode() == encoded


@pytest.mark.parametrize("raw", [b"", bytes(128), bytes(130), bytes([0]) + bytes(128),
                                 bytes([14]) + bytes(128), bytes([255]) + bytes(128)],
                         ids=["empty", "128", "130", "code 0", "code 14", "code 255"])
def test_malformed_evidence_is_rejected(raw: bytes) -> None:
    with pytest.raises(SealedInputError):
        decode_evidence(raw)
    result = check_mark(KEEPER, CASES[0].ctx, raw)
    assert not result.ok
    assert "malformed" in result.explanation


@pytest.mark.parametrize("label", [r.label for r in MarkReason])
def test_reason_labels_round_trip(label: str) -> None:
    assert MarkReason.from_label(label).label == label


def test_unknown_reason_label() -> None:
    with pytest.raises(SealedInputError):
        MarkReason.from_label("too_expensive")


@pytest.mark.parametrize("raw", [b"", bytes(64), bytes(65), b"\x04" + b"\xff" * 64, b"\x02" * 33],
                         ids=["empty", "zero64", "zero65", "ff65", "33 bytes"])
def test_dleq_verify_never_raises_on_bad_points(raw: bytes) -> None:
    keeper, ephemeral, shared, c, z = proof_of(TRUE_VECTORS[0])
    assert not dleq_verify(raw, ephemeral, shared, c, z)
    assert not dleq_verify(keeper, raw, shared, c, z)
    assert not dleq_verify(keeper, ephemeral, raw, c, z)


@pytest.mark.parametrize("prefix", [0x06, 0x07])
def test_hybrid_encoded_ephemeral_keys_are_undecryptable_everywhere(prefix: int) -> None:
    """eciesjs refuses the "hybrid" point prefixes 0x06/0x07 that libsecp256k1 would accept: the
    keeper opens nothing a wallet could not have made, and the evidence is the zero one."""
    while True:  # an envelope whose y parity fits the prefix (0x06 even, 0x07 odd)
        ctx = order(Side.BID, ETH, 1, escrow=ETH)
        if (PublicKey(ctx.ciphertext[:65]).format(compressed=True)[0] == 3) == (prefix == 0x07):
            break
    assert PublicKey(bytes([prefix]) + ctx.ciphertext[1:65])  # libsecp256k1 would accept it
    hybrid = bytes([prefix]) + ctx.ciphertext[1:]
    ctx = dataclasses.replace(ctx, ciphertext=hybrid)
    opened = sealed.open_bid(KEEPER_SECRET, ciphertext=hybrid, commitment=ctx.commitment,
                             chain_id=CHAIN, market=MARKET, round=ROUND, participant=ALICE,
                             side=Side.BID, escrow=ETH)
    assert not opened.ok and opened.reason == sealed.InvalidReason.UNDECRYPTABLE
    ev = make_evidence(KEEPER_SECRET, hybrid, R.UNDECRYPTABLE)
    assert ev.encode() == bytes([1]) + bytes(128)
    assert check_mark(KEEPER, ctx, ev).ok


def test_without_an_ephemeral_key_the_evidence_must_be_zero() -> None:
    ctx = order(Side.BID, ETH, 1, escrow=ETH)
    ctx = dataclasses.replace(ctx, ciphertext=b"\x05" + ctx.ciphertext[1:])
    assert check_mark(KEEPER, ctx, bytes([1]) + bytes(128)).ok
    for junk in (bytes([1]) + b"\xab" * 128, bytes([1]) + bytes(127) + b"\x01"):
        verdict = check_mark(KEEPER, ctx, junk)
        assert not verdict.ok and "must be zero" in verdict.explanation


def test_the_owner_is_told_plainly_whether_the_keeper_was_right() -> None:
    from bridge.client.round_audit import MarkVerdict, explain_own_mark
    from bridge.client.salts import SealedRecord

    def record(price: int, quantity: int) -> SealedRecord:
        return SealedRecord(chain_id=CHAIN, market=MARKET, round=ROUND, participant=ALICE,
                            side=0, price=price, quantity=quantity, salt="0x" + SALT.hex(),
                            commitment="0x" + posted(Side.BID, price, quantity).hex())

    def verdict(ctx: OrderContext, reason: MarkReason) -> tuple[bool, str]:
        check = check_mark(KEEPER, ctx, make_evidence(KEEPER_SECRET, ctx.ciphertext, reason))
        return explain_own_mark(MarkVerdict(Side.BID, 0, ALICE, reason.label, check),
                                record(ETH, 1))

    valid = order(Side.BID, ETH, 1, escrow=ETH)
    assert verdict(valid, R.VALUE_ABOVE_ESCROW) == (
        False, "your bid was valid; the keeper's mark is provably wrong: marked "
        "value_above_escrow, but the order is valid (it opens to price 1000000000000000000, "
        "quantity 1 and matches its commitment): the mark is provably wrong")
    above = order(Side.BID, ETH, 1, escrow=ETH - 1)
    right, sentence = verdict(above, R.VALUE_ABOVE_ESCROW)
    assert right and sentence.startswith("your bid was invalid: value_above_escrow — the "
                                         "keeper's evidence confirms it (the evidence decrypts")
    assert verdict(above, R.ZERO_QUANTITY) == (
        False, "the keeper's stated reason (zero_quantity) is wrong, but your bid was invalid "
        "anyway: value_above_escrow")
    forged = check_mark(KEEPER, valid, make_evidence(OTHER_SECRET, valid.ciphertext,
                                                     R.VALUE_ABOVE_ESCROW))
    right, sentence = explain_own_mark(MarkVerdict(Side.BID, 0, ALICE, "value_above_escrow",
                                                   forged), record(ETH, 1))
    assert not right and "its evidence is false" in sentence
