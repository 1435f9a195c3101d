"""Amounts and times for people: one parser and one formatter, used by the CLI, the agents' and
the keeper's logs.

Amounts are typed as ``1.5ether``, ``20gwei``, ``1000`` (wei) and parsed exactly; they are shown
as gwei or ether, exactly (:func:`format_wei`), with the integer wei appended where someone may
need to type or compare it (``exact=True``). Times are chain timestamps shown in UTC with how far
they are from now (:func:`format_time`: ``2026-12-04 05:40:10 UTC (in 2m 10s)``).
"""

from __future__ import annotations

import re
import time
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


def format_wei(wei: int, *, exact: bool = False) -> str:
    """A short human form, exact: ``1.5 ether``, ``100.58243385 gwei`` or ``123 wei``.

    Ether from 0.001 ether, gwei from 0.001 gwei, wei below. ``exact``: append the integer wei
    when the form has another unit (``90 gwei (90000000000 wei)``), for amounts a user may type
    back or compare with a contract's."""
    for unit, floor in (("ether", 10**15), ("gwei", 10**6)):
        if abs(wei) >= floor:
            text = format((Decimal(wei) / UNITS[unit]).normalize(), "f")
            return f"{text} {unit}" + (f" ({wei} wei)" if exact else "")
    return f"{wei} wei"


_SPANS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def format_duration(seconds: int) -> str:
    """``2m 10s``, ``1h 5m``, ``3d 2h``, ``45s``, ``0s``: the largest unit and the next one (when
    not zero); smaller parts are dropped (floor). Negative spans get a minus sign."""
    seconds = int(seconds)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    for i, (unit, size) in enumerate(_SPANS):
        if seconds >= size:
            text = f"{seconds // size}{unit}"
            if i + 1 < len(_SPANS):
                nxt, nsize = _SPANS[i + 1]
                rest = seconds % size // nsize
                if rest:
                    text += f" {rest}{nxt}"
            return text
    return "0s"


def format_relative(ts: int, now: int | None = None) -> str:
    """``in 2m 10s``, ``2m 10s ago`` or ``now`` for timestamp ``ts`` seen at ``now`` (default:
    the wall clock)."""
    now = int(time.time()) if now is None else int(now)
    delta = int(ts) - now
    if delta == 0:
        return "now"
    return f"in {format_duration(delta)}" if delta > 0 else f"{format_duration(-delta)} ago"


def format_time(ts: int, now: int | None = None) -> str:
    """A timestamp in UTC with its distance from ``now``:
    ``2026-12-04 05:40:10 UTC (in 2m 10s)``."""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(ts)))
    return f"{when} ({format_relative(ts, now)})"


def plural(n: int, word: str, many: str = "") -> str:
    """``1 job``, ``2 jobs``, ``0 jobs`` (``many``: an irregular plural)."""
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"
