"""``bridge devnet``: a local market other processes share, in one command.

Starts a chain reachable over JSON-RPC (the embedded eth-tester chain behind
:class:`bridge.chain.rpcserver.RpcServer`, or anvil), funds dev accounts whose keys are derived
from public labels, deploys the verifier and a market (owner: dev account 0, keeper: dev account
1), runs the real keeper against the same endpoint, and prints the RPC URL, the deployment file
and the keys. CLI commands, the web app and JS clients in other processes then use that chain;
time moves with ``evm_increaseTime`` / ``evm_mine`` as on anvil. Ctrl-C (or SIGTERM) stops the
keeper, the server and any node it started.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from bridge.errors import BridgeError, ConfigError

log = logging.getLogger(__name__)

DEV_ACCOUNTS = 6
DEV_BALANCE = 10_000 * 10**18


def dev_key(i: int) -> bytes:
    """Dev account ``i``'s private key: ``keccak256("bridge devnet account <i>")`` — public!"""
    return keccak(text=f"bridge devnet account {i}")


@dataclass
class Devnet:
    """A running devnet (see :func:`start_devnet`)."""

    url: str
    chain_id: int
    market: str
    deployment: Path
    accounts: list[LocalAccount]
    stop: Callable[[], None]
    resumed: bool = False
    """True when ``--state`` brought back a chain with this market already on it."""


STATE_FILE = "anvil-state.json"
DEVNET_PRICE = 50 * 10**9
"""fixedprice devnets start at 50 gwei per unit (the README's agents cost 20–30 gwei)."""


def start_devnet(workdir: Path, *, port: int = 8545, chain: str = "eth-tester",
                 mechanism: str = "fixedprice", proofs: str = "pow",
                 commit_period: int = 60, state: bool = False,
                 block_time: float = 1.0, initial_price: int = DEVNET_PRICE) -> Devnet:
    """Start everything and return once the market is deployed and the keeper runs.

    ``state``: keep the chain, the deployment record and the keeper's database in ``workdir``
    between runs (anvil only: it dumps its state on exit and loads it at start; the embedded
    eth-tester chain lives in memory, so asking for it there is refused).

    ``block_time``: chain time follows the wall clock, a block every this many seconds (anvil's
    ``--block-time``; on eth-tester an empty block whenever the clock is ahead); 0 freezes time
    between transactions (tests then move it with ``evm_increaseTime`` / ``evm_mine``).

    ``mechanism``: ``fixedprice`` by default (a lone requester trades with a lone prover at the
    posted price; ``initial_price`` until the keeper learns one), ``proofphi`` or ``dara``."""
    from bridge.chain.deployment import KeeperIdentity, NetworkConfig, VerifierSpec, deploy_network
    from bridge.keeper.config import KeeperConfig
    from bridge.keeper.daemon import Keeper

    if state and chain != "anvil":
        raise BridgeError(f"--state keeps the chain between runs only with --chain anvil (anvil "
                          f"saves and reloads its state); the {chain} chain lives in memory and "
                          "is gone when the devnet stops: add --chain anvil or drop --state")
    workdir.mkdir(parents=True, exist_ok=True)
    stops: list[Callable[[], None]] = []
    accounts = [Account.from_key(dev_key(i)) for i in range(DEV_ACCOUNTS)]
    if chain == "eth-tester":
        from bridge.chain.rpcserver import RpcServer
        from bridge.chain.tester import make_tester_chain

        tester = make_tester_chain(accounts=1, balance_wei=DEV_BALANCE * (DEV_ACCOUNTS + 1))
        server = RpcServer(tester, port=port).start()
        stops.append(server.stop)
        if block_time:
            server.follow_wall_clock(block_time)
        url = server.url
        for a in accounts:
            tx = tester.w3.eth.send_transaction({"from": tester.accounts[0], "to": a.address,
                                                 "value": DEV_BALANCE})  # type: ignore[typeddict-item]
            tester.w3.eth.wait_for_transaction_receipt(tx)
    elif chain == "anvil":
        from bridge.chain.anvil import Anvil

        node = Anvil(workdir, block_time=block_time or None, port=port,
                     state=workdir / STATE_FILE if state else False).start()
        stops.append(node.stop)
        url = node.url
        for a in accounts:  # a resumed chain keeps the balances its accounts had
            if int(node.rpc("eth_getBalance", a.address, "latest"), 16) == 0:
                node.rpc("anvil_setBalance", a.address, hex(DEV_BALANCE))
    else:
        raise BridgeError(f"chain {chain!r}: use eth-tester or anvil")
    try:
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 60}))
        chain_id = int(w3.eth.chain_id)
        net = NetworkConfig(name="devnet", rpc=url, chain_id=chain_id, mechanism=mechanism,
                            initial_price=initial_price if mechanism == "fixedprice" else 0,
                            commit_period=commit_period, settle_period=commit_period,
                            proof_period=2 * commit_period, confirmations=0,
                            min_escrow=10**9,  # a development chain, as deploy/networks/anvil.toml
                            verifier=VerifierSpec(kind=proofs, difficulty_bits=8),
                            allow_test_circuit_keys=True)
        owner, keeper_account = accounts[0], accounts[1]
        try:
            result = deploy_network(net, owner, w3=w3, out_dir=workdir / "deployments",
                                    keeper=KeeperIdentity.of_account(keeper_account),
                                    force=not state)
        except ConfigError as exc:
            raise ConfigError(f"{workdir} holds a devnet with other settings ({exc}); use "
                              "another --state directory or the same settings") from None
        cfg = KeeperConfig(rpc=url, market=result.record.market,
                           database=f"sqlite:///{workdir / 'keeper.sqlite'}", confirmations=0,
                           poll_interval=0.5, start_block=result.record.block).validate()
        keeper = Keeper(cfg, keeper_account, w3=w3)
        keeper.startup_checks()
        keeper.start()
        stops.append(keeper.stop)
    except BaseException:
        for stop in reversed(stops):
            stop()
        raise

    def stop_all() -> None:
        for stop in reversed(stops):
            try:
                stop()
            except Exception:  # stopping is best effort, each part on its own
                log.exception("while stopping the devnet")

    return Devnet(url, chain_id, result.record.market, result.path, accounts, stop_all,
                  resumed=not result.deployed)


def run_devnet(workdir: Path, out: Callable[[str], None], **kwargs: Any) -> int:
    """Start the devnet, print how to use it, and serve until SIGINT/SIGTERM."""
    net = start_devnet(workdir, **kwargs)
    out(f"devnet: JSON-RPC at {net.url} (chain {net.chain_id})")
    if kwargs.get("state"):
        how = ("resumed: the market, balances and rounds are as you left them" if net.resumed
               else "a new chain; Ctrl-C saves it")
        out(f"state kept in {workdir} ({how})")
    out(f"market {net.market}; deployment file {net.deployment}")
    mech = kwargs.get("mechanism", "fixedprice")
    if mech == "fixedprice":
        price = kwargs.get("initial_price", DEVNET_PRICE)
        out(f"mechanism fixedprice: {price // 10**9} gwei per unit to start; the keeper re-fits "
            "the price from settled rounds (bridge round show prints it)")
    else:
        out(f"mechanism {mech}")
    out("dev accounts (PUBLIC keys, derived from labels: never send real funds to them):")
    for i, a in enumerate(net.accounts):
        role = {0: " (market owner)", 1: " (keeper)"}.get(i, "")
        out(f"  {i}: {a.address}  0x{bytes(a.key).hex()}{role}")
    out(f"try: BRIDGE_PRIVATE_KEY=0x{bytes(net.accounts[2].key).hex()} bridge requester deposit "
        f"1ether --rpc {net.url} --market {net.deployment}")
    out("time: evm_increaseTime / evm_mine over JSON-RPC; Ctrl-C stops everything")
    done = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    out("ready")
    try:
        while not done.wait(0.5):
            pass
    finally:
        net.stop()
        out("devnet stopped")
    return 0
