"""The one entry point: ``clear(mechanism, bids, asks) -> Outcome`` (docs/mechanisms.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bridge.errors import InvalidInput
from bridge.mechanisms.dara import clear_dara
from bridge.mechanisms.proofphi import clear_proofphi
from bridge.mechanisms.types import Ask, Bid, Outcome

__all__ = ["MECHANISMS", "clear"]

MECHANISMS: dict[str, Callable[[Iterable[Bid], Iterable[Ask]], Outcome]] = {
    "proofphi": clear_proofphi,
    "dara": clear_dara,
}


def clear(mechanism: str, bids: Iterable[Bid], asks: Iterable[Ask]) -> Outcome:
    """Clear one round with the named mechanism; unknown names raise ``InvalidInput``."""
    fn = MECHANISMS.get(mechanism) if isinstance(mechanism, str) else None
    if fn is None:
        raise InvalidInput(
            f"unknown mechanism {mechanism!r}; choose one of: {', '.join(sorted(MECHANISMS))}"
        )
    return fn(bids, asks)
