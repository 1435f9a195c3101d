"""Which tier is running: ``make check`` (the fast tier) sets ``BRIDGE_TEST_TIER=check``;
``make test`` (the whole suite, what CI runs) leaves it unset.

A property test that drives a chain draws fewer examples in the fast tier (its examples are
derandomized, so the fast tier's are the first of the whole suite's)."""

from __future__ import annotations

import os

FAST = os.environ.get("BRIDGE_TEST_TIER") == "check"


def examples(full: int, fast: int) -> int:
    """``full`` examples in ``make test``, ``fast`` in ``make check``."""
    return fast if FAST else full
