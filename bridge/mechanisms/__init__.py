"""bridge.mechanisms: the pure clearing engine (docs/mechanisms.md). No web3, exact integers only.

``clear(mechanism, bids, asks)`` runs Prooφ (``"proofphi"``) or DARA (``"dara"``), and
``clear("fixedprice", bids, asks, price=P)`` the fixed-price mechanism at the round's posted price
(learned from earlier rounds by ``learn_price`` / ``price_for_round``); ``optimum`` computes the
welfare-maximizing allocation for benchmarks; ``audit`` re-checks an outcome independently and
raises :class:`~bridge.errors.AuditError` naming the first violation.
``bridge.mechanisms.posted_price`` is the posted-price market-maker mechanism (seed 002): nobody
bids, makers propose allocations and prices, participants accept or reject.
"""

from bridge.mechanisms.audit import audit
from bridge.mechanisms.clearing import MECHANISMS, PRICED, clear
from bridge.mechanisms.dara import clear_dara, clear_dara_reference
from bridge.mechanisms.fixedprice import (
    DEFAULT_RULE,
    PriceRule,
    clear_fixedprice,
    history_window,
    learn_price,
    price_for_round,
    step_bounds,
    welfare_steps,
)
from bridge.mechanisms.optimum import Optimum, optimum, optimum_dp, optimum_milp
from bridge.mechanisms.proofphi import clear_proofphi
from bridge.mechanisms.types import (
    Ask,
    Bid,
    Outcome,
    ask_rank_key,
    bid_before,
    bid_rank_key,
    charge_shares,
    compare_bids,
    sort_asks,
    sort_bids,
    validate,
)

__all__ = [
    "DEFAULT_RULE",
    "MECHANISMS",
    "PRICED",
    "Ask",
    "Bid",
    "Optimum",
    "Outcome",
    "PriceRule",
    "ask_rank_key",
    "audit",
    "bid_before",
    "bid_rank_key",
    "charge_shares",
    "clear",
    "clear_dara",
    "clear_dara_reference",
    "clear_fixedprice",
    "clear_proofphi",
    "compare_bids",
    "history_window",
    "learn_price",
    "optimum",
    "optimum_dp",
    "optimum_milp",
    "price_for_round",
    "sort_asks",
    "sort_bids",
    "step_bounds",
    "validate",
    "welfare_steps",
]
