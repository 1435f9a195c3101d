"""``bridge audit``: check a round, or follow the market as a watchtower."""

from __future__ import annotations

import logging
import signal
from typing import Annotated, Any

import typer

from bridge.cli.apps import app
from bridge.cli.common import FromBlockOpt, JsonOpt, MarketOpt, RpcOpt, _emit, _fail, _session
from bridge.errors import BridgeError, ConfigError


@app.command("audit")
def audit_cmd(
    round: Annotated[int | None, typer.Argument(help="The settled round to check.")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Watchtower: audit every round as its pages land, until SIGTERM.")
                      ] = False,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast", help="With --follow: exit 1 at the first discrepancy.")] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between polls (--follow).")
                    ] = 2.0,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", help="Serve /metrics and /healthz on this port (--follow; 0: any).")
                            ] = None,
    metrics_host: Annotated[str, typer.Option("--metrics-host")] = "127.0.0.1",
    confirmations: Annotated[int, typer.Option(
        "--confirmations", min=0, help="With --follow: audit blocks this deep behind the head.")
                             ] = 0,
    rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
    from_block: FromBlockOpt = -1, as_json: JsonOpt = False,
) -> None:
    """Check everything the keeper decided in round ROUND; exit 1 with one line per discrepancy.

    Each order settled as invalid: its evidence (shared point, DLEQ proof) against the round's
    keeper key, the decryption and the stated reason. Each valid reveal against its commitment.
    The outcome against a fresh clearing with the market's mechanism: charges, jobs, payments.
    With --follow, audit every round as it settles (see docs/operator/watchtower.md).
    """
    if follow:
        _follow(rpc, market, from_block, poll, fail_fast, metrics_port, metrics_host,
                confirmations)
        return
    from bridge.client.round_audit import audit_round

    def run() -> bool:
        if round is None:
            raise ConfigError("give the ROUND to audit, or --follow to audit every round")
        s = _session(rpc, market, needs_key=False, from_block=from_block)
        result = audit_round(s.market, round, s.from_block)
        lines = [f"round {round} ({result.mechanism}): {result.valid_bids} valid bids, "
                 f"{result.valid_asks} valid asks recomputed from the settlement"]
        for v in result.marks:
            lines.append(f"{v.subject} ({v.participant}) marked {v.reason}: "
                         f"{'confirmed' if v.check.ok else 'WRONG'} — {v.check.explanation}")
        lines += (["every decision of the keeper checks out"] if result.ok
                  else [f"DISCREPANCY {d.line()}" for d in result.differences])
        _emit(as_json, {
            "round": round, "ok": result.ok, "mechanism": result.mechanism,
            "marks": [{"side": v.subject.split()[0], "index": v.index,
                       "participant": v.participant, "reason": v.reason, "ok": v.check.ok,
                       "explanation": v.check.explanation} for v in result.marks],
            "discrepancies": [{"kind": d.kind, "subject": d.subject, "detail": d.detail}
                              for d in result.differences]}, lines)
        return result.ok

    try:
        ok = run()
    except BridgeError as exc:
        _fail(exc)
        return
    if not ok:
        raise typer.Exit(1)


def _follow(rpc: str, market: str, from_block: int, poll: float, fail_fast: bool,
            metrics_port: int | None, metrics_host: str, confirmations: int) -> None:
    from bridge.client.watchtower import Watchtower
    from bridge.health import HealthServer
    from bridge.keeper.logfmt import configure_logging

    configure_logging("INFO", "text")
    log = logging.getLogger("bridge.watchtower")
    try:
        s = _session(rpc, market, needs_key=False, from_block=from_block)
        tower = Watchtower(s.market, s.from_block, confirmations=confirmations)
    except BridgeError as exc:
        _fail(exc)
        return
    http = None
    if metrics_port is not None:
        http = HealthServer(tower.metrics, metrics_host, metrics_port,
                            stale_after=max(30.0, 10 * poll)).start()
        log.info("metrics on http://%s:%s/metrics", metrics_host, http.port)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping after this poll", signum)
        tower.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("watching market %s from block %s", s.market.address, s.from_block)
    try:
        code = tower.run(poll, fail_fast=fail_fast)
    finally:
        if http is not None:
            http.stop()
    raise typer.Exit(code)
