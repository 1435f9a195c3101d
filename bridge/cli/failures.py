"""Every failure of a ``bridge`` command as one line naming the problem and the fix.

One place for it: the root command group (:class:`OneLineErrors`) catches what escapes a command
and :func:`explain` turns it into ``error: …`` on stderr with a distinct exit code (2 for
configuration and input errors, 1 for the rest). The project's own errors carry their message; the
expected failures of the layers below (a node that does not answer, a contract that is not a
market, a missing file) are named here. Anything else is a bug: one line that says so, and the
traceback only with ``BRIDGE_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from bridge.errors import BridgeError, ConfigError, SettlementRejected

DEBUG_ENV = "BRIDGE_DEBUG"


def bridge_message(exc: BridgeError) -> str:
    """The project error's message, with the revert hint when the contract refused."""
    if isinstance(exc, SettlementRejected):
        from bridge.hints import hint

        text = hint(exc.name, exc.args_)
        if text is not None:
            return f"{exc}: {text}"
    return str(exc)


def _first_line(text: str, limit: int = 400) -> str:
    """``text`` on one line (a node's or library's text cut at ``limit`` characters)."""
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[:limit - 1] + "…"


def explain(exc: BaseException) -> tuple[str, int]:
    """``(one line, exit code)`` for ``exc``: what went wrong and what to do."""
    if isinstance(exc, BridgeError):
        return (_first_line(bridge_message(exc), limit=2000),
                2 if isinstance(exc, ConfigError) else 1)
    import requests
    from web3 import exceptions as w3e

    if isinstance(exc, requests.exceptions.ConnectionError | w3e.ProviderConnectionError
                  | ConnectionError):
        return (_first_line(f"cannot reach the node ({type(exc).__name__}): start it, or fix "
                            "--rpc / BRIDGE_RPC"), 1)
    if isinstance(exc, requests.exceptions.Timeout | w3e.TimeExhausted | w3e.RequestTimedOut
                  | TimeoutError):
        return "the node did not answer in time: check that it runs and is synced (--rpc)", 1
    if isinstance(exc, w3e.ContractLogicError | w3e.BadFunctionCallOutput):
        return ("a call to the contract reverted without a reason: the address is probably not "
                "a bridge market of this kind (the verifier's? another chain's?): pass the "
                "market's address or its deployment file as --market", 1)
    if isinstance(exc, w3e.InvalidAddress):
        return _first_line(f"not a valid address: {exc}: use a 0x-prefixed, 40-hex-digit "
                           "address"), 2
    if isinstance(exc, w3e.Web3RPCError):
        return _first_line(f"the node refused the request: {_rpc_text(exc)}: check --rpc "
                           "points at the market's chain"), 1
    if isinstance(exc, FileNotFoundError):
        name = exc.filename or exc
        return _first_line(f"no such file or program: {name}: check the path (or install it)"), 2
    if isinstance(exc, PermissionError):
        return _first_line(f"permission denied: {exc.filename or exc}: check the file's "
                           "permissions"), 2
    if isinstance(exc, IsADirectoryError | NotADirectoryError):
        return _first_line(f"{exc.filename or exc}: expected a file, found a directory (or "
                           "the reverse): check the path"), 2
    if isinstance(exc, json.JSONDecodeError):
        return _first_line(f"not valid JSON ({exc.msg} at line {exc.lineno}): check the "
                           "file"), 2
    if isinstance(exc, OSError):
        return _first_line(f"{exc.strerror or exc} ({exc.filename or type(exc).__name__}): "
                           "check the path and the network"), 1
    return (_first_line(f"unexpected {type(exc).__name__}: {exc}. This is a bug in bridge: "
                        f"please report it with the command ({DEBUG_ENV}=1 prints the "
                        "traceback)"), 1)


def _rpc_text(exc: Any) -> str:
    data = exc.args[0] if exc.args else exc
    if isinstance(data, dict):
        return str(data.get("message", data))
    return str(data)


def fail(exc: BaseException) -> NoReturn:
    """Print ``exc`` as one line on stderr and exit with its code."""
    text, code = explain(exc)
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(code)


class OneLineErrors(TyperGroup):
    """The root group: no command ends in a traceback (unless ``BRIDGE_DEBUG=1``)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
            raise  # usage errors and exits: Typer prints and exits as usual
        except Exception as exc:
            if os.environ.get(DEBUG_ENV) and not isinstance(exc, BridgeError):
                raise
            fail(exc)
