"""The ``bridge`` command: demo, keeper, prover, requester, round.

Connection: ``--rpc URL`` (or ``eth-tester`` for the embedded chain; env ``BRIDGE_RPC``) and
``--market ADDRESS|DEPLOYMENT_FILE`` (env ``BRIDGE_MARKET``). Key: ``--keystore FILE`` (password in
``BRIDGE_KEYSTORE_PASSWORD`` or a prompt) or ``BRIDGE_PRIVATE_KEY``; never on the command line.
Amounts accept ``wei``, ``gwei`` and ``ether`` suffixes. Every command prints a short summary, or
JSON with ``--json``. An error is one line naming the problem and the fix (exit 1; 2 for
configuration errors).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bridge.errors import BridgeError, ChainError, ConfigError, SettlementRejected

T = TypeVar("T")

app = typer.Typer(help="Sealed-bid prover market: demo, keeper and participant tools.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
prover_app = typer.Typer(help="Prover commands: stake, capacity, ask, jobs, prove, withdraw.",
                         no_args_is_help=True)
requester_app = typer.Typer(help="Requester commands: deposit, bid, status, withdraw.",
                            no_args_is_help=True)
round_app = typer.Typer(help="Inspect rounds.", no_args_is_help=True)
keeper_app = typer.Typer(help="Run the keeper daemon.", no_args_is_help=True)
key_app = typer.Typer(help="Create keystore files.", no_args_is_help=True)
app.add_typer(prover_app, name="prover")
app.add_typer(requester_app, name="requester")
app.add_typer(round_app, name="round")
app.add_typer(keeper_app, name="keeper")
app.add_typer(key_app, name="key")

RpcOpt = Annotated[str, typer.Option("--rpc", envvar="BRIDGE_RPC",
                                     help="Node URL, or eth-tester for the embedded chain.")]
MarketOpt = Annotated[str, typer.Option("--market", envvar="BRIDGE_MARKET",
                                        help="Market address or deployment record file.")]
KeystoreOpt = Annotated[str, typer.Option("--keystore", envvar="BRIDGE_KEYSTORE",
                                          help="Keystore file (else BRIDGE_PRIVATE_KEY).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
SaltsOpt = Annotated[str, typer.Option("--salts", envvar="BRIDGE_SALTS",
                                       help="Where sealed bids are recorded "
                                            "(default ~/.bridge/sealed.json).")]
FromBlockOpt = Annotated[int, typer.Option("--from-block",
                                           help="Search logs from this block (default: the "
                                                "market's deployment block).")]


# What to do about a contract error the client's own checks did not catch (decoded revert).
_HINTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "CommitsPaused": lambda a: "the owner paused new commitments; try again later "
                               "(withdrawals still work)",
    "RoundNotOpen": lambda a: f"round {a['round']} no longer accepts commitments; commit to "
                              f"round {a['current']} (omit --round)",
    "InsufficientBalance": lambda a: f"deposit {a['required'] - a['available']} wei more with "
                                     "`bridge requester deposit`",
    "InsufficientCollateral": lambda a: f"stake {a['required'] - a['collateral']} wei more with "
                                        "`bridge prover stake`, or lower your capacity",
    "NoCapacity": lambda a: "declare capacity with `bridge prover capacity UNITS` first",
    "AskAlreadyCommitted": lambda a: "one ask per prover per round: ask again next round",
    "CapacityChangeTooSoon": lambda a: f"capacity may change again from round "
                                       f"{a['allowedFrom']}",
    "CapacityChangeTooLarge": lambda a: "capacity may change at most capacityFactor-fold at a "
                                        "time: step there over several rounds",
    "CapacityTooLarge": lambda a: "declare fewer units",
    "ProofDeadlinePassed": lambda a: "too late to prove: the job can only be slashed now",
    "JobAlreadyResolved": lambda a: "the job was already proven or slashed",
    "NotJobProver": lambda a: "only the assigned prover may prove it: see `bridge prover jobs`",
    "ProofRejected": lambda a: "the verifier rejected the proof: check it, or omit --proof to "
                                "compute a proof of work",
    "ZeroAmount": lambda a: "use an amount above 0",
    "CapacityLockedByAsk": lambda a: f"your ask in round {a['round']} may still be settled: "
    "change capacity once it is settled or its settle deadline passed",
    "RoundFull": lambda a: f"round {a['round']} holds its maximum {a['cap']} commitments on "
    "this side: commit in the next round",
    "EscrowTooSmall": lambda a: f"the market's minimum escrow is {a['minimum']} wei",
    "CollateralLockedByAsk": lambda a: f"your ask in round {a['round']} is not settled yet: "
                                       "withdraw once the keeper settles it",
}


def _message(exc: BridgeError) -> str:
    if isinstance(exc, SettlementRejected) and exc.name in _HINTS:
        try:
            return f"{exc}: {_HINTS[exc.name](exc.args_)}"
        except (KeyError, TypeError):
            pass
    return str(exc)


def _fail(exc: BridgeError) -> None:
    typer.echo(f"error: {_message(exc)}", err=True)
    raise typer.Exit(2 if isinstance(exc, ConfigError) else 1)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; a project error becomes one line on stderr and a non-zero exit."""
    try:
        return fn()
    except BridgeError as exc:
        _fail(exc)
        raise  # unreachable


def _emit(as_json: bool, data: dict[str, Any], human: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=_jsonable, sort_keys=True))
    else:
        for line in human:
            typer.echo(line)


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes | bytearray):
        return "0x" + bytes(v).hex()
    return str(v)


@dataclass
class Session:
    """A connected market and, when needed, the participant acting on it."""

    market: Any
    participant: Any = None
    start_block: int | None = None
    """Where log searches start: ``--from-block``, else the deployment record's block."""

    @property
    def from_block(self) -> int:
        """First block to search for logs (the market's deployment block when not given)."""
        if self.start_block is None:
            from bridge.keeper.daemon import deployment_block

            try:
                self.start_block = deployment_block(self.market.w3, self.market.address)
            except Exception as exc:  # a node without history cannot answer get_code(old)
                raise ChainError(f"cannot find the market's deployment block on this node "
                                 f"({exc}): pass --from-block N or the deployment file as "
                                 "--market") from None
        return self.start_block


_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _session(rpc: str, market: str, keystore: str = "", salts: str = "", *,
             needs_key: bool = True, from_block: int = -1) -> Session:
    from bridge.chain.connect import connect
    from bridge.chain.market import Market
    from bridge.client.keys import load_account
    from bridge.client.participant import Participant
    from bridge.client.salts import SaltStore
    from bridge.keeper.daemon import read_market_ref

    if not market:
        raise ConfigError("no market: pass --market ADDRESS (or a deployment file written by "
                          "`bridge deploy`), or set BRIDGE_MARKET")
    if market.startswith("0x") and not _ADDRESS.match(market):
        raise ConfigError(f"--market {market!r} is not an address (0x and 40 hex digits): "
                          "pass the market's address or its deployment file")
    if not market.startswith("0x") and not Path(market).is_file():
        raise ConfigError(f"--market {market!r} is neither an address nor an existing file: "
                          "pass the market's address (0x…) or the deployment file written by "
                          "`bridge deploy`")
    address, deployed_at = read_market_ref(market)
    w3 = connect(rpc)
    if not rpc.startswith("eth-tester") and not w3.is_connected():
        raise ChainError(f"cannot reach a node at {rpc}: start it or fix --rpc / BRIDGE_RPC")
    m = Market(w3, address)
    m.check_code()
    s = Session(market=m, start_block=from_block if from_block >= 0 else deployed_at)
    if needs_key:
        account = load_account(keystore or None)
        s.participant = Participant(m, account, salts=SaltStore(salts or None))
    return s


def _amount(text: str, name: str) -> int:
    from bridge.client.amounts import parse_amount

    return parse_amount(text, name=name)


def _when(ts: int) -> str:
    """A chain timestamp for people (UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"


def _wei(v: int) -> str:
    from bridge.client.amounts import format_wei

    return format_wei(v)


# -------------------------------------------------------------------------------------- root
@app.callback()
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Sealed-bid prover market: demo, keeper and participant tools."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def version() -> None:
    """Print the package version."""
    from bridge import __version__

    typer.echo(__version__)


@app.command()
def demo(
    mechanism: Annotated[str, typer.Option(help="proofphi or dara")] = "proofphi",
    rounds: Annotated[int, typer.Option(min=1)] = 3,
    provers: Annotated[int, typer.Option(min=1)] = 4,
    requesters: Annotated[int, typer.Option(min=1)] = 6,
    seed: int = 7,
) -> None:
    """Run rounds end to end on an embedded chain and print what happened."""
    from bridge.sim.demo import run_demo
    from bridge.sim.world import SimConfig

    cfg = SimConfig(mechanism=mechanism, rounds=rounds, provers=provers,
                    requesters=requesters, seed=seed)
    guarded(lambda: run_demo(cfg, out=typer.echo))


# ------------------------------------------------------------------------------------ keeper
@keeper_app.command("run")
def keeper_run(
    config: Annotated[str | None, typer.Option("--config", help="TOML config file.")] = None,
    rpc: Annotated[str | None, typer.Option("--rpc")] = None,
    market: Annotated[str | None, typer.Option("--market")] = None,
    database: Annotated[str | None, typer.Option("--database")] = None,
    keystore: Annotated[str | None, typer.Option("--keystore")] = None,
    confirmations: Annotated[int | None, typer.Option("--confirmations")] = None,
    poll_interval: Annotated[float | None, typer.Option("--poll-interval")] = None,
    metrics_port: Annotated[int | None, typer.Option("--metrics-port")] = None,
    start_block: Annotated[int | None, typer.Option("--start-block")] = None,
    log_format: Annotated[str | None, typer.Option("--log-format",
                                                   help="text or json (one object per line)")
                          ] = None,
    max_page_bids: Annotated[int | None, typer.Option(
        "--max-page-bids", help="Bids per settlement page (0: as many as fit the limits).")
                             ] = None,
) -> None:
    """Run the keeper until SIGTERM (config: file < BRIDGE_KEEPER_* env < flags)."""
    from bridge.client.keys import load_account
    from bridge.keeper.config import load_config
    from bridge.keeper.daemon import EXIT_STARTUP, Keeper, StartupCheckFailed

    try:
        cfg = load_config(config, rpc=rpc, market=market, database=database, keystore=keystore,
                          confirmations=confirmations, poll_interval=poll_interval,
                          metrics_port=metrics_port, start_block=start_block,
                          log_format=log_format, max_page_bids=max_page_bids)
        from bridge.keeper.logfmt import configure_logging

        configure_logging(cfg.log_level, cfg.log_format)
        account = load_account(cfg.keystore or None)
        keeper = Keeper(cfg, account)
        keeper.startup_checks()
    except StartupCheckFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_STARTUP) from None
    except BridgeError as exc:
        _fail(exc)
        return
    raise typer.Exit(keeper.run())


# ------------------------------------------------------------------------------------ deploy
@app.command("deploy")
def deploy_cmd(
    network: Annotated[str, typer.Option("--network", help="deploy/networks NAME or TOML file.")],
    rpc: Annotated[str | None, typer.Option("--rpc", help="Override the file's node URL.")] = None,
    keystore: KeystoreOpt = "",
    keeper_address: Annotated[str | None, typer.Option("--keeper-address")] = None,
    keeper_public_key: Annotated[str | None, typer.Option("--keeper-public-key")] = None,
    keeper_keystore: Annotated[str | None, typer.Option(
        "--keeper-keystore", help="Keeper keystore (password in "
        "BRIDGE_KEEPER_KEYSTORE_PASSWORD, else BRIDGE_KEYSTORE_PASSWORD).")] = None,
    out: Annotated[str, typer.Option("--out", help="Records directory.")] = "deployments",
    force: Annotated[bool, typer.Option("--force", help="Deploy even if a record exists.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Deploy the verifier and market once; write deployments/<chain-id>/market.json."""
    from bridge.chain.deployment import run_deploy

    def run() -> None:
        res = run_deploy(network, rpc=rpc, keystore=keystore or None,
                         keeper_address=keeper_address, keeper_public_key=keeper_public_key,
                         keeper_keystore=keeper_keystore, out_dir=out, force=force)
        rec = res.record
        _emit(as_json, {"record": str(res.path), "deployed": res.deployed, "market": rec.market,
                        "verifier": rec.verifier, "block": rec.block, "chain_id": rec.chain_id},
              [f"{'deployed' if res.deployed else 'already deployed:'} market {rec.market} "
               f"(verifier {rec.verifier}) on chain {rec.chain_id} at block {rec.block}",
               f"record {res.path}"])

    guarded(run)


# ------------------------------------------------------------------------------------ keys
@key_app.command("new")
def key_new(keystore: Annotated[str, typer.Option("--keystore", help="File to create.")],
            as_json: JsonOpt = False) -> None:
    """Create a new key in an encrypted keystore (password from BRIDGE_KEYSTORE_PASSWORD)."""
    import os
    import secrets

    from bridge.client.keys import PASSWORD_ENV, write_keystore

    def run() -> None:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            if not sys.stdin.isatty():
                raise ConfigError(f"set {PASSWORD_ENV} to the keystore password")
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        address = write_keystore(keystore, secrets.token_bytes(32), password)
        _emit(as_json, {"address": address, "keystore": keystore},
              [f"created {keystore} for {address}"])

    guarded(run)


# ------------------------------------------------------------------------------------ prover
@prover_app.command("stake")
def prover_stake(amount: str, rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                 keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Add AMOUNT of collateral."""
    def run() -> None:
        wei = _amount(amount, "AMOUNT")  # input first: a typo needs no node
        s = _session(rpc, market, keystore)
        s.participant.stake(wei)
        info = s.market.prover_info(s.participant.address)
        _emit(as_json, {"staked": wei, **info},
              [f"staked {_wei(wei)}; collateral now {_wei(info['collateral'])}"])

    guarded(run)


@prover_app.command("capacity")
def prover_capacity(units: int, rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                    keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Declare UNITS of proving capacity per round (0 to exit)."""
    def run() -> None:
        s = _session(rpc, market, keystore)
        s.participant.set_capacity(units)
        _emit(as_json, {"capacity": units}, [f"capacity set to {_units(units)}"])

    guarded(run)


@prover_app.command("ask")
def prover_ask(cost: Annotated[str, typer.Option("--cost", help="Cost per unit.")],
               units: Annotated[int | None, typer.Option(
                   "--units", help="Units offered (default: your capacity; Prooφ: all of it).")
               ] = None,
               round: Annotated[int | None, typer.Option(
                   "--round", help="Must be the current round (default).")] = None,
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               keystore: KeystoreOpt = "", salts: SaltsOpt = "",
               as_json: JsonOpt = False) -> None:
    """Seal and commit an ask for the current round (salt recorded locally first)."""
    def run() -> None:
        wei = _amount(cost, "--cost")
        s = _session(rpc, market, keystore, salts)
        rec = s.participant.ask(cost=wei, units=units, round=round)
        _emit(as_json, rec.__dict__,
              [f"ask committed in round {rec.round}: {_units(rec.quantity)} at "
               f"{_wei(rec.price)} each",
               f"commitment {rec.commitment} (salt kept in {s.participant.salts.path})"])

    guarded(run)


def _job_rows(views: list[Any], market: Any,
              proven: set[tuple[int, int]]) -> tuple[list[dict[str, Any]], list[str]]:
    data, lines = [], []
    now = market.chain_time()
    for v in views:
        j = v.job
        state = (("proven" if (v.round, j.job_index) in proven else "slashed") if v.resolved
                 else "open" if now <= j.proof_deadline else "missed (slashable)")
        data.append({"round": v.round, "job": j.job_index, "bid": j.bid_index,
                     "requester": j.requester, "task": j.task, "units": j.units,
                     "payment": j.payment, "deadline": j.proof_deadline, "state": state})
        lines.append(f"round {v.round} bid {j.bid_index} (job {j.job_index}): {_units(j.units)}, "
                     f"pays {_wei(j.payment)}, prove by {_when(j.proof_deadline)} — {state}")
    return data, lines


def _rounds_with_my_jobs(s: Session, prover: str) -> list[int]:
    """Settled rounds that assigned a job to ``prover`` (its asks, matched to the packed jobs)."""
    from bridge.client.participant import event_logs

    my_asks = {(int(e["args"]["round"]), int(e["args"]["index"]))
               for e in event_logs(s.market, "AskCommitted", s.from_block, {"prover": prover})}
    if not my_asks:
        return []
    rounds = set()
    for e in event_logs(s.market, "BidsSettled", s.from_block):
        r = int(e["args"]["round"])
        if any((r, (int(packed) >> 192) & 0xFFFFFFFF) in my_asks for packed in e["args"]["jobs"]):
            rounds.add(r)
    return sorted(rounds)


@prover_app.command("jobs")
def prover_jobs(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                keystore: KeystoreOpt = "", from_block: FromBlockOpt = -1,
                all_jobs: Annotated[bool, typer.Option("--all", help="Include resolved.")] = False,
                as_json: JsonOpt = False) -> None:
    """Jobs assigned to you that await a proof, with deadlines."""
    def run() -> None:
        from bridge.client.participant import event_logs

        s = _session(rpc, market, keystore, from_block=from_block)
        me = s.participant.address
        views = [v for r in _rounds_with_my_jobs(s, me)
                 for v in s.participant.my_jobs(r, s.from_block) if all_jobs or not v.resolved]
        proven = {(int(e["args"]["round"]), int(e["args"]["jobIndex"]))
                  for e in event_logs(s.market, "ProofAccepted", s.from_block, {"prover": me})
                  } if any(v.resolved for v in views) else set()
        data, lines = _job_rows(views, s.market, proven)
        _emit(as_json, {"jobs": data}, lines or ["no jobs awaiting proof"])

    guarded(run)


@prover_app.command("prove")
def prover_prove(round: int, bid: int,
                 proof: Annotated[str | None, typer.Option(
                     "--proof", help="Proof bytes (0x…) for a verifier other than proof of "
                                     "work (default: computed here).")] = None,
                 rpc: RpcOpt = "http://127.0.0.1:8545",
                 market: MarketOpt = "", keystore: KeystoreOpt = "",
                 from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Compute and submit the proof(s) for bid BID of round ROUND."""
    from bridge.client.participant import Refused

    def run() -> None:
        given = None
        if proof is not None:
            try:
                given = bytes.fromhex(proof.removeprefix("0x"))
            except ValueError:
                raise Refused(f"--proof {proof!r} is not hex bytes: write 0x followed by an "
                              "even number of hex digits") from None
        s = _session(rpc, market, keystore, from_block=from_block)
        status = s.market.round_info(round).status.name.lower()
        if status != "settled":
            raise Refused(f"round {round} is {'voided' if status == 'voided' else 'not settled'}"
                          f": it has no jobs{'' if status == 'voided' else ' yet'} "
                          f"(see `bridge round show {round}`)")
        mine = [v for v in s.participant.my_jobs(round, s.from_block) if v.job.bid_index == bid]
        if not mine:
            raise Refused(f"no job of bid {bid} in round {round} is assigned to "
                          f"{s.participant.address}: see `bridge prover jobs`")
        done = []
        for v in mine:
            receipt = s.participant.prove(v, given)
            done.append({"job": v.job.job_index, "tx": receipt["transactionHash"],
                         "payment": v.job.payment})
        _emit(as_json, {"proved": done},
              [f"proved job {d['job']} of round {round}: {_wei(d['payment'])} now withdrawable"
               for d in done])

    guarded(run)


def _withdraw(rpc: str, market: str, keystore: str, amount: str | None, as_json: bool) -> None:
    def run() -> None:
        wanted = None if amount is None else _amount(amount, "AMOUNT")
        s = _session(rpc, market, keystore)
        wei = s.participant.withdraw(wanted)
        _emit(as_json, {"withdrawn": wei}, [f"withdrew {_wei(wei)}"])

    guarded(run)


@prover_app.command("withdraw")
def prover_withdraw(amount: Annotated[str | None, typer.Argument()] = None,
                    rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                    keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Withdraw AMOUNT (default: all that is free) of collateral: stake and proof payments.

    Payments for proven jobs are credited to collateral; what backs neither your capacity nor
    your open jobs can be withdrawn. Any market balance (e.g. from a deposit) is sent too.
    """
    def run() -> None:
        wanted = None if amount is None else _amount(amount, "AMOUNT")
        s = _session(rpc, market, keystore)
        p = s.participant
        if wanted is not None:
            wei = p.withdraw_collateral(wanted)
            extra = 0
        else:
            extra = s.market.balance_of(p.address)
            # all that is free: collateral (refuses with the reason when none is and there is
            # no market balance either), then any market balance
            wei = p.withdraw_collateral() if p.free_collateral() or not extra else 0
            if extra:
                p.withdraw(extra)
        _emit(as_json, {"withdrawn": wei + extra, "collateral": wei, "balance": extra},
              [f"withdrew {_wei(wei + extra)}"
               + (f" ({_wei(wei)} collateral, {_wei(extra)} market balance)"
                  if wei and extra else "")])

    guarded(run)


@prover_app.command("status")
def prover_status(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                  keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Collateral, capacity, open jobs and withdrawable balance."""
    def run() -> None:
        s = _session(rpc, market, keystore)
        me = s.participant.address
        info = s.market.prover_info(me)
        free = s.participant.free_collateral() + s.market.balance_of(me)
        outstanding = s.market.outstanding_units(me)
        data = {"address": me, **info, "outstanding_units": outstanding, "withdrawable": free}
        _emit(as_json, data, [
            f"prover {me}",
            f"collateral {_wei(info['collateral'])}, capacity {_units(info['capacity'])}, "
            f"{_units(outstanding)} awaiting proof",
            f"withdrawable {_wei(free)}"])

    guarded(run)


# --------------------------------------------------------------------------------- requester
@requester_app.command("deposit")
def requester_deposit(amount: str, rpc: RpcOpt = "http://127.0.0.1:8545",
                      market: MarketOpt = "", keystore: KeystoreOpt = "",
                      as_json: JsonOpt = False) -> None:
    """Deposit AMOUNT into your market balance (escrow for bids comes from it)."""
    def run() -> None:
        wei = _amount(amount, "AMOUNT")
        s = _session(rpc, market, keystore)
        s.participant.deposit(wei)
        free = s.market.balance_of(s.participant.address)
        _emit(as_json, {"deposited": wei, "free": free},
              [f"deposited {_wei(wei)}; free balance {_wei(free)}"])

    guarded(run)


def _task_bytes(task: str) -> bytes:
    from eth_utils import keccak

    if task.startswith("0x") and len(task) == 66:
        try:
            return bytes.fromhex(task[2:])
        except ValueError:
            pass
    return keccak(text=task)


@requester_app.command("bid")
def requester_bid(value: Annotated[str, typer.Option("--value", help="Total value (sealed).")],
                  size: Annotated[int, typer.Option("--size", help="Units (sealed).")],
                  escrow: Annotated[str, typer.Option("--escrow", help="Public escrow ≥ value.")],
                  task: Annotated[str, typer.Option("--task",
                                                    help="0x-32-byte task id, or text hashed.")],
                  round: Annotated[int | None, typer.Option(
                      "--round", help="Must be the current round (default).")] = None,
                  rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                  keystore: KeystoreOpt = "", salts: SaltsOpt = "",
                  as_json: JsonOpt = False) -> None:
    """Seal and commit a bid for the current round (salt recorded locally first)."""
    def run() -> None:
        wei, locked = _amount(value, "--value"), _amount(escrow, "--escrow")
        s = _session(rpc, market, keystore, salts)
        rec = s.participant.bid(value=wei, size=size, escrow=locked, task=_task_bytes(task),
                                round=round)
        _emit(as_json, {**rec.__dict__, "task": rec.extra, "escrow": locked},
              [f"bid committed in round {rec.round}: value {_wei(rec.price)} for "
               f"{_units(rec.quantity)}, escrow {_wei(locked)} locked",
               f"commitment {rec.commitment} (salt kept in {s.participant.salts.path})"])

    guarded(run)


@requester_app.command("status")
def requester_status(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                     keystore: KeystoreOpt = "", from_block: FromBlockOpt = -1,
                     as_json: JsonOpt = False) -> None:
    """Your bids, their outcomes, charges and refunds, and your free balance."""
    from bridge.client.participant import event_logs, round_charges, settled_reveals

    def run() -> None:
        s = _session(rpc, market, keystore, from_block=from_block)
        me = s.participant.address
        f = {"requester": me}
        commits = event_logs(s.market, "BidCommitted", s.from_block, f)
        slashes = [e["args"] for e in event_logs(s.market, "JobSlashed", s.from_block)
                   if e["args"]["requester"] == me]
        rows, lines = [], [f"requester {me}: free balance {_wei(s.market.balance_of(me))}"]
        charges_of: dict[int, list[int] | None] = {}
        reveals_of: dict[int, list[Any] | None] = {}
        for c in commits:
            a = c["args"]
            r, i = int(a["round"]), int(a["index"])
            if r not in charges_of:
                charges_of[r] = round_charges(s.market, r, s.from_block)
                reveals_of[r] = (settled_reveals(s.market, r, s.from_block)
                                 if charges_of[r] is not None else None)
            charges, reveals = charges_of[r], reveals_of[r]
            reveal = reveals[i] if reveals is not None else None
            status = s.market.round_info(r).status.name.lower()
            charge = charges[i] if charges is not None else None
            refund = a["escrow"] - charge if charge is not None else None
            outcome = ("voided, escrow returned" if status == "voided" else
                       "pending" if charge is None else
                       f"invalid (the keeper could not open it), escrow {_wei(a['escrow'])} "
                       "returned"
                       if reveal is not None and not reveal.valid else
                       f"won, charged {_wei(charge)}, refunded {_wei(refund or 0)}" if charge
                       else f"not allocated, escrow {_wei(a['escrow'])} returned")
            rows.append({"round": r, "index": i, "escrow": a["escrow"], "task": a["task"],
                         "commitment": a["commitment"], "charge": charge, "refund": refund,
                         "valid": None if reveal is None else bool(reveal.valid),
                         "value": reveal.value if reveal is not None and reveal.valid else None,
                         "status": outcome})
            lines.append(f"round {r} bid {i}: escrow {_wei(a['escrow'])} — {outcome}")
        for sl in slashes:
            lines.append(f"round {sl['round']} job {sl['jobIndex']}: prover missed the deadline; "
                         f"refunded {_wei(sl['refund'])} + compensation "
                         f"{_wei(sl['compensation'])}")
        _emit(as_json, {"address": me, "free": s.market.balance_of(me), "bids": rows,
                        "slashes": [dict(x) for x in slashes]}, lines)

    guarded(run)


@requester_app.command("withdraw")
def requester_withdraw(amount: Annotated[str | None, typer.Argument()] = None,
                       rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                       keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Withdraw AMOUNT (default: all) of your free balance."""
    _withdraw(rpc, market, keystore, amount, as_json)


# ------------------------------------------------------------------------------------- round
@round_app.command("void")
def round_void(round: Annotated[int, typer.Argument(help="The round to void.")],
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               keystore: KeystoreOpt = "", from_block: FromBlockOpt = -1,
               as_json: JsonOpt = False) -> None:
    """Void round R after its settlement deadline if the keeper did not settle it: every escrow
    returns (pages of it that did settle are unwound). Anyone may; it costs only gas."""
    def run() -> None:
        s = _session(rpc, market, keystore, from_block=from_block)
        out = s.participant.void_round(round, s.from_block)
        _emit(as_json, out, [f"round {round} voided in {out['transactions']} transaction"
                             f"{'s' if out['transactions'] != 1 else ''}: "
                             f"{out['bids_returned']} bids' escrow returned"
                             + (f", {out['unwound_pages']} settled pages unwound"
                                if out["unwound_pages"] else "")])
    guarded(run)


@round_app.command("show")
def round_show(round: Annotated[int | None, typer.Argument()] = None,
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Phase, deadlines and commitments of round R (default: current); outcome once settled."""
    def run() -> None:
        s = _session(rpc, market, needs_key=False, from_block=from_block)
        m = s.market
        r = m.current_round() if round is None else round
        info = m.round_info(r)
        opens, closes, settle_by, prove_by = m.round_times(r)
        now = m.chain_time()
        phase = (info.status.name.lower() if info.status.name != "OPEN" else
                 "not open yet" if now < opens else
                 "accepting commitments" if now < closes else
                 "awaiting settlement" if now <= settle_by else "voidable (keeper missed it)")
        data: dict[str, Any] = {"round": r, "phase": phase, "opens_at": opens,
                                "closes_at": closes, "settle_deadline": settle_by,
                                "proof_deadline": prove_by, "bids": info.bid_count,
                                "asks": info.ask_count, "mechanism": m.params.mechanism}
        lines = [f"round {r} ({m.params.mechanism}): {phase}",
                 f"commits {_when(opens)} to {_when(closes)}, settle by {_when(settle_by)}"
                 + (f", prove by {_when(prove_by)}" if prove_by else ""),
                 f"{info.bid_count} sealed bids, {info.ask_count} sealed asks"]
        if info.status.name == "SETTLED":
            from bridge.client.participant import event_logs, round_charges, settled_jobs

            flt = {"round": r}
            settled = event_logs(m, "RoundSettled", s.from_block, flt)
            summary = settled[-1]["args"] if settled else {}
            charges = round_charges(m, r, s.from_block) or []
            winners = [{"index": i, "charge": c} for i, c in enumerate(charges) if c > 0]
            proofs = {int(e["args"]["jobIndex"]): e["args"]
                      for e in event_logs(m, "ProofAccepted", s.from_block, flt)}
            slashes = {int(e["args"]["jobIndex"]): e["args"]
                       for e in event_logs(m, "JobSlashed", s.from_block, flt)}

            def state(job: int) -> str:
                if job in proofs:
                    return "proven"
                if job in slashes:
                    return "slashed"
                return "open" if now <= prove_by else "missed (slashable)"

            jobs: list[dict[str, Any]] = []
            for v in settled_jobs(m, r, s.from_block):
                j = v.job
                row: dict[str, Any] = {"job": j.job_index, "bid": j.bid_index,
                                       "prover": j.prover, "units": j.units,
                                       "payment": j.payment, "state": state(j.job_index)}
                if j.job_index in slashes:
                    row["refund"] = int(slashes[j.job_index]["refund"])
                    row["compensation"] = int(slashes[j.job_index]["compensation"])
                jobs.append(row)
            total_charged = int(summary.get("totalCharged", 0))
            total_paid = int(summary.get("totalPaid", 0))
            data.update({"winners": winners, "jobs": jobs, "total_charged": total_charged,
                         "total_paid": total_paid})
            unit_pay = sorted({row["payment"] // row["units"] for row in jobs if row["units"]})
            data["unit_payments"] = unit_pay
            if winners:
                prices = sorted({w["charge"] for w in winners})
                lines.append(f"{len(winners)} winning bids, charged "
                             + ", ".join(_wei(c) for c in prices)
                             + "; provers paid " + ", ".join(_wei(c) for c in unit_pay)
                             + " per unit")
                lines.append(f"{_wei(total_charged)} charged, {_wei(total_paid)} paid to "
                             f"provers, {_wei(total_charged - total_paid)} margin")
            else:
                lines.append("no trade")
            for row in jobs:
                lines.append(f"  job {row['job']}: bid {row['bid']} → {row['prover']} "
                             f"{_units(row['units'])}, pays {_wei(row['payment'])} — {row['state']}"
                             + (f" (requester refunded {_wei(row['refund'])} + "
                                f"{_wei(row['compensation'])} compensation)"
                                if "refund" in row else ""))
        _emit(as_json, data, lines)

    guarded(run)


@app.command("audit")
def audit_cmd(round: int, rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
              from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Recompute settled round ROUND from on-chain data and compare with the settlement.

    The keeper's reveals are public once a round is settled: this re-runs the market's mechanism
    on them, audits the result and compares charges, jobs and payments. Exit 1 if they differ.
    """
    from bridge.client.round_audit import audit_round

    def run() -> bool:
        s = _session(rpc, market, needs_key=False, from_block=from_block)
        result = audit_round(s.market, round, s.from_block)
        lines = [f"round {round} ({result.mechanism}): {result.valid_bids} valid bids, "
                 f"{result.valid_asks} valid asks recomputed from the settlement"]
        if result.invalid_bids or result.invalid_asks:
            lines.append(f"settled as invalid by the keeper (not checkable on chain): bids "
                         f"{result.invalid_bids or '—'}, asks {result.invalid_asks or '—'}")
        lines += (["the settlement equals the mechanism's outcome"] if result.ok
                  else [f"DIFFERS: {d}" for d in result.differences])
        _emit(as_json, {"round": round, "ok": result.ok, "mechanism": result.mechanism,
                        "invalid_bids": result.invalid_bids, "invalid_asks": result.invalid_asks,
                        "differences": result.differences}, lines)
        return result.ok

    if not guarded(run):
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()
