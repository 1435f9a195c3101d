"""Recompute a settled round from on-chain data alone and compare it with what was settled.

After settlement the sealed values are public: the keeper revealed them in the settlement
transactions (``beginSettlement``, ``settleBids``). Anyone can therefore re-run the market's
mechanism on the valid reveals
(:func:`bridge.mechanisms.clear`), run the independent auditor, and compare charges, jobs and
payments with the settled ones. This is what ``bridge audit ROUND`` prints.

What it cannot check: whether a bid the keeper marked invalid really was invalid (only the keeper
can decrypt); those are listed so their owners can check them against their own records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.chain.market import Market, RoundStatus
from bridge.chain.settlement import entries_from_outcome
from bridge.client.participant import read_settlement
from bridge.errors import AuditError, BridgeError
from bridge.mechanisms import Ask, Bid, audit, clear


@dataclass
class RoundAudit:
    """The result of re-checking one settled round."""

    round: int
    mechanism: str
    valid_bids: int
    valid_asks: int
    invalid_bids: list[int] = field(default_factory=list)
    invalid_asks: list[int] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the settlement equals the recomputation."""
        return not self.differences


def audit_round(market: Market, round: int, from_block: int) -> RoundAudit:
    """Recompute ``round`` from its settlement transaction; see the module docstring."""
    if market.round_info(round).status is not RoundStatus.SETTLED:
        raise BridgeError(f"round {round} is not settled: nothing to audit yet")
    record = read_settlement(market, round, from_block, decode=True)
    if record is None:
        raise BridgeError(f"no RoundSettled log for round {round} from block {from_block}: "
                          "pass an earlier --from-block")
    reveals, ask_reveals = record.bids, record.asks
    bids = [Bid(i, b.value, b.size, b.requester) for i, b in enumerate(reveals) if b.valid]
    asks = [Ask(i, a.cost, a.quantity, a.prover)
            for i, a in enumerate(ask_reveals) if a.valid]
    mech = market.params.mechanism
    result = RoundAudit(round, mech, len(bids), len(asks),
                        [i for i, b in enumerate(reveals) if not b.valid],
                        [i for i, a in enumerate(ask_reveals) if not a.valid])
    outcome = clear(mech, bids, asks)
    try:
        audit(mech, bids, asks, outcome)
    except AuditError as exc:
        result.differences.append(f"recomputed outcome fails the audit: {exc}")
    for i, b in enumerate(reveals):
        expected = outcome.charges.get(i, 0)
        if b.charge != expected:
            result.differences.append(f"bid {i}: charged {b.charge}, the mechanism says "
                                      f"{expected}")
    expected_entries = [e.as_tuple() for e in entries_from_outcome(
        ask_reveals, outcome.assignment, outcome.job_payments())]
    settled_entries = [e.as_tuple() for e in record.entries]
    if settled_entries != expected_entries:
        result.differences.append(f"jobs differ: settled {settled_entries}, the mechanism "
                                  f"says {expected_entries}")
    return result
