"""Helpers shared by the integration tests: deploy on anvil in-process, participants, checks.

Participants here use the library (:class:`~bridge.client.participant.Participant`) rather than
the CLI, to keep the many-round fault tests fast; ``test_cli_round.py`` drives the CLI itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

from bridge.chain.anvil import ANVIL_CHAIN_ID, DEV_KEYS, Anvil
from bridge.chain.deployment import DeployResult, deploy_network, load_network
from bridge.chain.market import Market
from bridge.client.participant import Participant, new_task
from bridge.client.salts import SaltStore

GWEI = 10**9


def write_network(path: Path, url: str, **params: Any) -> Path:
    """A network TOML for anvil at ``url`` with short periods (``params`` override)."""
    values: dict[str, Any] = {"name": "anvil-test", "rpc": url, "chain_id": ANVIL_CHAIN_ID,
                              "mechanism": "proofphi", "commit_period": 4, "settle_period": 20,
                              "proof_period": 6, "refund_cap": "200gwei",
                              "min_escrow": "1gwei",  # as deploy/networks/anvil.toml
                              "capacity_interval": 1, "capacity_factor": 4, "confirmations": 1,
                              "allow_same_owner_and_keeper": True}
    values.update(params)
    lines = [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {str(v).lower()}"
             if isinstance(v, bool) else f"{k} = {v}" for k, v in values.items()]
    lines = [ln.replace("'", '"') for ln in lines]
    path.write_text("\n".join(lines) + "\n\n[verifier]\nkind = \"pow\"\ndifficulty_bits = 4\n")
    return path


def web3_for(url: str) -> Web3:
    """A web3 client for a node URL."""
    return Web3(HTTPProvider(url, request_kwargs={"timeout": 10}))


@dataclass
class Scene:
    """A deployed market on anvil with library participants (dev keys 1..)."""

    node: Anvil
    w3: Web3
    deployment: DeployResult
    market: Market
    provers: list[Participant] = field(default_factory=list)
    requesters: list[Participant] = field(default_factory=list)

    @property
    def record(self) -> str:
        """Path of the deployment record (what ``--market`` takes)."""
        return str(self.deployment.path)

    @property
    def deploy_block(self) -> int:
        """Block of the market's deployment."""
        return int(self.deployment.record.block)

    def accounts(self) -> list[str]:
        """Every address that can hold a balance in the market."""
        return [Account.from_key(k).address for k in DEV_KEYS]

    def ledger_problems(self) -> list[str]:
        """Contract ETH balance vs ``liabilities().nonFree + Σ balanceOf`` (empty: equal)."""
        non_free, _ = self.market.liabilities()
        free = sum(self.market.balance_of(a) for a in self.accounts())
        balance = int(self.w3.eth.get_balance(self.market.address))
        if balance != non_free + free:
            return [f"contract holds {balance} wei, ledger says {non_free} non-free + {free} "
                    "free"]
        return []

    def logs(self, name: str) -> list[Any]:
        """Every ``name`` event of the market since deployment."""
        ev = getattr(self.market.contract.events, name)()
        return list(ev.get_logs(from_block=self.deploy_block))

    def round_outcomes(self) -> dict[int, list[str]]:
        """``{round: [RoundSettled/RoundVoided, …]}`` for every round with a bid or an ask."""
        rounds = {int(e["args"]["round"]) for n in ("BidCommitted", "AskCommitted")
                  for e in self.logs(n)}
        out: dict[int, list[str]] = {r: [] for r in rounds}
        for name in ("RoundSettled", "RoundVoided"):
            for e in self.logs(name):
                out.setdefault(int(e["args"]["round"]), []).append(name)
        return out

    def lost_bids(self) -> list[str]:
        """Bids whose round settled without accounting for them (charges array too short)."""
        counts: dict[int, int] = {}
        for e in self.logs("BidCommitted"):
            counts[int(e["args"]["round"])] = counts.get(int(e["args"]["round"]), 0) + 1
        charged: dict[int, int] = {}
        for e in self.logs("BidsSettled"):
            r = int(e["args"]["round"])
            charged[r] = charged.get(r, 0) + len(e["args"]["charges"])
        problems = []
        for e in self.logs("RoundSettled"):
            r = int(e["args"]["round"])
            if charged.get(r, 0) != counts.get(r, 0):
                problems.append(f"round {r}: {charged.get(r, 0)} charges for "
                                f"{counts.get(r, 0)} bids")
        return problems

    def setup(self, provers: int = 2, requesters: int = 2, capacity: int = 1) -> None:
        """Provers stake and declare capacity; requesters deposit 1 ether."""
        for p in self.provers[:provers]:
            p.stake(self.market.params.refund_cap * capacity * 50)
            p.set_capacity(capacity)
        for q in self.requesters[:requesters]:
            q.deposit(10**18)

    def commit(self, seed: int = 0) -> int:
        """Every prover asks and every requester bids in the current round; returns it."""
        r = self.market.current_round()
        for i, p in enumerate(self.provers):
            p.ask(cost=(40 + 7 * i + seed % 5) * GWEI, round=r)
        for i, q in enumerate(self.requesters):
            value = (90 + 11 * i + seed % 7) * GWEI
            q.bid(value=value, size=1, escrow=value, task=new_task(), round=r)
        return r

    def wait_until(self, what: Callable[[], bool], timeout: float, why: str,
                   poll: float = 0.2) -> None:
        """Poll ``what`` until true; AssertionError naming ``why`` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            time.sleep(poll)
        raise AssertionError(f"timed out after {timeout}s waiting for {why}")

    def status(self, r: int) -> int:
        """0 open, 1 settled, 2 voided."""
        return int(self.market.round_info(r).status)


def make_scene(node: Anvil, workdir: Path, *, provers: int = 2, requesters: int = 2,
               keeper_key: str = DEV_KEYS[0], **params: Any) -> Scene:
    """Deploy on ``node`` (owner and keeper: dev key 0) and create participants."""
    net = load_network(str(write_network(workdir / "net.toml", node.url, **params)))
    w3 = web3_for(node.url)
    deployer = Account.from_key(DEV_KEYS[0])
    from bridge.chain.deployment import KeeperIdentity
    keeper = KeeperIdentity.of_account(Account.from_key(keeper_key))
    result = deploy_network(net, deployer, w3=w3, keeper=keeper, out_dir=workdir / "deployments")
    market = Market(w3, result.record.market)
    salts = SaltStore(workdir / "sealed.json")
    scene = Scene(node=node, w3=w3, deployment=result, market=market)
    for i in range(provers):
        scene.provers.append(Participant(market, Account.from_key(DEV_KEYS[1 + i]), salts=salts))
    for i in range(requesters):
        scene.requesters.append(Participant(market, Account.from_key(DEV_KEYS[1 + provers + i]),
                                            salts=salts))
    return scene
