"""A fixedprice market's posted price, recomputed from public chain data (docs/mechanisms.md).

The price of round ``r`` is a public rule (:mod:`bridge.mechanisms.fixedprice`) of the orders
opened in the settlement of earlier rounds: the last ``priceWindow`` settled rounds ``≤ r − lag``
with at least one valid order (``lag = 2 + ⌈settlePeriod / commitPeriod⌉``, so every one of them
is final when round ``r − 1`` opens and the keeper posts), re-fitted when ``r`` is a multiple of
``priceEvery``, moved at most ``priceStepBps`` from the price of ``r − 1``. Every parameter is
read from the market, every order from the settlement transactions' inputs.

The keeper (to post) and the audit and watchtower (to check a post) both use
:class:`PriceHistory`; they differ only in how they find a round's settlement transactions
(``locate``): the keeper from the logs it stored, an auditor from the node.
"""

from __future__ import annotations

from collections.abc import Callable

from hexbytes import HexBytes

from bridge.chain.logs import event_logs
from bridge.chain.market import Market, RoundStatus
from bridge.chain.settlement import decode_settlement
from bridge.errors import BridgeError
from bridge.mechanisms import Ask, Bid
from bridge.mechanisms.fixedprice import PriceRule, history_window, price_for_round

__all__ = ["Locate", "Orders", "PriceHistory", "locate_from_node"]

Orders = tuple[list[Bid], list[Ask]]
Locate = Callable[[int], "tuple[str, list[str]] | None"]
"""Round -> (its ``beginSettlement`` transaction, its ``settleBids`` transactions in page order),
or None when they cannot be found (yet)."""


def locate_from_node(market: Market, from_block: int) -> Locate:
    """A :data:`Locate` that reads ``SettlementBegun``/``BidsSettled`` logs from the node."""

    def locate(k: int) -> tuple[str, list[str]] | None:
        begun = event_logs(market, "SettlementBegun", from_block, {"round": k})
        if not begun:
            return None
        pages = {int(e["args"]["page"]): HexBytes(e["transactionHash"]).to_0x_hex()
                 for e in event_logs(market, "BidsSettled", from_block, {"round": k})}
        return (HexBytes(begun[-1]["transactionHash"]).to_0x_hex(),
                [pages[p] for p in sorted(pages)])

    return locate


class PriceHistory:
    """The opened orders of a market's settled rounds (cached: settled rounds never change) and
    the price the rule gives each round."""

    def __init__(self, market: Market, locate: Locate) -> None:
        self.market = market
        self.locate = locate
        self._orders: dict[int, Orders | None] = {}
        """Round -> its valid orders; None: not settled (final once it is this far back)."""

    @property
    def rule(self) -> PriceRule:
        """The market's price rule parameters."""
        p = self.market.params
        return PriceRule(window=p.price_window, every=p.price_every, step_bps=p.price_step_bps)

    def orders(self, k: int) -> Orders | None:
        """The valid bids and asks opened in round ``k``'s settlement (ids: commit indices), or
        None if ``k`` did not settle. Call it only for rounds past their settle deadline."""
        if k in self._orders:
            return self._orders[k]
        if self.market.round_info(k).status is not RoundStatus.SETTLED:
            self._orders[k] = None
            return None
        found = self.locate(k)
        if found is None:
            raise BridgeError(f"round {k} is settled but its settlement transactions were not "
                              "found: read the logs from an earlier block")
        begin, pages = found
        data = decode_settlement(
            self.market.abi, self.market.params.mechanism,
            self.market.direct_call_input(begin, "beginSettlement", k),
            [self.market.direct_call_input(h, "settleBids", k) for h in pages])
        bids = [Bid(i, b.value, b.size, b.requester) for i, b in enumerate(data["bids"])
                if b.valid]
        asks = [Ask(i, a.cost, a.quantity, a.prover) for i, a in enumerate(data["asks"])
                if a.valid and a.quantity > 0]
        self._orders[k] = (bids, asks)
        return self._orders[k]

    def history(self, round: int) -> list[Orders]:
        """The rounds that set ``round``'s price, oldest first (the rule's window)."""
        p = self.market.params
        rule = self.rule
        found: dict[int, Orders] = {}
        k = round - p.price_lag
        while k >= 0 and len(found) < rule.window:
            got = self.orders(k)
            if got is not None and (got[0] or got[1]):
                found[k] = got
            k -= 1
        return history_window(round, found, lag=p.price_lag, rule=rule)

    def expected(self, round: int, previous: int | None = None) -> int:
        """The price the rule gives ``round`` (≥ 1), from the chain's price of ``round − 1``
        (or ``previous``)."""
        if round < 1:
            return self.market.params.initial_price
        if previous is None:
            previous = self.market.round_price(round - 1)
        rule = self.rule
        if round % rule.every:
            return previous
        return price_for_round(round, previous, self.history(round), rule)
