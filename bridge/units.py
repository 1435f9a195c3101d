"""Amounts as people type them: ``1.5ether``, ``20gwei``, ``1000`` (wei), parsed exactly."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from bridge.errors import InvalidInput

UNITS = {"wei": 1, "gwei": 10**9, "ether": 10**18, "eth": 10**18}
_PATTERN = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9_]+)?)\s*([a-zA-Z]*)\s*$")


def parse_amount(text: str, *, name: str = "amount") -> int:
    """Parse ``text`` into an integer number of wei; raise :class:`InvalidInput` if it is not one.

    A bare number is wei. ``gwei`` and ``ether`` (or ``eth``) scale it; a fraction is allowed
    only where the result is a whole number of wei (``0.5gwei`` yes, ``0.5wei`` no).
    """
    m = _PATTERN.match(text)
    if m is None:
        raise InvalidInput(f"{name} {text!r} is not an amount: write e.g. 1000, 20gwei or 0.5ether")
    number, unit = m.group(1).replace("_", ""), (m.group(2) or "wei").lower()
    if unit not in UNITS:
        raise InvalidInput(f"{name} {text!r}: unknown unit {unit!r}; use wei, gwei or ether")
    try:
        value = Decimal(number) * UNITS[unit]
    except InvalidOperation:
        raise InvalidInput(f"{name} {text!r} is not a number") from None
    if value != value.to_integral_value():
        raise InvalidInput(f"{name} {text!r} is not a whole number of wei")
    return int(value)


def format_wei(wei: int) -> str:
    """A short human form, exact: ``1.5 ether``, ``100.58243385 gwei`` or ``123 wei``."""
    for unit, floor in (("ether", 10**15), ("gwei", 10**6)):
        if abs(wei) >= floor:
            text = format((Decimal(wei) / UNITS[unit]).normalize(), "f")
            return f"{text} {unit}"
    return f"{wei} wei"
