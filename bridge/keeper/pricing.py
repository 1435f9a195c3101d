"""fixedprice: the keeper posts the next round's price during the round before it.

The price is the public rule's (:mod:`bridge.chain.price_history`): the same function the audit
and the watchtower use to check it, fed with the settlement transactions this keeper's store
logged. A post is sent only when the rule moves the price (otherwise the last price carries, which
is what the rule says). A post that misses its round (``PriceTooLate``) leaves the carried price:
the watchtower reports it as a ``price`` discrepancy, and the next due round is priced from it.
"""

from __future__ import annotations

import logging

from bridge.chain.market import Market
from bridge.chain.price_history import PriceHistory
from bridge.chain.sender import TxSender
from bridge.errors import BridgeError, SettlementRejected
from bridge.keeper.store import Store
from bridge.mechanisms.fixedprice import price_for_round
from bridge.units import format_wei

log = logging.getLogger("bridge.keeper")

__all__ = ["PricePoster"]


class PricePoster:
    """Posts round ``r + 1``'s price while round ``r`` is open (fixedprice markets only)."""

    def __init__(self, market: Market, store: Store, sender: TxSender) -> None:
        self.market = market
        self.store = store
        self.sender = sender
        self.history = PriceHistory(market, self._locate)
        self._done: set[int] = set()

    def _locate(self, k: int) -> tuple[str, list[str]] | None:
        begun = self.store.events("SettlementBegun", round=k)
        if not begun:
            return None
        pages = {int(e.args["page"]): e.tx_hash for e in self.store.events("BidsSettled", round=k)}
        settled = self.store.events("RoundSettled", round=k)
        if not settled or len(pages) != int(settled[-1].args["pages"]):
            return None  # the logs are not all stored yet
        return begun[-1].tx_hash, [pages[p] for p in sorted(pages)]

    def tick(self, now: int) -> int | None:
        """Post the next round's price if it is due, this keeper's, and moved by the rule;
        returns the price posted (None if nothing was sent)."""
        p = self.market.params
        if p.mechanism != "fixedprice":
            return None
        target = p.round_at(now) + 1
        if target in self._done or target % p.price_every:
            return None
        keeper, _ = self.market.keeper_for(target)
        if keeper.lower() != self.sender.address.lower():
            return None
        previous = self.market.round_price(target - 1)
        try:
            rounds = self.history.history(target)
        except BridgeError as exc:  # a settlement's logs not stored yet: the next tick retries
            log.info("round %s: price not computed yet: %s", target, exc)
            return None
        want = price_for_round(target, previous, rounds, self.history.rule)
        if self.market.round_price(target) == want:
            self._done.add(target)
            log.info("round %s: the price stays %s per unit", target, format_wei(want))
            return None
        try:
            self.sender.send(self.market.tx("postPrice", target, want))
        except SettlementRejected as exc:
            self._done.add(target)
            log.warning("round %s: price post refused (%s); the price %s carries", target,
                        exc, format_wei(previous))
            return None
        self._done.add(target)
        log.info("round %s: posted price %s per unit (was %s; rule over %s settled rounds)",
                 target, format_wei(want), format_wei(previous), len(rounds))
        return want
