"""``bridge devnet``: a local market other processes share, in one command.

Starts a chain reachable over JSON-RPC with chain id 31337 (the embedded eth-tester chain behind
:class:`bridge.chain.rpcserver.RpcServer`, or anvil), funds dev accounts whose private keys are
derived from public labels (well-known keys: unlocked on eth-tester), deploys the verifier and a
market (owner: dev account 0, keeper: dev account 1), runs the real keeper against the same
endpoint, and prints the RPC URL, the deployment file and the keys. CLI commands, the web app
and JS clients in other processes then use that chain; time moves with ``evm_increaseTime`` /
``evm_mine`` as on anvil. Ctrl-C (or SIGTERM) stops the keeper, the server and any node it
started.
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

from bridge.config import DEVNET_CHAIN_ID, DEVNET_POINTER, bridge_home
from bridge.errors import BridgeError, ChainError, ConfigError

log = logging.getLogger(__name__)

DEV_ACCOUNTS = 6
DEV_BALANCE = 10_000 * 10**18


def dev_key(i: int) -> bytes:
    """Dev account ``i``'s private key: ``keccak256("bridge devnet account <i>")``. Anyone can
    compute it: a well-known development key, never for a real network."""
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
    from bridge.chain.anvil import ANVIL
    from bridge.chain.deployment import KeeperIdentity, NetworkConfig, VerifierSpec, deploy_network
    from bridge.keeper.config import KeeperConfig
    from bridge.keeper.daemon import Keeper

    if chain == "anvil" and not ANVIL.is_file():
        raise ConfigError(f"--chain anvil needs anvil ({ANVIL} is missing): run `npm ci` in the "
                          "repository first, or use the default --chain eth-tester")
    if state and chain != "anvil":
        raise BridgeError(f"--state keeps the chain between runs only with --chain anvil (anvil "
                          f"saves and reloads its state); the {chain} chain lives in memory and "
                          "is gone when the devnet stops: add --chain anvil or drop --state")
    workdir.mkdir(parents=True, exist_ok=True)
    if not state:  # a new chain: the keeper's database of an earlier run would not match it
        (workdir / "keeper.sqlite").unlink(missing_ok=True)
    stops: list[Callable[[], None]] = []
    accounts = [Account.from_key(dev_key(i)) for i in range(DEV_ACCOUNTS)]
    if chain == "eth-tester":
        from bridge.chain.rpcserver import RpcServer
        from bridge.chain.tester import make_tester_chain

        # the dev accounts are the chain's unlocked accounts, funded at genesis: eth_accounts
        # lists them and eth_sendTransaction from any of them works
        tester = make_tester_chain(balance_wei=DEV_BALANCE, chain_id=DEVNET_CHAIN_ID,
                                   keys=[dev_key(i) for i in range(DEV_ACCOUNTS)])
        try:
            server = RpcServer(tester, port=port).start()
        except OSError as exc:
            raise ConfigError(f"cannot serve JSON-RPC on port {port} ({exc.strerror}): another "
                              "node or devnet uses it; stop it or pass --port N") from None
        stops.append(server.stop)
        if block_time:
            server.follow_wall_clock(block_time)
        url = server.url
    elif chain == "anvil":
        from bridge.chain.anvil import Anvil

        try:
            node = Anvil(workdir, block_time=block_time or None, port=port,
                         state=workdir / STATE_FILE if state else False).start()
        except RuntimeError as exc:  # it exited (the port is taken?) or did not answer
            raise ChainError(f"anvil did not start: {' '.join(str(exc).split())[-200:]}: "
                             f"is port {port} taken? (--port N)") from None
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
    """Start the devnet, print how to use it, and serve until SIGINT/SIGTERM.

    While it runs, ``$BRIDGE_HOME/devnet.json`` (see :func:`bridge.config.running_devnet`) names
    its URL and deployment file, so a command given a market file that does not exist can point
    at the devnet's."""
    import json
    import os

    from bridge.units import format_wei

    net = start_devnet(workdir, **kwargs)
    pointer = bridge_home() / DEVNET_POINTER
    try:
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.write_text(json.dumps({"pid": os.getpid(), "url": net.url,
                                       "chain_id": net.chain_id,
                                       "deployment": str(net.deployment.resolve())}))
    except OSError:  # a read-only home: only the hint in error messages is lost
        log.warning("cannot write %s", pointer)
    out(f"devnet: JSON-RPC at {net.url} (chain {net.chain_id})")
    if kwargs.get("state"):
        how = ("resumed: the market, balances and rounds are as you left them" if net.resumed
               else "a new chain; Ctrl-C saves it")
        out(f"state kept in {workdir} ({how})")
    else:
        out(f"workdir {workdir} (holds the deployment record and the keeper's database; "
            "--workdir DIR moves it; the chain lives in memory and starts afresh each run)")
    out(f"market {net.market}; deployment file {net.deployment}")
    mech = kwargs.get("mechanism", "fixedprice")
    if mech == "fixedprice":
        price = kwargs.get("initial_price", DEVNET_PRICE)
        out(f"mechanism fixedprice: {format_wei(price)} per unit to start; the keeper re-fits "
            "the price from settled rounds (bridge round show prints it)")
    else:
        out(f"mechanism {mech}")
    out(f"dev accounts, {format_wei(DEV_BALANCE)} each (PRIVATE keys, well known: anyone can "
        "compute them from their labels; for this devnet only, never use them on a real "
        "network):")
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
        try:
            if json.loads(pointer.read_text()).get("pid") == os.getpid():
                pointer.unlink()
        except (OSError, ValueError):
            pass
        out("devnet stopped")
    return 0
