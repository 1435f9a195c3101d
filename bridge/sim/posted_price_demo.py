"""``bridge demo --mechanism posted-price``: two posted-price rounds on an in-process chain.

Deploys a proof-of-work verifier and a ``PostedPriceMarket``, funds a keeper, two market makers,
two requesters, two nodes and a fake requester, and plays two rounds through the same bindings and
keeper the CLI uses (every registration carries the deposit ``γ``):

1. the seed's example (t0 needs both nodes, t1 either): maker A posts the whole allocation with
   slack in its tolerances, maker B undercuts it on t1 and n1; sequential improvement keeps A and
   re-prices it; everyone accepts; node n1 misses its proof and is slashed;
2. two non-conflicting proposals are merged into two parts; t0 is a fake requester's (it will
   take no price), maker A books it, the fake rejects: the part is void, the fake's deposit is
   burned and A's bond comes back (the node of the void part gets its deposit back); the other
   part trades and is proven.

Participants answer with their private values and costs (accept iff price ≤ value, reward ≥
cost; nobody answers a part already void). The closing check compares every account's net
position in the market (credits minus what it sent) with the library's prediction
(:func:`~bridge.mechanisms.posted_price.settle` with the on-chain rule ``Penalty.REJECTER``)
adjusted for the slashed job, and the contract's balance with what it owes plus what was burned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount

from bridge.chain.deploy import deploy
from bridge.chain.posted_price import (
    PostedPriceConfig,
    PostedPriceMarket,
    deploy_posted_price_market,
    proposal_to_chain,
    tags_mask,
)
from bridge.chain.sender import TxSender
from bridge.chain.tester import make_tester_chain
from bridge.errors import BridgeError
from bridge.keeper.posted_price import PostedPriceKeeper
from bridge.mechanisms.posted_price import Penalty, Private, Proposal, settle
from bridge.proving import solve_pow
from bridge.units import format_wei

Printer = Callable[[str], None]
GWEI = 10**9
BITS = 8
PERIOD = 60


@dataclass
class Actor:
    """A funded account and what it has sent to the market."""

    name: str
    account: LocalAccount
    sender: TxSender
    sent: int = 0


@dataclass(frozen=True)
class Script:
    """One round: requests ``(owner, size, tag, replicas, max price, value)``, nodes ``(owner,
    capacity, tags, min reward, cost)``, proposals ``(maker, proposal)`` and the nodes that miss
    their proofs."""

    title: str
    requests: list[tuple[str, int, int, int, int, int]]
    nodes: list[tuple[str, int, list[int], int, int]]
    proposals: list[tuple[str, Proposal]]
    missing: frozenset[int] = field(default_factory=frozenset)


def _g(x: float) -> int:
    return int(x * GWEI)


SCRIPTS = [
    Script(
        "the seed's example: B's challenge is absorbed by A's tolerances; n1 misses a proof",
        requests=[("r1", 1, 0, 2, _g(8), _g(6)), ("r2", 1, 0, 1, _g(6), _g(4))],
        nodes=[("p1", 2, [0], _g(0.5), _g(1)), ("p2", 2, [0], _g(0.5), _g(1))],
        proposals=[
            ("A", Proposal.make({0: [0, 1], 1: [0]}, {0: _g(5), 1: _g(4)},
                                {0: _g(3), 1: _g(1.5)}, max_prices={0: _g(6), 1: _g(4)},
                                min_rewards={0: _g(1), 1: _g(1)})),
            ("B", Proposal.make({1: [1]}, {1: _g(3)}, {1: _g(2)})),
        ],
        missing=frozenset({1}),
    ),
    Script(
        "two proposals merged; t0 is a fake (f): it rejects, loses its deposit, A keeps its bond",
        requests=[("f", 1, 0, 1, _g(5), 0), ("r2", 2, 1, 1, _g(10), _g(8))],
        nodes=[("p1", 1, [0], _g(0.5), _g(1)), ("p2", 2, [1], _g(1), _g(2))],
        proposals=[
            ("A", Proposal.make({0: [0]}, {0: _g(4)}, {0: _g(1.5)})),
            ("B", Proposal.make({1: [1]}, {1: _g(6)}, {1: _g(3)})),
        ],
    ),
]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    out = ["    " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
           "    " + "  ".join("-" * w for w in widths)]
    return out + ["    " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                  for r in rows]


def _terms(p: Proposal) -> str:
    alloc = ", ".join(f"t{t}→{{{','.join(f'n{n}' for n in sorted(ns))}}}"
                      for t, ns in sorted(p.allocation.items()))
    prices = ", ".join(f"t{t} {format_wei(x)}" for t, x in sorted(p.prices.items()))
    rewards = ", ".join(f"n{n} {format_wei(x)}" for n, x in sorted(p.rewards.items()))
    return f"{alloc}; prices {prices}; rewards {rewards}"


def run_posted_price_demo(out: Printer = print) -> dict[str, int]:
    """Run the demo; returns each account's net position; raises :class:`BridgeError` if the
    closing ledger check fails."""
    started = time.perf_counter()
    logging.getLogger("bridge").setLevel(logging.WARNING)
    chain = make_tester_chain(accounts=2)
    w3, funder = chain.w3, chain.accounts[0]
    keeper_acct: LocalAccount = Account.create()
    verifier = deploy(w3, "ProofOfWorkVerifier", BITS, sender=funder)
    cfg = PostedPriceConfig(keeper_acct.address, verifier.address, PERIOD, PERIOD, PERIOD,
                            PERIOD, PERIOD, bond=_g(2), collateral_per_unit=_g(10))
    market = PostedPriceMarket(w3, deploy_posted_price_market(w3, cfg, funder).address)

    def actor(name: str, acct: LocalAccount | None = None) -> Actor:
        acct = acct or Account.create()
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": funder, "to": acct.address, "value": 10**18}))  # type: ignore[typeddict-item]
        return Actor(name, acct, TxSender(w3, acct, decode_revert=market.decode_revert,
                                          poll_interval=0.01))

    keeper = actor("keeper", keeper_acct)
    actors = {n: actor(n) for n in ("A", "B", "r1", "r2", "p1", "p2", "f")}

    def send(who: str, fn: str, *args: object, value: int = 0) -> None:
        a = actors[who]
        a.sender.send(market.tx(fn, *args, value=value))
        a.sent += value

    out(f"embedded chain (chain {w3.eth.chain_id}): PostedPriceMarket {market.address}, "
        f"keeper {keeper.account.address[:8]}…; bond and registration deposit γ = "
        f"{format_wei(cfg.bond)}, collateral {format_wei(cfg.collateral_per_unit)} per unit, "
        f"every window {PERIOD} s")
    bot = PostedPriceKeeper(market, keeper.sender)
    expected: dict[str, int] = dict.fromkeys(actors, 0)
    for number, script in enumerate(SCRIPTS):
        r = market.round_count()
        send("A", "openRound")
        out("")
        out(f"Round {r} (posted price) — {script.title}")
        for who, size, tag, replicas, cap, _ in script.requests:
            send(who, "registerRequest", r, size, tag, replicas, cap,
                 bytes([number + 1, len(expected)]) + bytes(30), value=cfg.bond)
        for who, capacity, tags, floor, _ in script.nodes:
            send(who, "registerNode", r, capacity, tags_mask(tags), floor, value=cfg.bond)
        out("  requests and nodes (public; the value and cost columns are private):")
        rows = [[f"t{i}", who, str(size), str(tag), str(rep), format_wei(cap), format_wei(v)]
                for i, (who, size, tag, rep, cap, v) in enumerate(script.requests)]
        out("\n".join(_table(["#", "requester", "size", "tag", "replicas", "max price",
                              "value"], rows)))
        rows = [[f"n{i}", who, str(capacity), ",".join(map(str, tags)), format_wei(floor),
                 format_wei(cost)] for i, (who, capacity, tags, floor, cost) in
                enumerate(script.nodes)]
        out("\n".join(_table(["#", "node", "capacity", "tags", "min reward", "cost"], rows)))
        d = market.deadlines(r)
        chain.travel_to(d.register_end)
        lib_market = market.market(r)
        for maker, p in script.proposals:
            send(maker, "propose", r, proposal_to_chain(lib_market, p), value=cfg.bond)
        chain.travel_to(d.propose_end)
        ev = bot.settle(r)
        out("  proposals, in on-chain order, and what sequential improvement made of them:")
        rows = []
        for s, step in zip(ev.submitted, ev.steps, strict=True):
            maker = next(n for n, a in actors.items() if a.account.address == s.maker)
            how = step.verdict.value + (f" (Δ {format_wei(step.delta)}, ∇ "
                                        f"{format_wei(step.slack or 0)})"
                                        if step.delta is not None else "")
            rows.append([str(s.index), maker, _terms(s.proposal), how])
        out("\n".join(_table(["#", "maker", "allocation and terms", "verdict"], rows)))
        out(f"  settled: {len(ev.book.parts)} part(s), posted margin "
            f"{format_wei(ev.book.margin)}")
        private = Private({i: v for i, (*_, v) in enumerate(script.requests)},
                          {i: c for i, (*_, c) in enumerate(script.nodes)})
        prediction = settle(private, ev.book, cfg.bond, penalty=Penalty.REJECTER)

        def void(part: int, r: int = r) -> bool:
            return bool(market.contract.functions.partInfo(r, part).call()[2])

        rows = []
        for q in market.requests(r):
            if not q["part"]:
                continue
            who, value = script.requests[q["index"]][0], script.requests[q["index"]][5]
            yes = q["price"] <= value
            if void(q["part"]):
                rows.append([f"t{q['index']}", who, str(q["part"]), format_wei(q["price"]),
                             f"value {format_wei(value)}", "— (part already void)"])
                continue
            if yes:
                send(who, "acceptRequest", r, q["index"], value=q["price"])
            else:
                send(who, "rejectRequest", r, q["index"])
            rows.append([f"t{q['index']}", who, str(q["part"]), format_wei(q["price"]),
                         f"value {format_wei(value)}", "accepts" if yes else "REJECTS"])
        for n in market.nodes(r):
            if not n["part"]:
                continue
            who, cost = script.nodes[n["index"]][0], script.nodes[n["index"]][4]
            yes = n["reward"] >= cost
            if void(n["part"]):
                rows.append([f"n{n['index']}", who, str(n["part"]), format_wei(n["reward"]),
                             f"cost {format_wei(cost)}", "— (part already void)"])
                continue
            if yes:
                send(who, "acceptNode", r, n["index"], value=n["load"] * cfg.collateral_per_unit)
            else:
                send(who, "rejectNode", r, n["index"])
            rows.append([f"n{n['index']}", who, str(n["part"]), format_wei(n["reward"]),
                         f"cost {format_wei(cost)}", "accepts" if yes else "REJECTS"])
        out("  posted terms and answers:")
        out("\n".join(_table(["", "who", "part", "posted", "private", "answer"], rows)))
        rows = []
        for q in market.requests(r):
            for n in market.nodes(r):
                if market.job_state(r, q["index"], n["index"]).name != "ASSIGNED":
                    continue
                part = market.contract.functions.partInfo(r, q["part"]).call()
                if part[1] != part[0]:
                    continue
                if n["index"] in script.missing:
                    rows.append([f"t{q['index']}", f"n{n['index']}", "missed", "no proof sent"])
                    continue
                task = q["task"]
                who = script.nodes[n["index"]][0]
                send(who, "submitProof", r, q["index"], n["index"],
                     solve_pow(task, actors[who].account.address, BITS))
                rows.append([f"t{q['index']}", f"n{n['index']}", "proven", "collateral released"])
        if rows:
            out("  jobs:")
            out("\n".join(_table(["request", "node", "status", "money"], rows)))
        chain.travel_to(market.deadlines(r).proof_end)
        for line in bot.tick():
            out(f"  keeper: {line}")
        for log in market.logs("Slashed", round=r):
            a = log["args"]
            requester, node = script.requests[a["request"]][0], script.nodes[a["node"]][0]
            expected[requester] += a["compensation"]
            expected[node] -= a["compensation"]
            out(f"  slashed job (t{a['request']}, n{a['node']}): {requester} receives "
                f"{format_wei(a['compensation'])} (the job's collateral and, on the node's first "
                "miss, its reward)")
        for maker in ("A", "B"):
            addr = actors[maker].account.address
            expected[maker] += prediction.maker_margins.get(addr, 0)
        for t_id, x in prediction.charges.items():
            expected[script.requests[t_id][0]] -= x
        for n_id, x in prediction.payouts.items():
            expected[script.nodes[n_id][0]] += x
        for t_id, x in prediction.request_forfeits.items():
            expected[script.requests[t_id][0]] -= x
            out(f"  t{t_id} ({script.requests[t_id][0]}) rejected terms within its registered "
                f"maximum: its deposit {format_wei(x)} is burned; the makers' bonds come back")
        for n_id, x in prediction.node_forfeits.items():
            expected[script.nodes[n_id][0]] -= x
        burned = (sum(prediction.request_forfeits.values())
                  + sum(prediction.node_forfeits.values()))
        out(f"  library prediction: welfare {format_wei(prediction.welfare)}, makers' margins "
            f"{format_wei(sum(prediction.maker_margins.values()))}, deposits burned "
            f"{format_wei(burned)}")

    out("")
    net = {n: market.balance_of(a.account.address) - a.sent for n, a in actors.items()}
    rows = [[n, format_wei(net[n]), format_wei(expected[n]),
             "ok" if net[n] == expected[n] else "MISMATCH"] for n in actors]
    out("Net position of every account (credits in the market minus what it sent):")
    out("\n".join(_table(["account", "on chain", "library + slashes", ""], rows)))
    free = sum(market.balance_of(a.account.address) for a in actors.values())
    owed = market.total_locked() + market.burned() + free
    balance = int(w3.eth.get_balance(market.address))
    out(f"Every wei accounted for: the contract holds {balance} wei = free balances {free} + "
        f"locked {market.total_locked()} + burned {market.burned()} "
        f"({time.perf_counter() - started:.1f}s)")
    problems = [n for n in actors if net[n] != expected[n]]
    if balance != owed or market.total_locked() != 0:
        problems.append("contract balance")
    if problems:
        raise BridgeError(f"ledger check failed: {', '.join(problems)}")
    return net
