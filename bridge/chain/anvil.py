"""A local anvil node (npm ``@foundry-rs/anvil-linux-amd64``) for tests and benchmarks.

:class:`Anvil` starts ``node_modules/.bin/anvil`` on a free loopback port, waits until it answers,
calls any JSON-RPC method (``evm_mine``, ``anvil_reorg``…) and stops it with SIGINT (so a
``--state`` file is written). ``DEV_KEYS`` are anvil's well-known development keys, funded with
10 000 ETH on every anvil.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ANVIL = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "anvil"
ANVIL_CHAIN_ID = 31337
START_TIMEOUT = 60.0
"""How long :meth:`Anvil.start` waits for the node (generous: a loaded machine is slow)."""

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


PORTS_FILE = Path(tempfile.gettempdir()) / "bridge-ports.json"
PORT_HOLD = 300.0
"""A port handed out by :func:`free_port` is not handed out again, to any process on this
machine using it, for this many seconds (parallel test workers each start nodes and servers)."""


def free_port() -> int:
    """A free TCP port on the loopback interface, not handed out by this function, to this or
    any other process (e.g. another pytest-xdist worker), in the last :data:`PORT_HOLD` seconds:
    the OS may offer the port another worker just probed and has not bound yet."""
    with contextlib.ExitStack() as stack:
        try:
            fd = os.open(PORTS_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # an unwritable temp dir: the OS's word alone, as before
            fd = -1
        if fd >= 0:
            stack.callback(os.close, fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        now = time.time()
        given: dict[str, float] = {}
        if fd >= 0:
            with contextlib.suppress(ValueError, OSError):
                raw = os.pread(fd, 1 << 20, 0)
                given = {k: float(v) for k, v in json.loads(raw or b"{}").items()
                         if now - float(v) < PORT_HOLD}
        for _ in range(200):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if str(port) not in given:
                break
        given[str(port)] = now
        if fd >= 0:
            data = json.dumps(given).encode()
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
        return port


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on loopback ``port`` (Linux: /proc; True
    where /proc cannot tell)."""
    proc_tcp = Path("/proc/net/tcp")
    if not proc_tcp.exists():
        return True
    want = f"0100007F:{port:04X}"
    inodes = {cols[9] for line in proc_tcp.read_text().splitlines()[1:]
              if len(cols := line.split()) > 9 and cols[1] == want and cols[3] == "0A"}
    if not inodes:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return True  # not ours to inspect: the node's answer alone, as before
    for fd in fds:
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
    return False


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
        """Start the node and wait until it answers (:data:`START_TIMEOUT` at most)."""
        args = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port),
                "--chain-id", str(ANVIL_CHAIN_ID), "--accounts", "10"]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        if self.mixed:
            args.append("--mixed-mining")
        if self.state_file is not None:
            args += ["--state", str(self.state_file), "--preserve-historical-states"]
        args += list(self.extra)
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        # An answer counts only once this process holds the listening socket: before that it may
        # be another node's (a port taken between free_port() and this start; ours then exits).
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"anvil exited: {self._log_tail(offset)}")
            if _listens(self.proc.pid, self.port):
                try:
                    self.rpc("eth_chainId")
                    return self
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"anvil on port {self.port} did not answer within {START_TIMEOUT:.0f} "
                           f"s: {self._log_tail(offset)}")

    def _log_bytes(self, offset: int) -> bytes:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read()

    def _log_tail(self, offset: int) -> str:
        return self._log_bytes(offset)[-2000:].decode(errors="replace")

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
