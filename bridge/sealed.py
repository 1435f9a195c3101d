"""Sealed bids: the commitment and envelope of docs/protocol.md, one module for both sides.

Clients (provers, requesters, a browser wallet) call :func:`new_salt`, :func:`commitment` and
:func:`seal`; the keeper calls :func:`open_bid` or :func:`open_many`, which never raise for
anything a bidder controls and return a :class:`ValidBid` or an :class:`InvalidBid` with its reason.

Commitment (checked by the contract, so it must match Solidity's ``abi.encode`` byte for byte)::

    keccak256(abi.encode(bytes32 keccak256("ProverMarket.Bid.v1"), uint256 chainId, address market,
                         uint256 round, address participant, uint8 side,
                         uint256 price, uint256 quantity, bytes32 salt))

``side`` is 0 for a requester's bid (price = total value, quantity = size) and 1 for a prover's ask
(price = cost per unit, quantity = units). Every field is static, so the encoding is nine 32-byte
big-endian words; it is built here directly (``eth_abi.encode`` costs ~75 µs, too slow for the
keeper) and tested against ``eth_abi`` and the vectors in ``tests/vectors/``.

Envelope: ECIES over secp256k1 exactly as ``eciespy`` 0.4.7 and ``eciesjs`` 0.5.0 do it with their
default configuration, which the two libraries share::

    ciphertext = ephemeral_pk (65, uncompressed) || nonce (16) || tag (16) || AES-256-GCM(plaintext)
    key        = HKDF-SHA256(ikm = ephemeral_pk (65) || shared_point (65, uncompressed),
                             salt = none (32 zero bytes), info = empty, length = 32)
    plaintext  = abi.encode(uint256 price, uint256 quantity, bytes32 salt)        (96 bytes)

so a sealed bid is 193 bytes. :func:`seal` encrypts with ``eciespy`` itself (with an explicit config
object, not the library's mutable global); opening uses the same format implemented directly on
``coincurve`` (ECDH), ``hmac`` (HKDF) and AES-GCM from ``cryptography`` when it is installed
(~3 µs) or else ``pycryptodome`` (~150 µs, mostly Python overhead), and is tested byte-compatible
with ``eciespy`` and ``eciesjs``. Numbers are in ``bench/sealed.py``; for a large round, open on a
process pool (:func:`open_pool`).
"""

from __future__ import annotations

import hmac
import multiprocessing
import secrets
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import Final, TypeAlias

from coincurve import PublicKey
from Crypto.Cipher import AES
from ecies import encrypt as _ecies_encrypt
from ecies.config import Config as _EciesConfig
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from bridge.errors import SealedError, SealedInputError

__all__ = [
    "AES_BACKEND",
    "CIPHERTEXT_SIZE",
    "COMMITMENT_TAG",
    "PLAINTEXT_SIZE",
    "Envelope",
    "InvalidBid",
    "InvalidReason",
    "KeyPair",
    "Opened",
    "Side",
    "ValidBid",
    "commitment",
    "decode_plaintext",
    "decrypt_with_shared",
    "encode_plaintext",
    "generate_keypair",
    "new_salt",
    "open_bid",
    "open_many",
    "open_pool",
    "public_key_bytes64",
    "seal",
    "unseal",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview
KeyLike: TypeAlias = bytes | bytearray | memoryview | str
AddressLike: TypeAlias = str | bytes | bytearray | memoryview

COMMITMENT_TAG: Final[bytes] = keccak(b"ProverMarket.Bid.v1")
"""First word of every commitment: ``keccak256("ProverMarket.Bid.v1")`` (domain and version)."""

_UINT256_LIMIT: Final = 1 << 256
_SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ADDRESS_PAD: Final = bytes(12)

EPHEMERAL_KEY_SIZE: Final = 65
NONCE_SIZE: Final = 16
TAG_SIZE: Final = 16
PLAINTEXT_SIZE: Final = 96
"""``abi.encode(uint256 price, uint256 quantity, bytes32 salt)``."""
CIPHERTEXT_SIZE: Final = EPHEMERAL_KEY_SIZE + NONCE_SIZE + TAG_SIZE + PLAINTEXT_SIZE
"""193: the length of every envelope :func:`seal` produces."""
_HEADER: Final = EPHEMERAL_KEY_SIZE + NONCE_SIZE + TAG_SIZE
_HKDF_SALT: Final = bytes(32)  # RFC 5869: no salt means HashLen zero bytes (as eciespy, eciesjs)


class Side(IntEnum):
    """Which side of the market a sealed order is on (the ``uint8 side`` of the commitment)."""

    BID = 0
    """A requester: ``price`` is the total value, ``quantity`` the job size in units."""
    ASK = 1
    """A prover: ``price`` is the cost per unit, ``quantity`` the units offered."""


class InvalidReason(StrEnum):
    """Why the keeper settles a sealed order as invalid (excluded from clearing, escrow freed)."""

    UNDECRYPTABLE = "undecryptable"
    """The ciphertext is not an ECIES envelope to the keeper's key (wrong key, cut, tampered)."""
    MALFORMED_PLAINTEXT = "malformed_plaintext"
    """It decrypts, but not to the 96-byte ``abi.encode(uint256, uint256, bytes32)``."""
    COMMITMENT_MISMATCH = "commitment_mismatch"
    """The opened values do not hash to the posted commitment under this chain, market, round and
    participant: a commitment or ciphertext copied from someone else, or made for another round."""
    VALUE_ABOVE_ESCROW = "value_above_escrow"
    """A bid whose sealed value exceeds the escrow it locked."""
    QUANTITY_ABOVE_CAPACITY = "quantity_above_capacity"
    """An ask whose sealed units exceed the prover's declared capacity."""
    ZERO_QUANTITY = "zero_quantity"
    """A bid of size 0 or an ask of 0 units."""


@dataclass(frozen=True, slots=True)
class Opened:
    """The decrypted content of an envelope."""

    price: int
    quantity: int
    salt: bytes


@dataclass(frozen=True, slots=True)
class ValidBid:
    """A sealed order that opened and matched its commitment: what the keeper clears and reveals."""

    side: Side
    price: int
    """Bid: total value. Ask: cost per unit."""
    quantity: int
    """Bid: size. Ask: units offered."""
    salt: bytes
    commitment: bytes

    @property
    def ok(self) -> bool:
        """Always ``True`` (``InvalidBid.ok`` is ``False``)."""
        return True


@dataclass(frozen=True, slots=True)
class InvalidBid:
    """A sealed order the keeper must settle as invalid, with the reason and a human explanation."""

    reason: InvalidReason
    detail: str

    @property
    def ok(self) -> bool:
        """Always ``False``."""
        return False


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A keeper key pair: ``public_key`` is the 64-byte ``x || y`` the contract stores."""

    private_key: bytes
    public_key: bytes

    def __repr__(self) -> str:
        return f"KeyPair(private_key=<hidden>, public_key=0x{self.public_key.hex()})"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One sealed order as read from the chain, for :func:`open_many`."""

    participant: AddressLike
    side: Side
    commitment: bytes
    ciphertext: bytes
    escrow: int | None = None
    """Bids only: the escrow locked with it; a sealed value above it is invalid."""
    capacity: int | None = None
    """Asks only: the prover's declared capacity; sealed units above it are invalid."""


Result: TypeAlias = ValidBid | InvalidBid
_Item: TypeAlias = tuple[bytes, bytes, bytes, Side, int | None, int | None]
"""One order after validation: ciphertext, commitment, participant, side, escrow, capacity."""


# --------------------------------------------------------------------------------------------------
# Input validation (raises SealedInputError naming the field)


def _raw(value: object, field: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise SealedInputError(field, f"not valid hex: {value[:20]!r}") from None
    raise SealedInputError(field, f"expected bytes or a hex string, got {type(value).__name__}")


def _uint(value: object, field: str, bits: int = 256) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SealedInputError(field, f"expected an integer, got {type(value).__name__}")
    if value < 0 or value >> bits:
        raise SealedInputError(field, f"must be in [0, 2**{bits}), got {value}")
    return int(value)


def _optional_uint(value: object, field: str) -> int | None:
    return None if value is None else _uint(value, field)


def _side(value: object) -> Side:
    if isinstance(value, Side):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return Side(value)
    raise SealedInputError("side", f"expected Side.BID (0) or Side.ASK (1), got {value!r}")


def _salt(value: object) -> bytes:
    raw = _raw(value, "salt")
    if len(raw) != 32:
        raise SealedInputError("salt", f"must be 32 bytes (use new_salt()), got {len(raw)}")
    return raw


@lru_cache(maxsize=65536)
def _address_from_str(value: str, field: str) -> bytes:
    body = value[2:]
    if len(value) != 42 or value[:2] not in ("0x", "0X"):
        raise SealedInputError(field, f"expected 0x and 40 hex digits, got {value[:50]!r}")
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise SealedInputError(field, f"not valid hex: {value!r}") from None
    if len(raw) != 20:
        raise SealedInputError(field, f"expected 0x and 40 hex digits, got {value!r}")
    if body not in (body.lower(), body.upper()) and to_checksum_address(value) != value:
        raise SealedInputError(field, f"{value} fails its EIP-55 checksum; check it for a typo")
    return raw


def _address(value: object, field: str) -> bytes:
    if isinstance(value, str):
        return _address_from_str(value, field)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) != 20:
            raise SealedInputError(field, f"expected 20 bytes, got {len(raw)}")
        return raw
    raise SealedInputError(field, f"expected an address, got {type(value).__name__}")


def _secret(private_key: object) -> bytes:
    raw = _raw(private_key, "private_key")
    if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < _SECP256K1_ORDER:
        raise SealedInputError("private_key", "expected a 32-byte secp256k1 secret key")
    return raw


def _public_key(public_key: object) -> PublicKey:
    raw = _raw(public_key, "public_key")
    if len(raw) == 64:
        raw = b"\x04" + raw
    if len(raw) not in (33, 65):
        raise SealedInputError(
            "public_key",
            f"expected 64 bytes (x || y, as the contract stores it), 65 (uncompressed) "
            f"or 33 (compressed), got {len(raw)}",
        )
    try:
        return PublicKey(raw)
    except ValueError:
        raise SealedInputError("public_key", "not a point on secp256k1") from None


def _context_prefix(chain_id: object, market: object, round: object) -> bytes:
    """The first four commitment words, shared by every order of a round."""
    return (
        COMMITMENT_TAG
        + _uint(chain_id, "chain_id").to_bytes(32, "big")
        + _ADDRESS_PAD
        + _address(market, "market")
        + _uint(round, "round").to_bytes(32, "big")
    )


# --------------------------------------------------------------------------------------------------
# Commitment and plaintext


def _commit(prefix: bytes, participant: bytes, side: int, price: int, quantity: int,
            salt: bytes) -> bytes:
    return keccak(
        prefix
        + _ADDRESS_PAD
        + participant
        + side.to_bytes(32, "big")
        + price.to_bytes(32, "big")
        + quantity.to_bytes(32, "big")
        + salt
    )


def commitment(
    *,
    chain_id: int,
    market: AddressLike,
    round: int,
    participant: AddressLike,
    side: Side | int,
    price: int,
    quantity: int,
    salt: KeyLike,
) -> bytes:
    """The 32-byte commitment (docs/protocol.md) that a participant posts for a sealed order.

    ``market`` and ``participant`` are 0x-hex addresses (EIP-55 checksum verified when mixed-case)
    or 20 bytes; ``salt`` is 32 bytes (or their hex). Raises :class:`SealedInputError` naming the
    first malformed field.
    """
    prefix = _context_prefix(chain_id, market, round)
    return _commit(
        prefix,
        _address(participant, "participant"),
        _side(side),
        _uint(price, "price"),
        _uint(quantity, "quantity"),
        _salt(salt),
    )


def encode_plaintext(*, price: int, quantity: int, salt: KeyLike) -> bytes:
    """``abi.encode(uint256 price, uint256 quantity, bytes32 salt)``: what an envelope carries."""
    return (
        _uint(price, "price").to_bytes(32, "big")
        + _uint(quantity, "quantity").to_bytes(32, "big")
        + _salt(salt)
    )


def _decode(plaintext: bytes) -> Opened | None:
    if len(plaintext) != PLAINTEXT_SIZE:
        return None
    return Opened(
        price=int.from_bytes(plaintext[:32], "big"),
        quantity=int.from_bytes(plaintext[32:64], "big"),
        salt=plaintext[64:],
    )


def decode_plaintext(plaintext: BytesLike) -> Opened:
    """Inverse of :func:`encode_plaintext`; anything but exactly 96 bytes is malformed."""
    opened = _decode(bytes(plaintext))
    if opened is None:
        raise SealedError(
            InvalidReason.MALFORMED_PLAINTEXT,
            f"expected {PLAINTEXT_SIZE} bytes abi.encode(uint256, uint256, bytes32), "
            f"got {len(plaintext)}",
        )
    return opened


def new_salt() -> bytes:
    """32 fresh random bytes from :mod:`secrets`; keep them until the round settles."""
    return secrets.token_bytes(32)


# --------------------------------------------------------------------------------------------------
# Keys and the envelope


def generate_keypair() -> KeyPair:
    """A fresh keeper key pair (the public half in the contract's 64-byte form)."""
    while True:
        secret = secrets.token_bytes(32)
        if 0 < int.from_bytes(secret, "big") < _SECP256K1_ORDER:
            return KeyPair(private_key=secret, public_key=public_key_bytes64(secret))


def public_key_bytes64(private_key: KeyLike) -> bytes:
    """The 64-byte ``x || y`` public key the market contract stores for the keeper."""
    return PublicKey.from_secret(_secret(private_key)).format(compressed=False)[1:]


def _ecies_config() -> _EciesConfig:
    # A fresh object each time: eciespy's ECIES_CONFIG is a mutable module-level global.
    return _EciesConfig(
        elliptic_curve="secp256k1",
        is_ephemeral_key_compressed=False,
        is_hkdf_key_compressed=False,
        symmetric_algorithm="aes-256-gcm",
        symmetric_nonce_length=16,
    )


def seal(public_key: KeyLike, *, price: int, quantity: int, salt: KeyLike) -> bytes:
    """Encrypt ``(price, quantity, salt)`` to the keeper's public key; returns 193 bytes.

    ``public_key`` is 64 bytes ``x || y`` (as read from the contract), 65 bytes uncompressed,
    33 bytes compressed, or the hex of any of them.
    """
    receiver = _public_key(public_key).format(compressed=False)
    plaintext = encode_plaintext(price=price, quantity=quantity, salt=salt)
    return _ecies_encrypt(receiver, plaintext, config=_ecies_config())


def _decrypt(secret: bytes, data: bytes) -> bytes | None:
    """ECIES decryption in eciespy's default format; ``None`` when it does not decrypt."""
    if len(data) < _HEADER or data[0] != 4:  # uncompressed only (eciesjs refuses 0x06/0x07)
        return None
    try:
        ephemeral = PublicKey(data[:EPHEMERAL_KEY_SIZE])
        shared = ephemeral.multiply(secret)
    except ValueError:
        return None
    return decrypt_with_shared(ephemeral.format(False), shared.format(False), data)


def decrypt_with_shared(ephemeral: bytes, shared: bytes, data: bytes) -> bytes | None:
    """Decrypt an envelope given its ECDH shared point instead of the keeper's key.

    ``ephemeral`` and ``shared`` are 65-byte uncompressed points (``shared = k·E``); this is how
    anyone opens one envelope from the keeper's published evidence (:mod:`bridge.evidence`).
    ``None`` when the envelope does not decrypt (too short, or the AES-GCM tag fails).
    """
    if len(data) < _HEADER:
        return None
    # HKDF-SHA256 (RFC 5869) with one output block: extract, then expand with empty info.
    prk = hmac.digest(_HKDF_SALT, ephemeral + shared, "sha256")
    key = hmac.digest(prk, b"\x01", "sha256")
    nonce = data[EPHEMERAL_KEY_SIZE : EPHEMERAL_KEY_SIZE + NONCE_SIZE]
    tag = data[EPHEMERAL_KEY_SIZE + NONCE_SIZE : _HEADER]
    return _gcm_open(key, nonce, tag, data[_HEADER:])


def _gcm_open_pycryptodome(key: bytes, nonce: bytes, tag: bytes, body: bytes) -> bytes | None:
    """AES-256-GCM decryption and tag check with pycryptodome (~150 µs, mostly Python overhead)."""
    try:
        plaintext: bytes = AES.new(key, AES.MODE_GCM, nonce=nonce).decrypt_and_verify(body, tag)
    except ValueError:
        return None
    return plaintext


def _pick_gcm() -> tuple[str, Callable[[bytes, bytes, bytes, bytes], bytes | None]]:
    try:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        return "pycryptodome", _gcm_open_pycryptodome

    def _gcm_open_cryptography(key: bytes, nonce: bytes, tag: bytes, body: bytes) -> bytes | None:
        """The same with ``cryptography`` (OpenSSL, ~3 µs)."""
        try:
            plaintext: bytes = AESGCM(key).decrypt(nonce, body + tag, None)
        except InvalidTag:
            return None
        return plaintext

    return "cryptography", _gcm_open_cryptography


AES_BACKEND, _gcm_open = _pick_gcm()
"""Which library opens AES-GCM: ``cryptography`` when installed (50x faster), else pycryptodome."""


def unseal(private_key: KeyLike, ciphertext: BytesLike) -> Opened:
    """Decrypt an envelope with the keeper's key.

    Raises :class:`SealedError` with ``reason`` :attr:`InvalidReason.UNDECRYPTABLE` or
    :attr:`InvalidReason.MALFORMED_PLAINTEXT`, and :class:`SealedInputError` for a bad key.
    """
    secret = _secret(private_key)
    plaintext = _decrypt(secret, bytes(ciphertext))
    if plaintext is None:
        raise SealedError(InvalidReason.UNDECRYPTABLE, _undecryptable_detail(len(ciphertext)))
    return decode_plaintext(plaintext)


def _undecryptable_detail(length: int) -> str:
    if length < _HEADER:
        return f"{length} bytes is shorter than an ECIES envelope's {_HEADER}-byte header"
    return "not an ECIES envelope to the keeper's key (wrong key, tampered or truncated)"


# --------------------------------------------------------------------------------------------------
# Keeper side: open and verify, never raising for what a bidder controls


def _open(
    secret: bytes,
    prefix: bytes,
    ciphertext: bytes,
    posted: bytes,
    participant: bytes,
    side: Side,
    escrow: int | None,
    capacity: int | None,
) -> Result:
    plaintext = _decrypt(secret, ciphertext)
    if plaintext is None:
        return InvalidBid(InvalidReason.UNDECRYPTABLE, _undecryptable_detail(len(ciphertext)))
    opened = _decode(plaintext)
    if opened is None:
        return InvalidBid(
            InvalidReason.MALFORMED_PLAINTEXT,
            f"decrypts to {len(plaintext)} bytes, not the {PLAINTEXT_SIZE}-byte "
            "abi.encode(uint256 price, uint256 quantity, bytes32 salt)",
        )
    computed = _commit(prefix, participant, side, opened.price, opened.quantity, opened.salt)
    if computed != posted:
        chain_id = int.from_bytes(prefix[32:64], "big")
        market = to_checksum_address(prefix[76:96])
        round_ = int.from_bytes(prefix[96:128], "big")
        return InvalidBid(
            InvalidReason.COMMITMENT_MISMATCH,
            f"the opened {side.name.lower()} does not hash to the commitment posted by "
            f"{to_checksum_address(participant)} for round {round_} of market {market} on chain "
            f"{chain_id}: a commitment or ciphertext copied from another participant, round, "
            "market or chain, or a commitment computed wrongly",
        )
    if opened.quantity == 0:
        what = "size" if side is Side.BID else "units"
        return InvalidBid(InvalidReason.ZERO_QUANTITY, f"sealed {what} is 0")
    if escrow is not None and opened.price > escrow:
        return InvalidBid(
            InvalidReason.VALUE_ABOVE_ESCROW,
            f"sealed value {opened.price} exceeds the escrow {escrow} locked with the bid",
        )
    if capacity is not None and opened.quantity > capacity:
        return InvalidBid(
            InvalidReason.QUANTITY_ABOVE_CAPACITY,
            f"sealed units {opened.quantity} exceed the prover's capacity {capacity}",
        )
    return ValidBid(side, opened.price, opened.quantity, opened.salt, posted)


def _prepare(
    participant: object,
    side: object,
    commitment_: object,
    ciphertext: object,
    escrow: object,
    capacity: object,
) -> _Item:
    """Validate the keeper-side fields of one order; bidder-controlled bytes pass through."""
    side_ = _side(side)
    escrow_ = _optional_uint(escrow, "escrow")
    capacity_ = _optional_uint(capacity, "capacity")
    if escrow_ is not None and side_ is not Side.BID:
        raise SealedInputError("escrow", "applies to bids (Side.BID) only; asks take capacity")
    if capacity_ is not None and side_ is not Side.ASK:
        raise SealedInputError("capacity", "applies to asks (Side.ASK) only; bids take escrow")
    if not isinstance(ciphertext, bytes | bytearray | memoryview):
        raise SealedInputError("ciphertext", f"expected bytes, got {type(ciphertext).__name__}")
    if not isinstance(commitment_, bytes | bytearray | memoryview):
        raise SealedInputError("commitment", f"expected bytes, got {type(commitment_).__name__}")
    return (
        bytes(ciphertext),
        bytes(commitment_),
        _address(participant, "participant"),
        side_,
        escrow_,
        capacity_,
    )


def open_bid(
    private_key: KeyLike,
    *,
    ciphertext: BytesLike,
    commitment: BytesLike,
    chain_id: int,
    market: AddressLike,
    round: int,
    participant: AddressLike,
    side: Side | int,
    escrow: int | None = None,
    capacity: int | None = None,
) -> ValidBid | InvalidBid:
    """Open one sealed order and check it against its commitment and the public bounds.

    Never raises for anything the bidder controls: any ``ciphertext`` and ``commitment`` bytes give
    a :class:`ValidBid` or an :class:`InvalidBid`. The keeper's own inputs (key, chain id, market,
    round, participant address as read from the event, side, escrow, capacity) are validated and a
    malformed one raises :class:`SealedInputError`, since that is a bug to fix, not a bad bid.
    ``escrow`` applies to bids, ``capacity`` to asks; checks run in the order of
    :class:`InvalidReason` (a mismatch is reported before a zero quantity or a bound).
    """
    secret = _secret(private_key)
    prefix = _context_prefix(chain_id, market, round)
    item = _prepare(participant, side, commitment, ciphertext, escrow, capacity)
    ciphertext_, posted, participant_, side_, escrow_, capacity_ = item
    return _open(secret, prefix, ciphertext_, posted, participant_, side_, escrow_, capacity_)


def _open_chunk(secret: bytes, prefix: bytes, items: Sequence[_Item]) -> list[Result]:
    return [_open(secret, prefix, *item) for item in items]


def _warm_up() -> None:
    """Pool initializer: importing this module is the warm-up."""


def open_pool(workers: int = 2) -> ProcessPoolExecutor:
    """A process pool for :func:`open_many`, started (``spawn``, safe next to threads) and warmed.

    Keep it for the keeper's lifetime; starting one costs a few hundred milliseconds.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_warm_up,
    )
    for future in [pool.submit(_warm_up) for _ in range(workers)]:
        future.result()
    return pool


def open_many(
    private_key: KeyLike,
    envelopes: Iterable[Envelope],
    *,
    chain_id: int,
    market: AddressLike,
    round: int,
    executor: Executor | None = None,
    chunks: int = 8,
) -> list[ValidBid | InvalidBid]:
    """:func:`open_bid` for every order of one round, in order, optionally on a process pool.

    Inputs are validated here first (so a malformed keeper input raises before any work is sent),
    then opened inline, or split into ``chunks`` pieces on ``executor`` (see :func:`open_pool`).
    """
    secret = _secret(private_key)
    prefix = _context_prefix(chain_id, market, round)
    items = [
        _prepare(e.participant, e.side, e.commitment, e.ciphertext, e.escrow, e.capacity)
        for e in envelopes
    ]
    if executor is None or len(items) < 2 * chunks:
        return _open_chunk(secret, prefix, items)
    step = -(-len(items) // chunks)
    futures = [
        executor.submit(_open_chunk, secret, prefix, items[i : i + step])
        for i in range(0, len(items), step)
    ]
    results: list[Result] = []
    for future in futures:
        results.extend(future.result())
    return results
