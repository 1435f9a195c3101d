"""The contract test driver's chain interface over an anvil node, for the long randomized runs.

anvil executes a transaction in a few milliseconds where eth-tester's py-evm takes ~50: the stateful
test's budget (hundreds of rounds) fits CI only there. Blocks are one second apart
(``anvil_setBlockTimestampInterval``), independent of wall-clock time, as on eth-tester.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from web3 import HTTPProvider, Web3

from bridge.chain.anvil import Anvil


@dataclass
class AnvilChain:
    """``TesterChain``'s interface (now, travel_to, advance, snapshot, revert) on anvil."""

    node: Anvil
    w3: Web3 = field(init=False)
    accounts: list[str] = field(init=False)

    def __post_init__(self) -> None:
        session = requests.Session()
        session.trust_env = False  # no proxy lookup in the environment on every request
        self.w3 = Web3(HTTPProvider(self.node.url, request_kwargs={"timeout": 60},
                                    session=session))
        self.accounts = list(self.w3.eth.accounts)
        self.node.rpc("anvil_setBlockTimestampInterval", 1)

    def now(self) -> int:
        """Timestamp of the latest block."""
        return self.node.now()

    def travel_to(self, timestamp: int) -> None:
        """Mine a block at ``timestamp`` unless the chain is already there."""
        if self.now() < timestamp:
            self.node.rpc("evm_mine", timestamp)

    def advance(self, seconds: int) -> None:
        """Mine a block ``seconds`` after the latest one."""
        self.travel_to(self.now() + seconds)

    def snapshot(self) -> int:
        """A snapshot id to revert to (once)."""
        return int(self.node.rpc("evm_snapshot"), 16)

    def revert(self, snapshot_id: int) -> None:
        """Return to a snapshot."""
        self.node.rpc("evm_revert", hex(snapshot_id))
