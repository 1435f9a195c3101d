"""Autopilot commands: ``bridge prover run`` (the prover agent) and ``bridge requester request``
(bid, wait, re-bid, fetch and check the proof)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bridge.cli.apps import prover_app, requester_app
from bridge.cli.common import (
    FromBlockOpt,
    JsonOpt,
    KeystoreOpt,
    MarketOpt,
    RpcOpt,
    SaltsOpt,
    _amount,
    _emit,
    _fail,
    _session,
    guarded,
)
from bridge.errors import BridgeError, ConfigError
from bridge.units import format_duration, format_wei, plural


@prover_app.command("run")
def prover_run(
    config: Annotated[str | None, typer.Option("--config", help="TOML config file.")] = None,
    rpc: Annotated[str | None, typer.Option("--rpc", help="Node URL.")] = None,
    market: Annotated[str | None, typer.Option(
        "--market", help="Market address or deployment record file.")] = None,
    database: Annotated[str | None, typer.Option(
        "--database", help="sqlite:///FILE or postgresql+psycopg://… (the agent's state).")] = None,
    keystore: Annotated[str | None, typer.Option(
        "--keystore", help="Keystore file (else BRIDGE_PRIVATE_KEY).")] = None,
    cost_per_unit: Annotated[str | None, typer.Option(
        "--cost-per-unit", help="Your true cost of one unit (e.g. 60gwei): the sealed ask.")
    ] = None,
    capacity: Annotated[int | None, typer.Option(
        "--capacity", help="Units offered every round.")] = None,
    max_stake: Annotated[str | None, typer.Option(
        "--max-stake", help="Collateral the agent may add on its own (0: never).")] = None,
    max_concurrent_proofs: Annotated[int | None, typer.Option(
        "--max-concurrent-proofs", help="Proofs computed at once.")] = None,
    safety_margin: Annotated[float | None, typer.Option(
        "--safety-margin", help="Seconds before a deadline below which it warns.")] = None,
    withdraw_above: Annotated[str | None, typer.Option(
        "--withdraw-above", help="Withdraw free collateral above this (0: never).")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", help="/metrics and /healthz port (0: off).")] = None,
    poll_interval: Annotated[float | None, typer.Option(
        "--poll-interval", help="Seconds between ticks.")] = None,
    log_format: Annotated[str | None, typer.Option("--log-format", help="text or json")] = None,
    drain: Annotated[bool, typer.Option(
        "--drain", help="Stop asking, finish outstanding jobs, release the collateral, exit 0."
    )] = False,
) -> None:
    """Run the prover agent until SIGTERM (config: file < BRIDGE_PROVER_* env < flags)."""
    from bridge.agents.config import load_agent_config
    from bridge.agents.prover import ProverAgent
    from bridge.keeper.logfmt import configure_logging
    from bridge.keys import load_account

    try:
        cfg = load_agent_config(config, rpc=rpc, market=market, database=database,
                                keystore=keystore, cost_per_unit=cost_per_unit,
                                capacity=capacity, max_stake=max_stake,
                                max_concurrent_proofs=max_concurrent_proofs,
                                safety_margin=safety_margin, withdraw_above=withdraw_above,
                                metrics_port=metrics_port, poll_interval=poll_interval,
                                log_format=log_format)
        configure_logging(cfg.log_level, cfg.log_format)
        account = load_account(cfg.keystore or None)
        agent = ProverAgent(cfg, account, drain=drain)
        agent.startup_checks()
    except BridgeError as exc:
        _fail(exc)
        return
    try:
        code = agent.run()
    except BridgeError as exc:  # e.g. the metrics port is taken: nothing was sent yet
        _fail(exc)
        return
    raise typer.Exit(code)


@requester_app.command("request")
def requester_request(
    value: Annotated[str, typer.Option("--value", help="Most you pay for the proof (sealed).")],
    escrow: Annotated[str | None, typer.Option(
        "--escrow", help="Public escrow ≥ value (default: the value).")] = None,
    circuit: Annotated[str | None, typer.Option("--circuit", help="Circuit id or name.")] = None,
    inputs: Annotated[str | None, typer.Option(
        "--input", help="Public inputs: a JSON file or comma-separated numbers.")] = None,
    task: Annotated[str | None, typer.Option(
        "--task", help="Proof-of-work markets: 0x-32-byte task id, or text hashed.")] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait for the outcome (without it: deposit, bid and return).")
    ] = False,
    retries: Annotated[int, typer.Option(
        "--retries", min=0, help="Re-bid in the next round up to N times after a loss.")] = 0,
    out: Annotated[str | None, typer.Option(
        "--out", help="Directory to write the checked proof to: proof.json and public.json "
                       "(circuit markets) or proof.bin, the nonce (proof of work); "
                       "`requester proof` writes the same.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Give up after S seconds.")
                       ] = 3600.0,
    rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "", keystore: KeystoreOpt = "",
    salts: SaltsOpt = "", from_block: FromBlockOpt = -1, as_json: JsonOpt = False,
) -> None:
    """Request one proof: deposit what is missing, bid sealed, wait, re-bid after a loss, then
    fetch the proof, check it locally and write it (or report the refund and compensation)."""
    from bridge.cli.requester import _task_bytes
    from bridge.client.requester import Requester
    from bridge.client.tasks import read_inputs

    def run() -> None:
        wei = _amount(value, "--value")
        locked = _amount(escrow, "--escrow") if escrow is not None else None
        values = read_inputs(inputs) if inputs is not None else []
        if circuit is None and task is None:
            raise ConfigError("name the task: --task (proof-of-work market) or --circuit with "
                              "--input (circuit market)")
        s = _session(rpc, market, keystore, salts, from_block=from_block)
        say = (lambda _m: None) if as_json else (lambda m: typer.echo(m, err=True))
        req = Requester(s.participant, from_block=s.from_block, timeout=timeout,
                        poll_interval=0.5, say=say)
        task_word = _task_bytes(task) if task is not None else None
        if not wait:
            r, index = req.submit(value=wei, escrow=locked, circuit=circuit, inputs=values,
                                  task=task_word)
            price = req.posted_price(r)
            _emit(as_json, {"status": "committed", "round": r, "bid_index": index,
                            **({"price": price} if price is not None else {})},
                  [f"committed: round {r} bid {index}; follow it with `bridge requester status`"])
            return
        result = req.request(value=wei, escrow=locked, circuit=circuit, inputs=values,
                             task=task_word, retries=retries, out=Path(out) if out else None)
        lines = [f"{result.status}: round {result.round} bid {result.bid_index} after "
                 f"{plural(result.attempts, 'attempt')}, "
                 f"{format_duration(round(result.latency_s))}"]
        if result.status == "proven":
            lines.append(f"proof by {result.prover} checked locally; charged "
                         f"{format_wei(result.charge or 0)}"
                         + (f"; written to {', '.join(result.files)}" if result.files else ""))
        elif result.status == "refunded":
            lines.append(f"refund {format_wei(result.refund or 0)} + compensation "
                         f"{format_wei(result.compensation or 0)} credited to your balance")
        else:
            lines.append(result.reason)
        _emit(as_json, result.as_dict(), lines)
        if result.status != "proven":
            raise typer.Exit(3)

    guarded(run)
