"""A local anvil node (npm ``@foundry-rs/anvil-linux-amd64``) for tests and benchmarks.

:class:`Anvil` starts ``node_modules/.bin/anvil`` on a free loopback port, waits until it answers,
calls any JSON-RPC method (``evm_mine``, ``anvil_reorg``…) and stops it with SIGINT (so a
``--state`` file is written). ``DEV_KEYS`` are anvil's well-known development keys, funded with
10 000 ETH on every anvil.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ANVIL = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "anvil"
ANVIL_CHAIN_ID = 31337

DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
]
"""anvil's default dev accounts (mnemonic "test test … junk"); index 0 deploys and keeps."""


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """One anvil process on a free loopback port; logs to ``workdir/anvil-<port>.log``."""

    def __init__(self, workdir: Path, *, block_time: float | None = 1, mixed: bool = False,
                 state: bool | Path = False, extra: tuple[str, ...] = (),
                 rpc_timeout: float = 10, binary: Path = ANVIL, port: int | None = None) -> None:
        """``state``: keep the chain in a file across stops (True: ``workdir/anvil-<port>-
        state.json``; a path: that file, loaded at start if it exists)."""
        self.workdir = workdir
        self.binary = binary
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.block_time = block_time
        self.mixed = mixed
        self.state_file = (state if isinstance(state, Path)
                           else workdir / f"anvil-{self.port}-state.json" if state else None)
        self.extra = extra
        self.rpc_timeout = rpc_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"anvil-{self.port}.log"

    def start(self) -> Anvil:
        """Start the node and wait until it answers (10 s at most)."""
        args = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port),
                "--chain-id", str(ANVIL_CHAIN_ID), "--accounts", "10"]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        if self.mixed:
            args.append("--mixed-mining")
        if self.state_file is not None:
            args += ["--state", str(self.state_file), "--preserve-historical-states"]
        args += list(self.extra)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.rpc("eth_chainId")
                return self
            except (OSError, urllib.error.URLError):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"anvil exited: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.05)
        raise RuntimeError(f"anvil on port {self.port} did not answer within 10 s")

    def stop(self) -> None:
        """Stop the node (SIGINT, so ``--state`` is dumped) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def rpc(self, method: str, *params: Any) -> Any:
        """Call a JSON-RPC method; raises RuntimeError on a JSON-RPC error."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.rpc_timeout) as r:
            reply = json.loads(r.read())
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result")

    def block_number(self) -> int:
        """Latest block number."""
        return int(self.rpc("eth_blockNumber"), 16)

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def travel_to(self, ts: int) -> None:
        """Mine a block at ``ts`` or later (chain time never goes back)."""
        if self.now() >= ts:
            return
        self.rpc("evm_mine", ts)
