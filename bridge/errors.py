"""One exception root for the whole project, with meaningful branches.

Every error the project raises on purpose derives from :class:`BridgeError`, so a caller can catch
the project's errors without catching programming mistakes. Branches say who must act: the user
(``ConfigError``, ``InvalidInput``), the operator (``AuditError``), or nobody
(``RetryableTxError``).

This module is the floor every layer stands on, so it imports nothing from the package (the
import contract in ``pyproject.toml`` checks it). Errors that belong to one mechanism live with
it and derive from these branches: the posted-price market's ``ProposalFault`` and
``InvalidProposal`` are in :mod:`bridge.mechanisms.posted_price.errors`.
"""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    """Root of every error raised on purpose by the ``bridge`` package."""


class ConfigError(BridgeError, ValueError):
    """Configuration or command-line input is invalid; the message says how to fix it."""


class InvalidInput(BridgeError, ValueError):
    """An argument (a bid, an ask, an amount) is malformed; the message names it and the fix."""


class ClearingError(BridgeError):
    """The clearing engine could not produce an outcome for the given input."""


class InvalidBidError(InvalidInput, ClearingError):
    """A bid or ask given to the clearing engine is invalid (names the offending id and field)."""


class AuditError(ClearingError):
    """An outcome failed the independent audit; ``check`` names the first violated property."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail


class SealedError(BridgeError):
    """A sealed bid could not be opened or does not match its commitment (``reason`` says why)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ChainError(BridgeError):
    """Talking to the chain failed (connection, unexpected state, missing contract code)."""


class SettlementRejected(ChainError):
    """The contract reverted with a custom error; ``name`` and ``args`` are decoded from the ABI."""

    def __init__(self, name: str, args: dict[str, Any], tx: str = "") -> None:
        fields = ", ".join(f"{k}={v}" for k, v in args.items())
        super().__init__(f"{name}({fields})" + (f" in {tx}" if tx else ""))
        self.name = name
        self.args_ = args
        self.tx = tx


class UnauditableSettlement(ChainError):
    """A settlement transaction is not a direct call on the market: its calldata (the reveals and
    evidence) cannot be read from the transaction, so it cannot be audited."""


class RetryableTxError(ChainError):
    """A transaction failed for a reason a retry may fix (timeout, underpriced, nonce race)."""


class NonRetryableTxError(ChainError):
    """A transaction failed for a reason a retry cannot fix (revert, insufficient funds)."""


class SealedInputError(InvalidInput):
    """An argument to ``bridge.sealed`` is malformed; ``field`` names it (``"salt"``, …).

    Raised for what the caller controls (its own key, the round's context, a bid being sealed),
    never for what a bidder controls: a keeper opening bids gets an ``InvalidBid`` instead.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail

    def __reduce__(self) -> tuple[type[SealedInputError], tuple[str, str]]:
        return (type(self), (self.field, self.detail))
