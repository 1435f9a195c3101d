"""What every command shares: connection options, error hints, output, the session."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from bridge.cli.failures import DEBUG_ENV, fail
from bridge.config import missing_market_file
from bridge.errors import BridgeError, ChainError, ConfigError

T = TypeVar("T")

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


def _fail(exc: BaseException) -> NoReturn:
    fail(exc)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; an expected failure becomes one line on stderr and a non-zero exit (see
    :mod:`bridge.cli.failures`; the root group does the same for anything that escapes)."""
    try:
        return fn()
    except (typer.TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get(DEBUG_ENV) and not isinstance(exc, BridgeError):
            raise
        fail(exc)


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
    marks: dict[tuple[int, int], list[Any]] = field(default_factory=dict)
    """Checked invalid marks of the user's own orders, per (round, side)."""

    @property
    def from_block(self) -> int:
        """First block to search for logs (the market's deployment block when not given)."""
        if self.start_block is None:
            from bridge.chain.deployment import deployment_block

            try:
                self.start_block = deployment_block(self.market.w3, self.market.address)
            except Exception as exc:  # a node without history cannot answer get_code(old)
                raise ChainError(f"cannot find the market's deployment block on this node "
                                 f"({exc}): pass --from-block N or the deployment file as "
                                 "--market") from None
        return self.start_block


_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _session(rpc: str, market: str, keystore: str = "", salts: str = "", *,
             needs_key: bool = True, from_block: int = -1, timeout: float = 10.0) -> Session:
    from bridge.chain.connect import connect
    from bridge.chain.deployment import read_market_ref
    from bridge.chain.market import Market
    from bridge.client.participant import Participant
    from bridge.client.salts import SaltStore
    from bridge.keys import load_account

    if not market:
        raise ConfigError("no market: pass --market ADDRESS (or a deployment file written by "
                          "`bridge deploy`), or set BRIDGE_MARKET")
    if market.startswith("0x") and not _ADDRESS.match(market):
        raise ConfigError(f"--market {market!r} is not an address (0x and 40 hex digits): "
                          "pass the market's address or its deployment file")
    if not market.startswith("0x") and not Path(market).is_file():
        raise ConfigError("--" + missing_market_file(market))
    address, deployed_at = read_market_ref(market)
    w3 = connect(rpc, timeout=timeout)
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
    from bridge.units import parse_amount

    return parse_amount(text, name=name)


def _when(ts: int, now: int | None = None) -> str:
    """A chain timestamp for people: UTC and how far from ``now`` (the chain's time; default
    the wall clock), e.g. ``2026-12-04 05:40:10 UTC (in 2m 10s)``."""
    from bridge.units import format_time

    return format_time(ts, now)


def _units(n: int) -> str:
    from bridge.units import plural

    return plural(n, "unit")


def _wei(v: int) -> str:
    from bridge.units import format_wei

    return format_wei(v)


def _withdraw(rpc: str, market: str, keystore: str, amount: str | None, as_json: bool) -> None:
    def run() -> None:
        wanted = None if amount is None else _amount(amount, "AMOUNT")
        s = _session(rpc, market, keystore)
        wei = s.participant.withdraw(wanted)
        _emit(as_json, {"withdrawn": wei}, [f"withdrew {_wei(wei)}"])

    guarded(run)


def _own_marks(s: Session, round: int, side: int) -> list[Any]:
    """The checked invalid marks of the user's own orders on ``side`` in ``round`` (once per
    session: the round's evidence is read and verified on first use)."""
    from bridge.client.round_audit import own_marks
    from bridge.sealed import Side

    if (round, side) not in s.marks:
        s.marks[(round, side)] = own_marks(s.market, round, s.from_block,
                                           s.participant.address, Side(side))
    return s.marks[(round, side)]


def _mark_sentence(s: Session, round: int, index: int, side: int,
                   commitment: bytes) -> tuple[bool, str]:
    """Whether the keeper was right to settle my order ``index`` as invalid, and why."""
    from bridge.client.round_audit import explain_own_mark

    verdicts = [v for v in _own_marks(s, round, side) if v.index == index]
    if not verdicts:
        return False, "no evidence was published for this mark"
    records = [x for x in s.participant.salts.find(market=s.market.address, round=round,
                                                  participant=s.participant.address)
               if x.side == int(side) and x.commitment.lower() == "0x" + commitment.hex()]
    return explain_own_mark(verdicts[0], records[0] if records else None)
