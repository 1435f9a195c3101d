"""Operator commands: version, demo, keeper run, deploy, key new."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from bridge.cli.apps import app, keeper_app, key_app
from bridge.cli.common import (
    JsonOpt,
    KeystoreOpt,
    _emit,
    _fail,
    guarded,
)
from bridge.errors import BridgeError, ConfigError


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
    mechanism: Annotated[str, typer.Option(
        help="proofphi, dara, fixedprice or posted-price")] = "proofphi",
    rounds: Annotated[int, typer.Option(min=1)] = 3,
    provers: Annotated[int, typer.Option(min=1)] = 4,
    requesters: Annotated[int, typer.Option(min=1)] = 6,
    seed: int = 7,
    chain: Annotated[str, typer.Option(
        help="eth-tester (in process) or anvil (started and stopped here)")] = "eth-tester",
    proofs: Annotated[str, typer.Option(
        help="pow (hashcash tasks) or groth16 (registered circuits, snarkjs proofs; use it "
             "with --chain anvil: py-evm takes ~1.7 s per pairing check)")] = "pow",
) -> None:
    """Run rounds end to end on a local chain and print what happened."""
    if mechanism == "posted-price":
        from bridge.sim.posted_price_demo import run_posted_price_demo

        if chain != "eth-tester":
            _fail(ConfigError("--mechanism posted-price runs on eth-tester only"))
        guarded(lambda: run_posted_price_demo(out=typer.echo))
        return
    from bridge.sim.demo import run_demo
    from bridge.sim.world import SimConfig

    cfg = SimConfig(mechanism=mechanism, rounds=rounds, provers=provers,
                    requesters=requesters, seed=seed, proofs=proofs)
    guarded(lambda: run_demo(cfg, out=typer.echo, chain=chain))


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
    from bridge.keeper.config import load_config
    from bridge.keeper.daemon import EXIT_STARTUP, Keeper, StartupCheckFailed
    from bridge.keys import load_account

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
    try:
        code = keeper.run()
    except BridgeError as exc:  # e.g. the metrics port is taken
        _fail(exc)
        return
    raise typer.Exit(code)


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
    allow_same: Annotated[bool, typer.Option(
        "--allow-same-owner-and-keeper",
        help="Let the deployer (owner) also be the keeper: development chains only.")] = False,
    mechanism: Annotated[str | None, typer.Option(
        "--mechanism", help="Override the file's: fixedprice, proofphi or dara.")] = None,
    initial_price: Annotated[str | None, typer.Option(
        "--initial-price", help="fixedprice: price per unit until the keeper learns one "
                                "(overrides the file's; wei, gwei or ether).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy the verifier and market once; write deployments/<chain-id>/market.json."""
    from bridge.chain.deployment import run_deploy
    from bridge.units import parse_amount

    def run() -> None:
        price = None if initial_price is None else parse_amount(initial_price,
                                                                name="--initial-price")
        res = run_deploy(network, rpc=rpc, keystore=keystore or None,
                         keeper_address=keeper_address, keeper_public_key=keeper_public_key,
                         keeper_keystore=keeper_keystore, out_dir=out, force=force,
                         allow_same_owner_and_keeper=allow_same, mechanism=mechanism,
                         initial_price=price)
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

    from bridge.keys import PASSWORD_ENV, write_keystore

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


# ------------------------------------------------------------------------------------ devnet
@app.command("devnet")
def devnet_cmd(
    port: Annotated[int, typer.Option(help="JSON-RPC port (eth-tester server or anvil).")] = 8545,
    chain: Annotated[str, typer.Option(help="eth-tester (served here) or anvil")] = "eth-tester",
    mechanism: Annotated[str, typer.Option(
        help="fixedprice (a posted price per unit: one requester and one prover trade), "
             "proofphi or dara")] = "fixedprice",
    initial_price: Annotated[str, typer.Option(
        help="fixedprice: the price per unit until the keeper learns one (wei, gwei, ether)."
    )] = "50gwei",
    proofs: Annotated[str, typer.Option(help="pow or groth16")] = "pow",
    commit_period: Annotated[int, typer.Option(help="Seconds per round.")] = 60,
    workdir: Annotated[str | None, typer.Option(
        help="Where the deployment file and keeper database go (default: ./.devnet, so the "
             "file is .devnet/deployments/31337/market.json every run).")] = None,
    state: Annotated[str | None, typer.Option(
        help="Keep the chain, market and keeper state in this directory between runs "
             "(--chain anvil only).")] = None,
    block_time: Annotated[float, typer.Option(
        "--block-time", help="Seconds between blocks: chain time follows the wall clock. 0 "
                             "freezes it between transactions (move it with evm_increaseTime)."
    )] = 1.0,
) -> None:
    """A local market for other processes: chain over JSON-RPC, market, keeper, dev keys.

    Chain id 31337 on both chains; the deployment file is
    ./.devnet/deployments/31337/market.json unless --workdir or --state says otherwise.
    """
    from pathlib import Path

    from bridge.config import DEVNET_DIR
    from bridge.sim.devnet import run_devnet

    logging.basicConfig(level=logging.WARNING)
    if state and workdir:
        typer.echo("error: --state DIR is also the working directory: drop --workdir", err=True)
        raise typer.Exit(2)
    where = (Path(state) if state else Path(workdir) if workdir
             else Path(DEVNET_DIR))
    from bridge.units import parse_amount

    price = guarded(lambda: parse_amount(initial_price, name="--initial-price"))
    code = guarded(lambda: run_devnet(where, typer.echo, port=port, chain=chain,
                                      mechanism=mechanism, proofs=proofs, initial_price=price,
                                      commit_period=commit_period, state=bool(state),
                                      block_time=block_time))
    raise typer.Exit(code)


# ---------------------------------------------------------------------------------------- ui
@app.command()
def ui(rpc: Annotated[str, typer.Option("--rpc", envvar="BRIDGE_RPC",
                                        help="Node URL the page reads the chain from.")
                      ] = "http://127.0.0.1:8545",
       market: Annotated[str, typer.Option("--market", envvar="BRIDGE_MARKET",
                                           help="Deployment record (bridge deploy's file).")
                         ] = "",
       port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8700,
       host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
       out: Annotated[str, typer.Option("--out", help="Write the site to this folder instead "
                                                      "of serving it.")] = "") -> None:
    """Serve the web app for wallet users (or write it to a folder with --out).

    The page connects an EIP-1193 wallet (it never asks for a key), reads the market from --rpc
    and the deployment record, and keeps sealed-bid salts in the browser (export/import in the
    salt-file format of --salts).
    """
    from bridge.web.server import WebServer, app_config, write_site

    def run() -> None:
        config = app_config(rpc, market)
        if out:
            typer.echo(f"wrote the web app to {write_site(out, config)}: serve that folder "
                       "with any static file server")
            return
        server = WebServer(config, host, port)
        typer.echo(f"serving the web app on {server.url} (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()

    guarded(run)
