"""Evidence for the keeper's invalid marks: anyone can check that a sealed order was invalid.

When the keeper settles a sealed bid or ask as invalid it publishes, next to the order's
commitment in the settlement calldata, 129 bytes of evidence::

    reason (1) || S (64, x || y) || c (32) || z (32)

``S = k·E`` is the envelope's ECDH shared point (``k`` the keeper's secret key, ``E`` the ephemeral
public key that opens the envelope) and ``(c, z)`` a Chaum–Pedersen proof that
``log_G(K) = log_E(S)`` for the keeper's published key ``K = k·G``:

- nonce ``r`` deterministic (RFC 6979, HMAC-SHA256, message ``keccak256(G || K || E || S)``),
  ``A1 = r·G``, ``A2 = r·E``;
- ``c = keccak256(G || K || E || S || A1 || A2) mod n``, every point 65-byte uncompressed;
- ``z = r + c·k mod n``.

A verifier recomputes ``A1 = z·G − c·K`` and ``A2 = z·E − c·S`` and the hash. With a verified
``S`` anyone derives that one envelope's AES key (HKDF of ``E || S``, as in :mod:`bridge.sealed`),
decrypts it and checks the stated reason; nothing about the keeper's key or any other envelope is
revealed. When the envelope's first 65 bytes are not a point on the curve there is no shared point:
``S``, ``c`` and ``z`` are zero and the reason must be :attr:`MarkReason.UNDECRYPTABLE`, which
anyone sees from the ciphertext alone. Only the uncompressed form ``0x04 || x || y`` counts as a
point (as eciesjs reads it; the "hybrid" prefixes 0x06/0x07 do not).

:func:`check_mark` is the verifier a participant, ``bridge audit`` and the watchtower run. It is
pure (no chain access): the caller passes the public context of the order.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from coincurve import PublicKey
from eth_hash.auto import keccak

from bridge import sealed
from bridge.errors import SealedInputError

__all__ = [
    "EVIDENCE_SIZE",
    "MarkCheck",
    "MarkReason",
    "check_mark",
    "decode_evidence",
    "dleq_prove",
    "dleq_verify",
    "encode_evidence",
    "make_evidence",
]

N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The order of secp256k1's group."""
G: Final[bytes] = PublicKey.from_secret((1).to_bytes(32, "big")).format(compressed=False)
"""The generator, 65 bytes uncompressed."""
EVIDENCE_SIZE: Final = 1 + 64 + 32 + 32
"""Bytes of evidence after an invalid order's commitment: reason, S, c, z."""
MAX_PAGE_AMOUNT: Final = (1 << 128) - 1
"""The largest amount a settlement page can carry (16-byte fields)."""
MAX_PAGE_SIZE: Final = (1 << 32) - 1
"""The largest bid size a settlement page can carry (4-byte field)."""


class MarkReason(IntEnum):
    """Why an order was settled as invalid: the code published on chain (1 byte) and its name.

    Codes 1–6 come from opening the envelope (:class:`bridge.sealed.InvalidReason`), 7–12 from the
    market's rules on the opened values, 13 from running the task's circuit.
    """

    UNDECRYPTABLE = 1
    MALFORMED_PLAINTEXT = 2
    COMMITMENT_MISMATCH = 3
    VALUE_ABOVE_ESCROW = 4
    QUANTITY_ABOVE_CAPACITY = 5
    ZERO_QUANTITY = 6
    SIZE_NOT_ONE = 7
    """Prooφ bids: the sealed size is not 1 (Prooφ tasks are unit-size)."""
    COST_TOO_LARGE = 8
    """Asks: the sealed cost per unit does not fit a settlement page (≥ 2^128 wei)."""
    QUANTITY_NOT_CAPACITY = 9
    """Prooφ asks: the sealed units differ from the declared capacity."""
    INSUFFICIENT_COLLATERAL = 10
    """Asks: the prover's free collateral does not cover the sealed units."""
    SIZE_TOO_LARGE = 11
    """Bids: the sealed size does not fit a settlement page (> 2^32 − 1 units)."""
    SIZE_NOT_TASK_UNITS = 12
    """Bids of a circuit market (DARA): the sealed size is not the task's circuit units."""
    UNPROVABLE = 13
    """Bids of a market whose verifier is a ``Groth16Registry``: no proof of the task can exist —
    its registered witness generator rejects the public inputs (an ``assert`` or a constraint
    fails) or exceeds the limits, or its artifacts cannot be fetched with the registered hashes.
    The evidence is public (the circuit in the task word, the inputs in ``BidCommitted``): anyone
    re-runs it (``bridge audit``, the watchtower)."""

    @property
    def label(self) -> str:
        """The lower-case name used in logs, metrics and the keeper's store."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> MarkReason:
        """The reason named ``label`` (e.g. ``"commitment_mismatch"``)."""
        try:
            return cls[label.upper()]
        except KeyError:
            raise SealedInputError("reason", f"unknown invalid-mark reason {label!r}") from None


# --------------------------------------------------------------------------------------------------
# Chaum–Pedersen DLEQ on secp256k1


def _point(raw: bytes, field: str) -> PublicKey:
    if len(raw) == 64:
        raw = b"\x04" + raw
    try:
        return PublicKey(raw)
    except ValueError:
        raise SealedInputError(field, "not a point on secp256k1") from None


def _mul(point: PublicKey, scalar: int) -> PublicKey | None:
    """``scalar·point``; ``None`` for the point at infinity."""
    scalar %= N
    return None if scalar == 0 else point.multiply(scalar.to_bytes(32, "big"))


def _base(scalar: int) -> PublicKey | None:
    scalar %= N
    return None if scalar == 0 else PublicKey.from_secret(scalar.to_bytes(32, "big"))


def _add(a: PublicKey | None, b: PublicKey | None) -> PublicKey | None:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return PublicKey.combine_keys([a, b])
    except ValueError:  # a == -b
        return None


def _u(p: PublicKey) -> bytes:
    return p.format(compressed=False)


def _challenge(k_pub: bytes, e: bytes, s: bytes, a1: bytes, a2: bytes) -> int:
    return int.from_bytes(keccak(G + k_pub + e + s + a1 + a2), "big") % N


def _rfc6979_nonce(secret: int, message: bytes) -> int:
    """RFC 6979 §3.2 with HMAC-SHA256 and qlen = 256 (so bits2int is the identity)."""
    x = secret.to_bytes(32, "big")
    h = (int.from_bytes(message, "big") % N).to_bytes(32, "big")
    v = b"\x01" * 32
    k = b"\x00" * 32
    k = hmac.digest(k, v + b"\x00" + x + h, "sha256")
    v = hmac.digest(k, v, "sha256")
    k = hmac.digest(k, v + b"\x01" + x + h, "sha256")
    v = hmac.digest(k, v, "sha256")
    while True:
        v = hmac.digest(k, v, "sha256")
        r = int.from_bytes(v, "big")
        if 0 < r < N:
            return r
        k = hmac.digest(k, v + b"\x00", "sha256")
        v = hmac.digest(k, v, "sha256")


def dleq_prove(private_key: bytes, ephemeral: bytes) -> tuple[bytes, int, int]:
    """``(S, c, z)``: the shared point ``k·E`` (65 bytes) and the proof that it uses the key of
    ``K = k·G``. Deterministic: the same key and point give the same proof."""
    k = int.from_bytes(sealed._secret(private_key), "big")
    e_point = _point(bytes(ephemeral), "ephemeral")
    e = _u(e_point)
    k_pub = _u(PublicKey.from_secret(k.to_bytes(32, "big")))
    s = e_point.multiply(k.to_bytes(32, "big"))
    s_raw = _u(s)
    r = _rfc6979_nonce(k, keccak(G + k_pub + e + s_raw))
    a1 = _u(PublicKey.from_secret(r.to_bytes(32, "big")))
    a2 = _u(e_point.multiply(r.to_bytes(32, "big")))
    c = _challenge(k_pub, e, s_raw, a1, a2)
    z = (r + c * k) % N
    return s_raw, c, z


def dleq_verify(keeper_key: bytes, ephemeral: bytes, shared: bytes, c: int, z: int) -> bool:
    """Whether ``(c, z)`` proves ``log_G(K) = log_E(S)``; points as 64 (x || y) or 65 bytes.

    Never raises for bad input: a malformed point or an out-of-range scalar is ``False``.
    """
    if not (0 <= c < N and 0 <= z < N):
        return False
    try:
        k_point = _point(bytes(keeper_key), "keeper_key")
        e_point = _point(bytes(ephemeral), "ephemeral")
        s_point = _point(bytes(shared), "shared")
    except SealedInputError:
        return False
    a1 = _add(_base(z), _mul(k_point, N - c))
    a2 = _add(_mul(e_point, z), _mul(s_point, N - c))
    if a1 is None or a2 is None:
        return False
    return c == _challenge(_u(k_point), _u(e_point), _u(s_point), _u(a1), _u(a2))


# --------------------------------------------------------------------------------------------------
# Evidence bytes


@dataclass(frozen=True, slots=True)
class Evidence:
    """One invalid mark's published evidence."""

    reason: MarkReason
    shared: bytes
    """``S`` as 64 bytes ``x || y`` (zero when the envelope has no valid ephemeral key)."""
    c: int
    z: int

    def encode(self) -> bytes:
        """The 129 bytes the settlement carries."""
        return encode_evidence(self)


def encode_evidence(ev: Evidence) -> bytes:
    """``reason || S || c || z`` (129 bytes)."""
    return (bytes([int(ev.reason)]) + ev.shared.rjust(64, b"\x00")[-64:]
            + ev.c.to_bytes(32, "big") + ev.z.to_bytes(32, "big"))


def decode_evidence(raw: bytes) -> Evidence:
    """Inverse of :func:`encode_evidence`; an unknown reason code raises ``SealedInputError``."""
    if len(raw) != EVIDENCE_SIZE:
        raise SealedInputError("evidence", f"expected {EVIDENCE_SIZE} bytes, got {len(raw)}")
    try:
        reason = MarkReason(raw[0])
    except ValueError:
        raise SealedInputError("evidence", f"unknown reason code {raw[0]}") from None
    return Evidence(reason, raw[1:65], int.from_bytes(raw[65:97], "big"),
                    int.from_bytes(raw[97:129], "big"))


def _ephemeral(ciphertext: bytes) -> bytes | None:
    head = ciphertext[: sealed.EPHEMERAL_KEY_SIZE]
    if len(head) < sealed.EPHEMERAL_KEY_SIZE or head[0] != 4:  # uncompressed form only
        return None
    try:
        return _u(PublicKey(head))
    except ValueError:
        return None


def make_evidence(private_key: bytes, ciphertext: bytes, reason: MarkReason) -> Evidence:
    """The keeper's evidence for marking the envelope ``ciphertext`` invalid for ``reason``."""
    e = _ephemeral(bytes(ciphertext))
    if e is None:
        return Evidence(reason, bytes(64), 0, 0)
    s, c, z = dleq_prove(private_key, e)
    return Evidence(reason, s[1:], c, z)


# --------------------------------------------------------------------------------------------------
# Checking a mark


@dataclass(frozen=True, slots=True)
class MarkCheck:
    """The verdict on one invalid mark."""

    ok: bool
    """True when the evidence is sound and the stated reason holds."""
    explanation: str
    opened: sealed.Opened | None = None
    """The envelope's content when it decrypts (what the evidence reveals)."""
    held: tuple[MarkReason, ...] = ()
    """Every reason that does make the order invalid (empty: the order is valid, or unknown)."""


@dataclass(frozen=True, slots=True)
class OrderContext:
    """The public facts about one sealed order a verifier needs."""

    chain_id: int
    market: str
    round: int
    participant: str
    side: sealed.Side
    commitment: bytes
    ciphertext: bytes
    mechanism: str
    escrow: int | None = None
    """Bids: the escrow locked with the order."""
    capacity: int | None = None
    """Asks: the declared capacity."""
    task_units: int | None = None
    """Bids of a circuit market: the units the task's circuit names (``None``: opaque task)."""
    free_units: int | None = None
    """Asks: units the prover's free collateral covered when the round settled (``None`` =
    unknown, then an :attr:`MarkReason.INSUFFICIENT_COLLATERAL` mark cannot be confirmed)."""
    provable: bool | None = None
    """Bids of a ``Groth16Registry`` market: whether the task's witness computes with the
    registered generator (``None`` = not run, then an :attr:`MarkReason.UNPROVABLE` mark cannot
    be confirmed)."""
    provable_detail: str = ""
    """What running the circuit gave (the generator's error, a limit, an unreachable URI)."""


def reasons_that_hold(ctx: OrderContext, opened: sealed.Opened | None,
                      decrypts: bool) -> list[MarkReason]:
    """Every reason that makes the order invalid, in the keeper's order of checks."""
    if not decrypts:
        return [MarkReason.UNDECRYPTABLE]
    if opened is None:
        return [MarkReason.MALFORMED_PLAINTEXT]
    held: list[MarkReason] = []
    computed = sealed.commitment(chain_id=ctx.chain_id, market=ctx.market, round=ctx.round,
                                 participant=ctx.participant, side=ctx.side, price=opened.price,
                                 quantity=opened.quantity, salt=opened.salt)
    if computed != ctx.commitment:
        held.append(MarkReason.COMMITMENT_MISMATCH)
    if opened.quantity == 0:
        held.append(MarkReason.ZERO_QUANTITY)
    proofphi = ctx.mechanism == "proofphi"
    if ctx.side is sealed.Side.BID:
        if ctx.escrow is not None and opened.price > ctx.escrow:
            held.append(MarkReason.VALUE_ABOVE_ESCROW)
        if proofphi and opened.quantity != 1:
            held.append(MarkReason.SIZE_NOT_ONE)
        if opened.quantity > MAX_PAGE_SIZE:
            held.append(MarkReason.SIZE_TOO_LARGE)
        if ctx.task_units is not None and not proofphi and opened.quantity != ctx.task_units:
            held.append(MarkReason.SIZE_NOT_TASK_UNITS)
        if ctx.provable is False:
            held.append(MarkReason.UNPROVABLE)
    else:
        if ctx.capacity is not None and opened.quantity > ctx.capacity:
            held.append(MarkReason.QUANTITY_ABOVE_CAPACITY)
        if opened.price > MAX_PAGE_AMOUNT:
            held.append(MarkReason.COST_TOO_LARGE)
        if proofphi and ctx.capacity is not None and opened.quantity != ctx.capacity:
            held.append(MarkReason.QUANTITY_NOT_CAPACITY)
        if ctx.free_units is not None and opened.quantity > ctx.free_units:
            held.append(MarkReason.INSUFFICIENT_COLLATERAL)
    return held


def check_mark(keeper_key: bytes, ctx: OrderContext, evidence: bytes | Evidence) -> MarkCheck:
    """Verify one invalid mark from public data: the proof, the decryption and the reason."""
    try:
        ev = evidence if isinstance(evidence, Evidence) else decode_evidence(bytes(evidence))
    except SealedInputError as exc:
        return MarkCheck(False, f"the evidence is malformed: {exc.detail}")
    e = _ephemeral(ctx.ciphertext)
    if e is None:
        if ev.shared != bytes(64) or ev.c or ev.z:
            return MarkCheck(False, "the envelope has no valid ephemeral key, so the shared "
                                    "point and proof must be zero")
        if ev.reason is MarkReason.UNDECRYPTABLE:
            return MarkCheck(True, "the envelope has no valid ephemeral key: undecryptable")
        return MarkCheck(False, f"marked {ev.reason.label}, but the envelope has no valid "
                                "ephemeral key (the reason would be undecryptable)")
    shared = b"\x04" + ev.shared[-64:]
    if not dleq_verify(keeper_key, e, shared, ev.c, ev.z):
        return MarkCheck(False, "the shared point's DLEQ proof does not verify against the "
                                "keeper's published key: the evidence is false")
    plaintext = sealed.decrypt_with_shared(e, shared, ctx.ciphertext)
    opened = None
    if plaintext is not None and len(plaintext) == sealed.PLAINTEXT_SIZE:
        opened = sealed.decode_plaintext(plaintext)
    held = reasons_that_hold(ctx, opened, plaintext is not None)
    if ev.reason in held:
        why = f" ({ctx.provable_detail})" if ev.reason is MarkReason.UNPROVABLE else ""
        return MarkCheck(True, f"{ev.reason.label} confirmed{why}", opened, tuple(held))
    if ev.reason is MarkReason.UNPROVABLE and ctx.side is sealed.Side.BID and not held \
            and ctx.task_units is not None and ctx.provable is None:
        return MarkCheck(False, "unprovable cannot be confirmed without running the task's "
                                "circuit (its registry, artifacts and inputs)", opened)
    if ev.reason is MarkReason.UNPROVABLE and ctx.provable and not held:
        return MarkCheck(False, "marked unprovable, but the task's witness computes with the "
                                "registered generator: the task is provable and the mark is "
                                "provably wrong", opened)
    if not held:
        if ctx.side is sealed.Side.ASK and ctx.free_units is None \
                and ev.reason is MarkReason.INSUFFICIENT_COLLATERAL:
            return MarkCheck(False, "insufficient_collateral cannot be confirmed without the "
                                    "prover's collateral at settlement", opened)
        return MarkCheck(False, f"marked {ev.reason.label}, but the order is valid (it opens to "
                                f"price {opened.price if opened else '?'}, quantity "
                                f"{opened.quantity if opened else '?'} and matches its "
                                "commitment): the mark is provably wrong", opened)
    return MarkCheck(False, f"marked {ev.reason.label}, which does not hold; the order is "
                            f"invalid for {', '.join(r.label for r in held)}", opened,
                     tuple(held))
