"""The posted-price mechanism's error types: why a proposal is refused, and the exception.

They live with the mechanism, not in :mod:`bridge.errors`: the root error module depends on
nothing in the package, and :class:`InvalidProposal` needs :class:`ProposalFault`. Both derive
from the root's branches, so ``except InvalidInput`` or ``except ClearingError`` still catches
a refused proposal.
"""

from __future__ import annotations

from enum import Enum

from bridge.errors import ClearingError, InvalidInput

__all__ = ["InvalidProposal", "ProposalFault"]


class ProposalFault(Enum):
    """Why a proposal is refused."""

    NOT_AN_INT = "not_an_int"
    NEGATIVE_AMOUNT = "negative_amount"
    UNKNOWN_REQUEST = "unknown_request"
    UNKNOWN_NODE = "unknown_node"
    PRICE_KEYS = "price_keys"
    REWARD_KEYS = "reward_keys"
    REPLICAS = "replicas"
    TAG = "tag"
    CAPACITY = "capacity"
    MAX_PRICE_BELOW_PRICE = "max_price_below_price"
    MIN_REWARD_ABOVE_REWARD = "min_reward_above_reward"
    NEGATIVE_MARGIN = "negative_margin"


class InvalidProposal(InvalidInput, ClearingError):
    """A market maker's posted-price proposal breaks a rule of the market.

    ``fault`` is a :class:`ProposalFault` (compare it to the enum, never to a string); the message
    names the offending request or node, the problem and the fix.
    """

    def __init__(self, fault: ProposalFault, detail: str, fix: str) -> None:
        super().__init__(f"{fault.value}: {detail}; {fix}")
        self.fault = fault
        self.detail = detail
        self.fix = fix

    def __reduce__(self) -> tuple[type[InvalidProposal], tuple[ProposalFault, str, str]]:
        return (type(self), (self.fault, self.detail, self.fix))
