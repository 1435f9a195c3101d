"""``bridge.sealed`` against the market contract on eth-tester (one commitment, two sides).

- the Python commitment equals the contract's ``commitmentOf`` view for random inputs;
- a client seals to the keeper key read from the contract, commits a bid, and the keeper opens it
  from the ``BidCommitted`` event alone; a second requester copying that commitment and ciphertext
  gets a ``COMMITMENT_MISMATCH``.

Kept beside the other ``test_sealed*`` tests; it deploys its own market on its own chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.contract import Contract

from bridge import sealed
from bridge.chain import tester as chain_tester
from bridge.chain.deploy import MarketConfig, Mechanism, deploy, deploy_market, transact
from bridge.sealed import InvalidBid, InvalidReason, Side

MAX = 2**256 - 1
PERIOD = 100


@dataclass(frozen=True)
class Market:
    """A deployed market, its chain and the keeper's key pair."""

    chain: chain_tester.TesterChain
    contract: Contract
    keeper: sealed.KeyPair


@pytest.fixture(scope="module")
def market() -> Iterator[Market]:
    chain = chain_tester.make_tester_chain(accounts=4)
    owner, keeper_account = chain.accounts[0], chain.accounts[1]
    keeper = sealed.generate_keypair()
    verifier = deploy(chain.w3, "ProofOfWorkVerifier", 8, sender=owner)
    config = MarketConfig(
        owner=owner, keeper=keeper_account, keeper_public_key=keeper.public_key,
        verifier=verifier.address, mechanism=Mechanism.DARA, commit_period=PERIOD,
        settle_period=PERIOD, proof_period=PERIOD, refund_cap=10**15, capacity_interval=2,
        capacity_factor=2,
    )
    yield Market(chain, deploy_market(chain.w3, config, owner), keeper)


@settings(max_examples=60, deadline=None)
@given(round_=st.integers(0, MAX), participant=st.binary(min_size=20, max_size=20),
       side=st.sampled_from(Side), price=st.integers(0, MAX), quantity=st.integers(0, MAX),
       salt=st.binary(min_size=32, max_size=32))
def test_python_commitment_equals_contract_commitment_of(
    market: Market, round_: int, participant: bytes, side: Side, price: int, quantity: int,
    salt: bytes,
) -> None:
    address = market.chain.w3.to_checksum_address(participant)
    on_chain = market.contract.functions.commitmentOf(
        round_, address, int(side), price, quantity, salt).call()
    ours = sealed.commitment(chain_id=market.chain.w3.eth.chain_id, market=market.contract.address,
                             round=round_, participant=address, side=side, price=price,
                             quantity=quantity, salt=salt)
    assert ours == bytes(on_chain)


def test_bid_sealed_to_the_on_chain_key_opens_from_the_event_and_a_copy_does_not(
    market: Market,
) -> None:
    w3, contract = market.chain.w3, market.contract
    alice, bob = market.chain.accounts[2], market.chain.accounts[3]
    public_key = bytes(contract.functions.keeperPublicKey().call())
    assert public_key == market.keeper.public_key

    round_ = contract.functions.currentRound().call()
    value, size, escrow, salt = 10**16, 2, 2 * 10**16, sealed.new_salt()
    posted = sealed.commitment(chain_id=w3.eth.chain_id, market=contract.address, round=round_,
                               participant=alice, side=Side.BID, price=value, quantity=size,
                               salt=salt)
    ciphertext = sealed.seal(public_key, price=value, quantity=size, salt=salt)
    task = b"\x07" * 32
    for who in (alice, bob):
        transact(contract.functions.deposit(), who, value=escrow)
        # Bob copies Alice's commitment and ciphertext verbatim.
        transact(contract.functions.commitBid(round_, posted, ciphertext, escrow, task), who)

    events = contract.events.BidCommitted().get_logs(from_block=0)
    assert [e["args"]["requester"] for e in events] == [alice, bob]
    opened = [
        sealed.open_bid(market.keeper.private_key, ciphertext=bytes(e["args"]["ciphertext"]),
                        commitment=bytes(e["args"]["commitment"]), chain_id=w3.eth.chain_id,
                        market=contract.address, round=e["args"]["round"],
                        participant=e["args"]["requester"], side=Side.BID,
                        escrow=e["args"]["escrow"])
        for e in events
    ]
    assert opened[0] == sealed.ValidBid(Side.BID, value, size, salt, posted)
    assert isinstance(opened[1], InvalidBid)
    assert opened[1].reason is InvalidReason.COMMITMENT_MISMATCH
