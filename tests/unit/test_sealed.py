"""Unit tests for ``bridge.sealed``: commitments, the envelope, and the keeper's bid opening."""

from __future__ import annotations

import os
import pickle

import ecies
import pytest
from coincurve import PrivateKey, PublicKey
from ecies.utils import derive_key
from eth_abi import encode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import sealed
from bridge.errors import InvalidInput, SealedError, SealedInputError
from bridge.sealed import Envelope, InvalidBid, InvalidReason, Side, ValidBid

MAX = 2**256 - 1
KEEPER = sealed.generate_keypair()
OTHER_KEEPER = sealed.generate_keypair()
MARKET = to_checksum_address(keccak(b"market")[12:])
OTHER_MARKET = to_checksum_address(keccak(b"other market")[12:])
ALICE = to_checksum_address(keccak(b"alice")[12:])
BOB = to_checksum_address(keccak(b"bob")[12:])
CHAIN = 31337
ROUND = 7
SALT = keccak(b"salt")
TYPES = ["bytes32", "uint256", "address", "uint256", "address", "uint8", "uint256", "uint256",
         "bytes32"]

addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
uints = st.integers(min_value=0, max_value=MAX)
salts = st.binary(min_size=32, max_size=32)


def reference_commitment(chain_id: int, market: str, round_: int, participant: str, side: int,
                         price: int, quantity: int, salt: bytes) -> bytes:
    """The commitment of docs/protocol.md with eth_abi, independent of the module's encoding."""
    return keccak(encode(TYPES, [keccak(b"ProverMarket.Bid.v1"), chain_id, market, round_,
                                 participant, side, price, quantity, salt]))


def make_order(*, participant: str = ALICE, side: Side = Side.BID, price: int = 10**18,
               quantity: int = 2, salt: bytes = SALT, round_: int = ROUND,
               market: str = MARKET, chain_id: int = CHAIN,
               public_key: bytes = KEEPER.public_key) -> tuple[bytes, bytes]:
    """What an honest participant posts: (commitment, ciphertext)."""
    posted = sealed.commitment(chain_id=chain_id, market=market, round=round_,
                               participant=participant, side=side, price=price,
                               quantity=quantity, salt=salt)
    return posted, sealed.seal(public_key, price=price, quantity=quantity, salt=salt)


def open_as_keeper(posted: bytes, ciphertext: bytes, *, participant: str = ALICE,
                   side: Side = Side.BID, escrow: int | None = None,
                   capacity: int | None = None) -> ValidBid | InvalidBid:
    return sealed.open_bid(KEEPER.private_key, ciphertext=ciphertext, commitment=posted,
                           chain_id=CHAIN, market=MARKET, round=ROUND, participant=participant,
                           side=side, escrow=escrow, capacity=capacity)


# --- commitment ---------------------------------------------------------------------------------


@settings(max_examples=200)
@given(chain_id=uints, market=addresses, round_=uints, participant=addresses,
       side=st.sampled_from([0, 1]), price=uints, quantity=uints, salt=salts)
def test_commitment_equals_abi_encode_reference(chain_id: int, market: str, round_: int,
                                                participant: str, side: int, price: int,
                                                quantity: int, salt: bytes) -> None:
    got = sealed.commitment(chain_id=chain_id, market=market, round=round_,
                            participant=participant, side=Side(side), price=price,
                            quantity=quantity, salt=salt)
    assert got == reference_commitment(chain_id, market, round_, participant, side, price,
                                       quantity, salt)


def test_commitment_tag_is_keccak_of_domain_string() -> None:
    assert keccak(b"ProverMarket.Bid.v1") == sealed.COMMITMENT_TAG


def test_commitment_accepts_equivalent_input_forms() -> None:
    base = sealed.commitment(chain_id=1, market=MARKET, round=2, participant=ALICE,
                             side=Side.ASK, price=3, quantity=4, salt=SALT)
    assert base == sealed.commitment(chain_id=1, market=MARKET.lower(), round=2,
                                     participant=bytes.fromhex(ALICE[2:]), side=1, price=3,
                                     quantity=4, salt="0x" + SALT.hex())


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("market", {"market": "0x1234"}),
        ("market", {"market": "0x" + MARKET[2:].swapcase()}),
        ("participant", {"participant": b"\x01" * 19}),
        ("participant", {"participant": "0x" + ALICE[2:-1] + "g"}),
        ("participant", {"participant": 5}),
        ("chain_id", {"chain_id": -1}),
        ("round", {"round": 2**256}),
        ("round", {"round": True}),
        ("price", {"price": 1.5}),
        ("quantity", {"quantity": -3}),
        ("side", {"side": 2}),
        ("side", {"side": True}),
        ("salt", {"salt": b"\x00" * 31}),
        ("salt", {"salt": "0xzz"}),
    ],
)
def test_commitment_rejects_malformed_input_naming_the_field(field: str,
                                                             change: dict[str, object]) -> None:
    args: dict[str, object] = {"chain_id": 1, "market": MARKET, "round": 2, "participant": ALICE,
                               "side": Side.BID, "price": 3, "quantity": 4, "salt": SALT}
    args.update(change)
    with pytest.raises(SealedInputError) as caught:
        sealed.commitment(**args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert isinstance(caught.value, InvalidInput)


def test_sealed_input_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(SealedInputError("salt", "must be 32 bytes")))
    assert (error.field, error.detail) == ("salt", "must be 32 bytes")


# --- plaintext and envelope ---------------------------------------------------------------------


@given(price=uints, quantity=uints, salt=salts)
def test_plaintext_is_abi_encode_and_round_trips(price: int, quantity: int, salt: bytes) -> None:
    encoded = sealed.encode_plaintext(price=price, quantity=quantity, salt=salt)
    assert encoded == encode(["uint256", "uint256", "bytes32"], [price, quantity, salt])
    assert sealed.decode_plaintext(encoded) == sealed.Opened(price, quantity, salt)


@pytest.mark.parametrize("form", ["bytes64", "bytes65", "bytes33", "hex64", "hex65-0x", "hex33"])
def test_seal_unseal_round_trip_for_every_public_key_form(form: str) -> None:
    point = PublicKey.from_secret(KEEPER.private_key)
    key: bytes | str = {
        "bytes64": KEEPER.public_key,
        "bytes65": point.format(False),
        "bytes33": point.format(True),
        "hex64": KEEPER.public_key.hex(),
        "hex65-0x": "0x" + point.format(False).hex(),
        "hex33": point.format(True).hex(),
    }[form]
    ciphertext = sealed.seal(key, price=MAX, quantity=1, salt=SALT)
    assert len(ciphertext) == sealed.CIPHERTEXT_SIZE
    assert sealed.unseal(KEEPER.private_key, ciphertext) == sealed.Opened(MAX, 1, SALT)
    assert sealed.unseal("0x" + KEEPER.private_key.hex(), ciphertext).price == MAX


def test_seal_is_randomised() -> None:
    first = sealed.seal(KEEPER.public_key, price=1, quantity=1, salt=SALT)
    assert first != sealed.seal(KEEPER.public_key, price=1, quantity=1, salt=SALT)


@pytest.mark.parametrize("key", [b"\x04" * 64, b"\x02" + b"\xff" * 32, b"\x01" * 10, "0xnothex"])
def test_seal_rejects_a_bad_public_key(key: bytes | str) -> None:
    with pytest.raises(SealedInputError) as caught:
        sealed.seal(key, price=1, quantity=1, salt=SALT)
    assert caught.value.field == "public_key"


def test_unseal_rejects_a_bad_private_key() -> None:
    for key in (b"\x00" * 32, b"\xff" * 32, b"\x01" * 31):
        with pytest.raises(SealedInputError) as caught:
            sealed.unseal(key, b"")
        assert caught.value.field == "private_key"


def test_envelope_is_eciespy_default_format_both_ways() -> None:
    plaintext = sealed.encode_plaintext(price=5, quantity=6, salt=SALT)
    ours = sealed.seal(KEEPER.public_key, price=5, quantity=6, salt=SALT)
    assert ecies.decrypt(KEEPER.private_key, ours) == plaintext
    theirs = ecies.encrypt(KEEPER.public_key, plaintext)
    assert sealed.unseal(KEEPER.private_key, theirs) == sealed.Opened(5, 6, SALT)


def test_key_derivation_matches_eciespy_hkdf() -> None:
    ephemeral = PrivateKey()
    shared = PublicKey.from_secret(KEEPER.private_key).multiply(ephemeral.secret)
    master = ephemeral.public_key.format(False) + shared.format(False)
    plaintext = os.urandom(96)
    from Crypto.Cipher import AES

    nonce = os.urandom(16)
    body, tag = AES.new(derive_key(master), AES.MODE_GCM, nonce=nonce).encrypt_and_digest(
        plaintext)
    envelope = ephemeral.public_key.format(False) + nonce + tag + body
    assert sealed.unseal(KEEPER.private_key, envelope) == sealed.decode_plaintext(plaintext)


def test_unseal_reports_undecryptable_and_malformed() -> None:
    ciphertext = sealed.seal(KEEPER.public_key, price=1, quantity=1, salt=SALT)
    flipped = ciphertext[:100] + bytes([ciphertext[100] ^ 1]) + ciphertext[101:]
    for bad in (b"", ciphertext[:96], ciphertext[:-1], flipped):
        with pytest.raises(SealedError) as caught:
            sealed.unseal(KEEPER.private_key, bad)
        assert caught.value.reason is InvalidReason.UNDECRYPTABLE
    with pytest.raises(SealedError) as caught:
        sealed.unseal(OTHER_KEEPER.private_key, ciphertext)
    assert caught.value.reason is InvalidReason.UNDECRYPTABLE
    for size in (0, 95, 97, 128):
        with pytest.raises(SealedError) as caught:
            sealed.unseal(KEEPER.private_key, ecies.encrypt(KEEPER.public_key, bytes(size)))
        assert caught.value.reason is InvalidReason.MALFORMED_PLAINTEXT


def test_keys_helpers() -> None:
    pair = sealed.generate_keypair()
    assert len(pair.private_key) == 32 and len(pair.public_key) == 64
    assert sealed.public_key_bytes64(pair.private_key) == pair.public_key
    assert PublicKey(b"\x04" + pair.public_key) == PrivateKey(pair.private_key).public_key
    assert pair.private_key.hex() not in repr(pair)
    assert len(sealed.new_salt()) == 32 and sealed.new_salt() != sealed.new_salt()


@pytest.mark.skipif(sealed.AES_BACKEND != "cryptography", reason="`cryptography` not installed")
def test_both_aes_gcm_backends_agree() -> None:
    ciphertext = sealed.seal(KEEPER.public_key, price=1, quantity=2, salt=SALT)
    key = os.urandom(32)
    for nonce, tag, body in [(ciphertext[65:81], ciphertext[81:97], ciphertext[97:]),
                             (key[:16], key[16:], b"")]:
        assert sealed._gcm_open(key, nonce, tag, body) == sealed._gcm_open_pycryptodome(
            key, nonce, tag, body)


# --- open_bid: every outcome --------------------------------------------------------------------


def test_open_bid_accepts_an_honest_bid_and_ask() -> None:
    posted, ciphertext = make_order(price=10**18, quantity=2)
    result = open_as_keeper(posted, ciphertext, escrow=10**18)
    assert result == ValidBid(Side.BID, 10**18, 2, SALT, posted)
    assert result.ok
    posted, ciphertext = make_order(participant=BOB, side=Side.ASK, price=5, quantity=4)
    result = open_as_keeper(posted, ciphertext, participant=BOB, side=Side.ASK, capacity=4)
    assert result == ValidBid(Side.ASK, 5, 4, SALT, posted)


def reason_of(result: ValidBid | InvalidBid) -> InvalidReason:
    assert isinstance(result, InvalidBid), result
    assert result.detail and not result.ok
    return result.reason


def test_open_bid_undecryptable() -> None:
    posted, ciphertext = make_order()
    other = make_order(public_key=OTHER_KEEPER.public_key)[1]
    for bad in (b"", ciphertext[:50], ciphertext[:-1], ciphertext + b"\x00", other,
                b"\x05" + ciphertext[1:]):
        assert reason_of(open_as_keeper(posted, bad)) is InvalidReason.UNDECRYPTABLE


def test_open_bid_malformed_plaintext() -> None:
    posted, _ = make_order()
    for size in (0, 64, 95, 97, 192):
        ciphertext = ecies.encrypt(KEEPER.public_key, bytes(size))
        assert reason_of(open_as_keeper(posted, ciphertext)) is InvalidReason.MALFORMED_PLAINTEXT


@pytest.mark.parametrize(
    "change",
    [{"round_": ROUND + 1}, {"round_": ROUND - 1}, {"market": OTHER_MARKET}, {"chain_id": 1},
     {"participant": BOB}, {"side": Side.ASK}, {"salt": keccak(b"other salt")}],
)
def test_open_bid_commitment_for_another_context_is_a_mismatch(change: dict[str, object]) -> None:
    posted = make_order(**change)[0]  # type: ignore[arg-type]
    ciphertext = make_order()[1]
    result = open_as_keeper(posted, ciphertext)
    assert reason_of(result) is InvalidReason.COMMITMENT_MISMATCH
    assert isinstance(result, InvalidBid)
    assert f"round {ROUND}" in result.detail and ALICE in result.detail


def test_copying_another_participants_commitment_and_ciphertext_is_a_mismatch() -> None:
    alice_posted, alice_ciphertext = make_order(participant=ALICE, price=9 * 10**17)
    assert open_as_keeper(alice_posted, alice_ciphertext, participant=ALICE).ok
    copied = open_as_keeper(alice_posted, alice_ciphertext, participant=BOB, escrow=10**18)
    assert reason_of(copied) is InvalidReason.COMMITMENT_MISMATCH
    # Bob copying only the ciphertext cannot produce a commitment that matches it either.
    bob_posted = make_order(participant=BOB, price=9 * 10**17, salt=keccak(b"bob's guess"))[0]
    result = open_as_keeper(bob_posted, alice_ciphertext, participant=BOB)
    assert reason_of(result) is InvalidReason.COMMITMENT_MISMATCH


def test_open_bid_mismatched_commitment_of_wrong_length() -> None:
    _, ciphertext = make_order()
    for posted in (b"", b"\x00" * 31, b"\x00" * 33):
        assert reason_of(open_as_keeper(posted, ciphertext)) is InvalidReason.COMMITMENT_MISMATCH


def test_open_bid_value_above_escrow() -> None:
    posted, ciphertext = make_order(price=10**18 + 1)
    assert reason_of(open_as_keeper(posted, ciphertext, escrow=10**18)) is (
        InvalidReason.VALUE_ABOVE_ESCROW)
    assert open_as_keeper(posted, ciphertext, escrow=10**18 + 1).ok


def test_open_bid_quantity_above_capacity() -> None:
    posted, ciphertext = make_order(side=Side.ASK, price=1, quantity=5)
    result = open_as_keeper(posted, ciphertext, side=Side.ASK, capacity=4)
    assert reason_of(result) is InvalidReason.QUANTITY_ABOVE_CAPACITY
    assert open_as_keeper(posted, ciphertext, side=Side.ASK, capacity=5).ok


@pytest.mark.parametrize("side", [Side.BID, Side.ASK])
def test_open_bid_zero_quantity(side: Side) -> None:
    posted, ciphertext = make_order(side=side, quantity=0)
    assert reason_of(open_as_keeper(posted, ciphertext, side=side)) is InvalidReason.ZERO_QUANTITY


def test_open_bid_rejects_keeper_side_mistakes() -> None:
    posted, ciphertext = make_order()
    with pytest.raises(SealedInputError, match="escrow"):
        open_as_keeper(posted, ciphertext, side=Side.ASK, escrow=1)
    with pytest.raises(SealedInputError, match="capacity"):
        open_as_keeper(posted, ciphertext, side=Side.BID, capacity=1)
    with pytest.raises(SealedInputError, match="escrow"):
        open_as_keeper(posted, ciphertext, escrow=-1)
    with pytest.raises(SealedInputError, match="participant"):
        open_as_keeper(posted, ciphertext, participant="0x12")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(ciphertext=st.binary(max_size=400), posted=st.binary(max_size=40),
       side=st.sampled_from(Side), bound=st.none() | uints)
def test_open_bid_never_raises_on_arbitrary_bytes(ciphertext: bytes, posted: bytes, side: Side,
                                                  bound: int | None) -> None:
    escrow, capacity = (bound, None) if side is Side.BID else (None, bound)
    result = open_as_keeper(posted, ciphertext, side=side, escrow=escrow, capacity=capacity)
    assert isinstance(result, InvalidBid)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_envelopes_never_raise_and_agree_with_eciespy(data: st.DataObject) -> None:
    posted, ciphertext = make_order()
    mutated = bytearray(ciphertext)
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    candidate = bytes(mutated[:cut]) + data.draw(st.binary(max_size=8))
    try:
        expected: bytes | None = ecies.decrypt(KEEPER.private_key, candidate)
    except Exception:
        expected = None
    assert sealed._decrypt(KEEPER.private_key, candidate) == expected
    result = open_as_keeper(posted, candidate)
    assert result.ok == (candidate == ciphertext)


# --- open_many ----------------------------------------------------------------------------------


def mixed_round(count: int) -> list[Envelope]:
    """Honest bids and asks interleaved with every kind of invalid order."""
    envelopes: list[Envelope] = []
    for i in range(count):
        participant = to_checksum_address(keccak(i.to_bytes(4, "big"))[12:])
        side = Side(i % 2)
        salt = keccak(b"salt" + i.to_bytes(4, "big"))
        posted = sealed.commitment(chain_id=CHAIN, market=MARKET, round=ROUND,
                                   participant=participant, side=side, price=i + 1,
                                   quantity=i % 5, salt=salt)
        ciphertext = sealed.seal(KEEPER.public_key, price=i + 1, quantity=i % 5, salt=salt)
        if i % 7 == 3:
            ciphertext = ciphertext[:-1]
        bound = {"escrow": i} if side is Side.BID else {"capacity": 3}
        envelopes.append(Envelope(participant, side, posted, ciphertext, **bound))
    return envelopes


def test_open_many_matches_open_bid_inline_and_on_a_process_pool() -> None:
    envelopes = mixed_round(60)
    one_by_one = [
        sealed.open_bid(KEEPER.private_key, ciphertext=e.ciphertext, commitment=e.commitment,
                        chain_id=CHAIN, market=MARKET, round=ROUND, participant=e.participant,
                        side=e.side, escrow=e.escrow, capacity=e.capacity)
        for e in envelopes
    ]
    assert {type(r) for r in one_by_one} == {ValidBid, InvalidBid}
    assert len({r.reason for r in one_by_one if isinstance(r, InvalidBid)}) == 4
    inline = sealed.open_many(KEEPER.private_key, envelopes, chain_id=CHAIN, market=MARKET,
                              round=ROUND)
    assert inline == one_by_one
    with sealed.open_pool(2) as pool:
        pooled = sealed.open_many(KEEPER.private_key, envelopes, chain_id=CHAIN, market=MARKET,
                                  round=ROUND, executor=pool, chunks=4)
    assert pooled == one_by_one


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(st.tuples(st.binary(max_size=250), st.binary(max_size=33)), max_size=20))
def test_open_many_never_raises_on_arbitrary_bytes(orders: list[tuple[bytes, bytes]]) -> None:
    envelopes = [Envelope(ALICE, Side.BID, posted, ciphertext) for ciphertext, posted in orders]
    results = sealed.open_many(KEEPER.private_key, envelopes, chain_id=CHAIN, market=MARKET,
                               round=ROUND)
    assert len(results) == len(orders)
    assert all(isinstance(result, InvalidBid) for result in results)


def test_open_many_validates_before_sending_work() -> None:
    bad = [*mixed_round(3), Envelope("0xnope", Side.BID, b"", b"")]
    with pytest.raises(SealedInputError) as caught:
        sealed.open_many(KEEPER.private_key, bad, chain_id=CHAIN, market=MARKET, round=ROUND)
    assert caught.value.field == "participant"
