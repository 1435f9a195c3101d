"""Posted-price market commands: ``bridge market-maker propose`` and ``bridge posted-price …``.

A posted-price market is a ``PostedPriceMarket`` contract (``--market``). Requesters and nodes
register publicly in a round with a deposit of ``γ`` (the market's bond); makers propose with
``bridge market-maker propose`` (bond ``γ`` sent with it); the keeper settles (``bridge
posted-price settle`` once, or ``keeper`` to loop); participants ``accept`` (deposit back) or
``reject`` (deposit burned: a registered maximum price or minimum reward is a binding offer);
nodes ``prove``; anyone ``close``\\ s proposals, ``release``\\ s deposits and ``slash``\\ es
missed jobs; everyone ``withdraw``\\ s. Proposals are JSON files::

    {"allocation": {"0": [0, 1], "1": [0]}, "prices": {"0": 6000, "1": 4000},
     "rewards": {"0": 3000, "1": 1000}, "max_prices": {"0": 7000, "1": 5000},
     "min_rewards": {"0": 500, "1": 500}}

(ids are the round's request and node indices; tolerances left out equal the terms). A proposal is
checked against the round's registrations with the library before anything is sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bridge.cli.apps import app
from bridge.cli.common import JsonOpt, KeystoreOpt, MarketOpt, RpcOpt, _amount, _emit, _wei, guarded
from bridge.errors import ConfigError, InvalidInput
from bridge.units import format_time, plural

maker_app = typer.Typer(help="Market-maker commands (posted-price markets): propose.",
                        no_args_is_help=True)
pp_app = typer.Typer(help="Posted-price market: open, request, node, show, settle, accept, "
                          "reject, prove, slash, close, release, withdraw, audit, keeper.",
                     no_args_is_help=True)
app.add_typer(maker_app, name="market-maker")
app.add_typer(pp_app, name="posted-price")

RoundOpt = Annotated[int, typer.Option("--round", help="Round id.")]


class _PP:
    """A connected posted-price market and, when a key is given, a sender."""

    def __init__(self, rpc: str, market: str, keystore: str = "", *, needs_key: bool = True
                 ) -> None:
        from bridge.chain.connect import connect
        from bridge.chain.deployment import read_market_ref
        from bridge.chain.posted_price import PostedPriceMarket
        from bridge.chain.sender import TxSender
        from bridge.keys import load_account

        if not market:
            raise ConfigError("no market: pass --market ADDRESS of a PostedPriceMarket, or set "
                              "BRIDGE_MARKET")
        address, deployed_at = read_market_ref(market)
        self.from_block = deployed_at or 0
        self.market = PostedPriceMarket(connect(rpc), address)
        self.market.check_code()
        self.sender: TxSender | None = None
        self.address = ""
        if needs_key:
            account = load_account(keystore or None)
            self.address = account.address
            self.sender = TxSender(self.market.w3, account,
                                   decode_revert=self.market.decode_revert, poll_interval=0.05)

    def chain_time(self) -> int:
        """The latest block's timestamp (deadlines are read against it, not the wall clock)."""
        return int(self.market.w3.eth.get_block("latest")["timestamp"])

    def send(self, fn: str, *args: Any, value: int = 0) -> dict[str, Any]:
        assert self.sender is not None
        return self.sender.send(self.market.tx(fn, *args, value=value))

    def event(self, receipt: dict[str, Any], name: str) -> Any:
        from web3.logs import DISCARD

        logs = getattr(self.market.contract.events, name)().process_receipt(receipt,
                                                                              errors=DISCARD)
        return logs[0]["args"]


def load_proposal(path: str, maker: str = "") -> Any:
    """The library's proposal from a JSON file (module docstring)."""
    from bridge.mechanisms.posted_price import Proposal

    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read proposal {path!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"proposal {path!r} is not JSON: {exc}") from None

    def ids(m: Any, name: str) -> dict[int, Any]:
        if not isinstance(m, dict):
            raise InvalidInput(f"proposal {path!r}: {name!r} must be an object of id -> value")
        try:
            return {int(k): v for k, v in m.items()}
        except ValueError:
            raise InvalidInput(f"proposal {path!r}: {name!r} keys must be integer ids") from None

    for key in ("allocation", "prices", "rewards"):
        if key not in raw:
            raise InvalidInput(f"proposal {path!r} lacks {key!r}: give allocation, prices and "
                               "rewards (and optionally max_prices, min_rewards)")
    return Proposal.make(
        ids(raw["allocation"], "allocation"), ids(raw["prices"], "prices"),
        ids(raw["rewards"], "rewards"),
        max_prices=ids(raw["max_prices"], "max_prices") if "max_prices" in raw else None,
        min_rewards=ids(raw["min_rewards"], "min_rewards") if "min_rewards" in raw else None,
        maker=maker)


def check_against_registrations(s: _PP, round: int, p: Any) -> None:
    """The library's validation and the registration limits, before sending."""
    from bridge.mechanisms.posted_price import check_proposal

    check_proposal(s.market.market(round), p)
    for t, x in p.max_prices.items():
        cap = s.market.request(round, t)["max_price"]
        if x > cap:
            raise InvalidInput(f"request {t}: max price {x} is above the requester's registered "
                               f"maximum {cap}; lower it")
    for n, x in p.min_rewards.items():
        floor = s.market.node(round, n)["min_reward"]
        if x < floor:
            raise InvalidInput(f"node {n}: min reward {x} is below the node's registered minimum "
                               f"{floor}; raise it")


# ------------------------------------------------------------------------------ market-maker
@maker_app.command("propose")
def maker_propose(proposal: Annotated[str, typer.Argument(help="Proposal JSON file.")],
                  round: RoundOpt, rpc: RpcOpt = "http://127.0.0.1:8545",
                  market: MarketOpt = "", keystore: KeystoreOpt = "",
                  as_json: JsonOpt = False) -> None:
    """Submit PROPOSAL in ROUND's proposal window, posting the market's bond with it."""
    from bridge.chain.posted_price import proposal_to_chain

    def run() -> None:
        s = _PP(rpc, market, keystore)
        p = load_proposal(proposal, s.address)
        check_against_registrations(s, round, p)
        bond = s.market.bond
        receipt = s.send("propose", round, proposal_to_chain(s.market.market(round), p),
                         value=bond)
        index = int(s.event(receipt, "ProposalSubmitted")["index"])
        _emit(as_json, {"round": round, "proposal": index, "bond": bond, "margin": p.margin},
              [f"proposal {index} in round {round}: {plural(len(p.allocation), 'request')}, "
               f"{plural(len(p.nodes), 'node')}, margin {_wei(p.margin)}; "
               f"bond {_wei(bond)} posted"])

    guarded(run)


# ----------------------------------------------------------------------------- posted-price
@pp_app.command("open")
def pp_open(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
            keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Open a new round now."""
    def run() -> None:
        s = _PP(rpc, market, keystore)
        args = s.event(s.send("openRound"), "RoundOpened")
        now = s.chain_time()
        _emit(as_json, dict(args), [f"round {args['round']} open: register until "
                                    f"{format_time(args['registerEnd'], now)}, propose until "
                                    f"{format_time(args['proposeEnd'], now)}"])

    guarded(run)


@pp_app.command("request")
def pp_request(round: RoundOpt,
               max_price: Annotated[str, typer.Option("--max-price", help="Most you pay.")],
               size: Annotated[int, typer.Option(min=1)] = 1,
               tag: Annotated[int, typer.Option(min=0, max=255)] = 0,
               replicas: Annotated[int, typer.Option(min=1)] = 1,
               task: Annotated[str, typer.Option(help="Task id (0x + 64 hex) or text.")] = "",
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Register a request (public), with the market's deposit: back when you accept or are not
    booked, burned if you are booked and reject or never answer. You pay only if you accept the
    posted price, which is never above --max-price."""
    from bridge.cli.requester import _task_bytes
    from bridge.client.participant import new_task

    def run() -> None:
        wei = _amount(max_price, "--max-price")
        s = _PP(rpc, market, keystore)
        t = _task_bytes(task) if task else new_task()
        deposit = s.market.deposit
        args = s.event(s.send("registerRequest", round, size, tag, replicas, wei, t,
                              value=deposit), "RequestRegistered")
        _emit(as_json, {"round": round, "request": args["index"], "task": t,
                        "deposit": deposit},
              [f"request {args['index']} in round {round}: size {size}, tag {tag}, "
               f"{replicas} replica(s), at most {_wei(wei)}; task 0x{t.hex()}; deposit "
               f"{_wei(deposit)} held (burned if you are booked and reject or do not answer)"])

    guarded(run)


@pp_app.command("node")
def pp_node(round: RoundOpt, capacity: Annotated[int, typer.Option(min=1)],
            min_reward: Annotated[str, typer.Option("--min-reward", help="Least you accept.")],
            tags: Annotated[str, typer.Option(help="Supported tags, e.g. 0,3.")] = "0",
            rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
            keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Register a node (public), with the market's deposit (as ``request``). You lock
    collateral only if you accept; your reward is never below --min-reward."""
    from bridge.chain.posted_price import tags_mask

    def run() -> None:
        try:
            mask = tags_mask([int(x) for x in tags.split(",") if x.strip()])
        except ValueError:
            raise InvalidInput(f"--tags {tags!r}: give tag numbers 0-255, comma separated"
                               ) from None
        wei = _amount(min_reward, "--min-reward")
        s = _PP(rpc, market, keystore)
        deposit = s.market.deposit
        args = s.event(s.send("registerNode", round, capacity, mask, wei, value=deposit),
                       "NodeRegistered")
        _emit(as_json, {"round": round, "node": args["index"], "deposit": deposit},
              [f"node {args['index']} in round {round}: capacity {capacity}, tags {tags}, "
               f"at least {_wei(wei)}; deposit {_wei(deposit)} held (burned if you are booked "
               "and reject or do not answer)"])

    guarded(run)


@pp_app.command("show")
def pp_show(round: RoundOpt, rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
            as_json: JsonOpt = False) -> None:
    """Show a round: deadlines, requests and nodes with their posted terms and answers."""
    def run() -> None:
        s = _PP(rpc, market, needs_key=False)
        d = s.market.deadlines(round)
        info = s.market.round_info(round)
        reqs, nodes = s.market.requests(round), s.market.nodes(round)
        now = s.chain_time()

        def at(ts: int) -> str:
            return format_time(ts, now)

        lines = [f"round {round}: register until {at(d.register_end)}, propose until "
                 f"{at(d.propose_end)}, settle until {at(d.settle_end)}"
                 + (f", accept until {at(d.accept_end)}, prove until {at(d.proof_end)}"
                    if info["settled"] else " (not settled)"),
                 f"  {info['proposals']} proposals, {info['parts']} parts"]
        for q in reqs:
            terms = f"price {_wei(q['price'])} ({q['response'].name.lower()})" if q["part"] else \
                "not allocated"
            lines.append(f"  request {q['index']}: size {q['size']}, tag {q['tag']}, "
                         f"{q['replicas']} replica(s), max {_wei(q['max_price'])}; {terms}; "
                         f"deposit {q['deposit'].name.lower()}")
        for n in nodes:
            terms = (f"reward {_wei(n['reward'])} for {n['load']} units "
                     f"({n['response'].name.lower()})") if n["part"] else "not allocated"
            lines.append(f"  node {n['index']}: capacity {n['capacity']}, min "
                         f"{_wei(n['min_reward'])}; {terms}; deposit "
                         f"{n['deposit'].name.lower()}")
        _emit(as_json, {"round": round, "deadlines": vars(d), **info,
                        "requests": [{**q, "response": q["response"].name,
                                      "deposit": q["deposit"].name} for q in reqs],
                        "nodes": [{**n, "response": n["response"].name,
                                   "deposit": n["deposit"].name} for n in nodes]}, lines)

    guarded(run)


def _answer(kind: str, accept: bool, round: int, request: int | None, node: int | None,
            rpc: str, market: str, keystore: str, as_json: bool) -> None:
    def run() -> None:
        if (request is None) == (node is None):
            raise InvalidInput("give exactly one of --request N or --node N")
        s = _PP(rpc, market, keystore)
        if request is not None:
            price = s.market.request(round, request)["price"]
            if accept:
                s.send("acceptRequest", round, request, value=price)
            else:
                s.send("rejectRequest", round, request)
            what, amount = f"request {request}", price
        else:
            assert node is not None
            load = s.market.node(round, node)["load"]
            collateral = load * s.market.collateral_per_unit
            if accept:
                s.send("acceptNode", round, node, value=collateral)
            else:
                s.send("rejectNode", round, node)
            what, amount = f"node {node}", collateral
        human = (f"accepted {what} in round {round}: "
                 + (f"paid {_wei(amount)}" if request is not None else
                    f"locked {_wei(amount)} collateral") + "; deposit back in your balance"
                 ) if accept else \
            f"rejected {what} in round {round}: its part is void; your deposit is burned"
        _emit(as_json, {"round": round, kind: True, "amount": amount if accept else 0}, [human])

    guarded(run)


RequestOpt = Annotated[int | None, typer.Option("--request", help="Your request index.")]
NodeOpt = Annotated[int | None, typer.Option("--node", help="Your node index.")]


@pp_app.command("accept")
def pp_accept(round: RoundOpt, request: RequestOpt = None, node: NodeOpt = None,
              rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
              keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Accept the posted terms: a requester pays its price, a node locks its collateral."""
    _answer("accepted", True, round, request, node, rpc, market, keystore, as_json)


@pp_app.command("reject")
def pp_reject(round: RoundOpt, request: RequestOpt = None, node: NodeOpt = None,
              rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
              keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Reject the posted terms: voids your part and burns your deposit (the terms are within
    what you registered; the maker's bond goes back to it)."""
    _answer("rejected", False, round, request, node, rpc, market, keystore, as_json)


@pp_app.command("prove")
def pp_prove(round: RoundOpt, request: Annotated[int, typer.Option("--request")],
             node: Annotated[int, typer.Option("--node")],
             difficulty: Annotated[int, typer.Option(help="The verifier's difficulty bits.")] = 8,
             rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
             keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Prove request REQUEST as node NODE (proof of work over the task and your address)."""
    from bridge.proving import solve_pow

    def run() -> None:
        s = _PP(rpc, market, keystore)
        task = s.market.request(round, request)["task"]
        args = s.event(s.send("submitProof", round, request, node,
                              solve_pow(task, s.address, difficulty)), "ProofAccepted")
        _emit(as_json, dict(args), [f"proved request {request}: released "
                                    f"{_wei(args['released'])}, reward {_wei(args['reward'])}"])

    guarded(run)


@pp_app.command("settle")
def pp_settle(round: RoundOpt, rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
              keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Keeper: evaluate ROUND's proposals with the library and settle the book."""
    from bridge.keeper.posted_price import PostedPriceKeeper

    def run() -> None:
        s = _PP(rpc, market, keystore)
        assert s.sender is not None
        ev = PostedPriceKeeper(s.market, s.sender, s.from_block).settle(round)
        verdicts = [f"{x.index}:{st.verdict.value}" for x, st in zip(ev.submitted, ev.steps,
                                                                      strict=True)]
        _emit(as_json, {"round": round, "parts": len(ev.book.parts), "margin": ev.book.margin,
                        "verdicts": verdicts},
              [f"settled round {round}: {len(ev.book.parts)} parts, margin "
               f"{_wei(ev.book.margin)}; proposals " + ", ".join(verdicts)])

    guarded(run)


@pp_app.command("close")
def pp_close(round: RoundOpt, proposal: Annotated[int, typer.Option("--proposal")],
             rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
             keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Close a proposal whose fate is known (bond, margin, refunds; anyone may)."""
    def run() -> None:
        s = _PP(rpc, market, keystore)
        subs = s.market.submitted(round, from_block=s.from_block)
        if not 0 <= proposal < len(subs):
            raise InvalidInput(f"round {round} has proposals 0-{len(subs) - 1}")
        args = s.event(s.send("closeProposal", round, proposal, subs[proposal].data),
                       "ProposalClosed")
        from bridge.chain.posted_price import Outcome

        outcome = Outcome(args["outcome"]).name.lower()
        _emit(as_json, {"round": round, "proposal": proposal, "outcome": outcome,
                        "maker_credit": args["makerCredit"]},
              [f"proposal {proposal} closed ({outcome}): maker credited "
               f"{_wei(args['makerCredit'])}"])

    guarded(run)


@pp_app.command("release")
def pp_release(round: RoundOpt, request: RequestOpt = None, node: NodeOpt = None,
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Release a registration deposit once its fate is known (anyone may): back if the round was
    never settled, the participant is not booked or its part was voided by someone else's
    rejection; burned if it was booked and never answered."""
    def run() -> None:
        if (request is None) == (node is None):
            raise InvalidInput("give exactly one of --request N or --node N")
        s = _PP(rpc, market, keystore)
        side, index = (0, request) if request is not None else (1, node)
        receipt = s.send("releaseDeposit", round, side, index)
        what = f"request {index}" if side == 0 else f"node {index}"
        from web3.logs import DISCARD

        back = s.market.contract.events.DepositReturned().process_receipt(receipt,
                                                                          errors=DISCARD)
        args = back[0]["args"] if back else s.event(receipt, "DepositForfeited")
        verb = "returned to" if back else "burned for"
        _emit(as_json, {"round": round, "side": side, "index": index,
                        "returned": bool(back), "amount": args["amount"]},
              [f"deposit {_wei(args['amount'])} {verb} {what} in round {round}"])

    guarded(run)


@pp_app.command("withdraw")
def pp_withdraw(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Withdraw your whole free balance."""
    def run() -> None:
        s = _PP(rpc, market, keystore)
        amount = s.event(s.send("withdraw"), "Withdrawn")["amount"]
        _emit(as_json, {"withdrawn": amount}, [f"withdrew {_wei(amount)}"])

    guarded(run)


@pp_app.command("audit")
def pp_audit(round: RoundOpt, rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
             as_json: JsonOpt = False) -> None:
    """Recompute ROUND's book from the logs with the library and compare with what was booked."""
    from bridge.keeper.posted_price import audit

    def run() -> None:
        s = _PP(rpc, market, needs_key=False)
        problems = audit(s.market, round, s.from_block)
        _emit(as_json, {"round": round, "ok": not problems, "problems": problems},
              [f"round {round}: the booked outcome is sequential improvement's"] if not problems
              else [f"round {round}: MISMATCH"] + [f"  {p}" for p in problems])
        if problems:
            raise typer.Exit(1)

    guarded(run)
