"""The one entry point: ``clear(mechanism, bids, asks, *, price=None) -> Outcome``.

``"proofphi"`` and ``"dara"`` clear from the orders alone; ``"fixedprice"`` also needs the round's
posted per-unit ``price`` (docs/design/mechanisms.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bridge.errors import InvalidInput
from bridge.mechanisms.dara import clear_dara
from bridge.mechanisms.fixedprice import clear_fixedprice
from bridge.mechanisms.proofphi import clear_proofphi
from bridge.mechanisms.types import Ask, Bid, Outcome

__all__ = ["MECHANISMS", "PRICED", "clear"]

# Every mechanism by name. Those in PRICED take a keyword ``price`` (``fn(bids, asks, price=P)``);
# the others are called as ``fn(bids, asks)``.
MECHANISMS: dict[str, Callable[..., Outcome]] = {
    "proofphi": clear_proofphi,
    "dara": clear_dara,
    "fixedprice": clear_fixedprice,
}

PRICED = frozenset({"fixedprice"})


def clear(
    mechanism: str, bids: Iterable[Bid], asks: Iterable[Ask], *, price: int | None = None
) -> Outcome:
    """Clear one round with the named mechanism.

    ``InvalidInput`` for an unknown name, for ``"fixedprice"`` without a ``price``, for a
    ``price`` given to a mechanism that takes none, and for a price that is not an ``int ≥ 1``.
    """
    fn = MECHANISMS.get(mechanism) if isinstance(mechanism, str) else None
    if fn is None:
        plain = ", ".join(sorted(MECHANISMS.keys() - PRICED))
        priced = ", ".join(f"{m} (with price=P)" for m in sorted(PRICED))
        raise InvalidInput(f"unknown mechanism {mechanism!r}; choose one of: {plain}, {priced}")
    if mechanism in PRICED:
        if price is None:
            raise InvalidInput(
                f"mechanism {mechanism!r} needs the round's posted price: "
                f"call clear({mechanism!r}, bids, asks, price=P) with P an int >= 1"
            )
        return fn(bids, asks, price=price)  # which checks it is an int >= 1
    if price is not None:
        raise InvalidInput(
            f"mechanism {mechanism!r} takes no price (got price={price!r}); "
            f"drop price=, or use mechanism 'fixedprice'"
        )
    return fn(bids, asks)
