"""Testing an application that buys proofs, with the ``bridge`` pytest plugin.

The plugin comes with the package (``pip install <the bridge repository>``): the fixtures below
need no conftest.
Run ``pytest`` here; ``pytest --bridge-chain anvil`` runs the same test on an anvil node.
"""

from __future__ import annotations

import os

import pytest
from proof_buyer import ProofBuyer

GWEI = 10**9


def test_my_app_gets_a_checked_proof(bridge_market, bridge_prover, bridge_requester) -> None:
    # Two provers offer one unit each (a Prooφ round needs two asks to trade) ...
    provers = [bridge_prover(capacity=1), bridge_prover(capacity=1)]
    buyer = ProofBuyer(bridge_requester(), bridge_market.deploy_block)
    other = bridge_requester()  # ... and more bids than the cheapest ask's capacity
    r = bridge_market.next_round()
    order = buyer.order(task=os.urandom(32), max_price=120 * GWEI)
    other.bid(value=90 * GWEI, size=1, escrow=90 * GWEI, task=os.urandom(32))
    for p, cost in zip(provers, (40 * GWEI, 60 * GWEI), strict=True):
        p.ask(cost=cost)

    outcome = bridge_market.settle(r)  # close the round; the keeper clears and settles it
    job = outcome.job_for(order.bid_index)
    assert outcome.status == "settled" and job is not None
    assert buyer.delivery(order) is None  # sold, not yet proven

    bridge_market.prove_all(r, provers)
    delivered = buyer.delivery(order)
    assert delivered is not None and delivered.prover == job.prover
    assert bridge_market.outcome(r).job_for(order.bid_index).status == "proven"


@pytest.mark.bridge_market(proof_period=30)
def test_my_app_is_compensated_when_the_prover_fails(bridge_market, bridge_prover,
                                                      bridge_requester) -> None:
    provers = [bridge_prover(capacity=1), bridge_prover(capacity=1)]
    buyer = ProofBuyer(bridge_requester(), bridge_market.deploy_block)
    other = bridge_requester()
    r = bridge_market.next_round()
    order = buyer.order(task=os.urandom(32), max_price=120 * GWEI)
    other.bid(value=90 * GWEI, size=1, escrow=90 * GWEI, task=os.urandom(32))
    for p, cost in zip(provers, (40 * GWEI, 60 * GWEI), strict=True):
        p.ask(cost=cost)
    job = bridge_market.settle(r).job_for(order.bid_index)
    before = bridge_market.market.balance_of(buyer.requester.address)

    outcome = bridge_market.past_proof_deadline(r)  # nobody proves: the keeper slashes
    slashed = outcome.job_for(order.bid_index)
    assert slashed.status == "slashed" and buyer.delivery(order) is None
    after = bridge_market.market.balance_of(buyer.requester.address)
    assert after - before == slashed.refund + slashed.compensation
    charged = outcome.bids[order.bid_index].charge
    assert slashed.refund == charged  # what the app paid for the job comes back ...
    # ... with the market's compensation, out of the prover's collateral
    assert slashed.compensation == bridge_market.settings.refund_cap * job.units
