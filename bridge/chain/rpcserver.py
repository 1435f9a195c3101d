"""The embedded eth-tester chain behind an HTTP JSON-RPC endpoint, so separate processes share it.

``RpcServer(chain).start()`` serves ``POST /`` with JSON-RPC 2.0 (single or batch): every standard
method web3's eth-tester provider implements, plus the test-node methods clients expect from anvil
and hardhat, so the same test code runs against either:

- ``evm_increaseTime(seconds)``: the next block's timestamp moves forward (returns the new offset);
- ``evm_mine([timestamp])``: mines a block (at ``timestamp`` when given);
- ``evm_snapshot()`` / ``evm_revert(id)``;
- ``anvil_setBalance(address, wei)`` is not offered (fund from the dev accounts instead).

It answers the browser's CORS preflight (``OPTIONS``) and marks every answer
``Access-Control-Allow-Origin: *``, as anvil does, so a web page on another origin can use it.

One lock serialises requests: eth-tester is not thread-safe.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_tester.exceptions import TransactionFailed
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError

from bridge.chain.tester import TesterChain


def _jsonable(value: Any) -> Any:
    """eth-tester's Python-typed result back in JSON-RPC form (quantities as hex)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class JsonRpcEndpoint:
    """``POST /`` JSON-RPC 2.0 over HTTP on ``host:port`` (0: any free port), each request object
    (single or in a batch) answered by ``handle``; CORS as anvil does. Serves until :meth:`stop`."""

    def __init__(self, handle: Callable[[dict[str, Any]], dict[str, Any]], name: str,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _cors(self) -> None:
                # a page on another origin (the web app, a dapp on localhost) may call the node,
                # as anvil and hardhat allow
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers",
                                 self.headers.get("Access-Control-Request-Headers")
                                 or "Content-Type")
                self.send_header("Access-Control-Max-Age", "600")

            def do_OPTIONS(self) -> None:  # the browser's CORS preflight
                self.send_response(204)
                self._cors()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    request = json.loads(self.rfile.read(length))
                except json.JSONDecodeError:
                    body: Any = {"jsonrpc": "2.0", "id": None,
                                 "error": {"code": -32700, "message": "parse error"}}
                else:
                    body = ([handle(r) for r in request] if isinstance(request, list)
                            else handle(request))
                raw = json.dumps(body).encode()
                self.send_response(200)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.host = host
        self.port = int(self.server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        # stop() waits for the serving loop to look up: every 50 ms, not the default 0.5 s
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name=name,
                                        kwargs={"poll_interval": 0.05})

    def start(self) -> JsonRpcEndpoint:
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


class RpcServer:
    """Serves ``chain`` on ``host:port`` (0: any free port) until :meth:`stop`."""

    def __init__(self, chain: TesterChain, host: str = "127.0.0.1", port: int = 0) -> None:
        self.chain = chain
        self.lock = chain.lock
        self.offset = 0
        self._stopping = threading.Event()
        self.endpoint = JsonRpcEndpoint(self.handle, "eth-tester-rpc", host, port)
        self.host, self.port, self.url = host, self.endpoint.port, self.endpoint.url

    def start(self) -> RpcServer:
        """Start serving; returns self."""
        self.endpoint.start()
        return self

    def follow_wall_clock(self, interval: float = 1.0) -> None:
        """Mine an empty block whenever the wall clock is ahead of the chain (checked every
        ``interval`` seconds), as a node with a block time does: without it, time stands still
        until someone sends a transaction. Time moved ahead with ``evm_increaseTime`` stays
        ahead."""
        import time as _time

        def loop() -> None:
            while not self._stopping.wait(interval):
                with self.lock:
                    if int(_time.time()) + self.offset > self.chain.now():
                        self.chain.travel_to(int(_time.time()) + self.offset)

        threading.Thread(target=loop, daemon=True, name="eth-tester-clock").start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping.set()
        self.endpoint.stop()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """One JSON-RPC request to its response object."""
        rid = request.get("id")
        method = request.get("method")
        params = request.get("params") or []
        try:
            with self.lock:
                result = self._call(str(method), list(params))
        except Exception as exc:  # the node's error, as a JSON-RPC error with revert data
            error: dict[str, Any] = {"code": -32000, "message": str(exc)}
            data = getattr(exc, "data", None)
            if data is None and isinstance(exc, TransactionFailed | ContractLogicError) \
                    and exc.args and isinstance(exc.args[0], bytes | str):
                from bridge.chain.revert import revert_data

                raw = revert_data(exc)
                if raw is not None:
                    error = {"code": 3, "message": "execution reverted",
                             "data": "0x" + raw.hex()}
            elif data is not None:
                error["data"] = _jsonable(data)
            return {"jsonrpc": "2.0", "id": rid, "error": error}
        return {"jsonrpc": "2.0", "id": rid, "result": _jsonable(result)}

    def _call(self, method: str, params: list[Any]) -> Any:
        tester = self.chain.tester
        if method == "evm_increaseTime":
            seconds = int(params[0], 16) if isinstance(params[0], str) else int(params[0])
            if seconds < 0:
                raise ValueError("evm_increaseTime: time cannot go back; pass seconds ≥ 0")
            import time as _time

            pending = int(tester.get_block_by_number("pending")["timestamp"])
            target = max(self.chain.now(), pending) + seconds
            self.chain.travel_to(target)
            # the wall-clock follower continues from the new time, not from the clock
            self.offset = max(self.offset + seconds, target - int(_time.time()))
            return hex(self.offset)
        if method == "evm_mine":
            if params:
                ts = params[0]
                when = int(ts, 16) if isinstance(ts, str) else int(ts)
                if when < self.chain.now():
                    raise ValueError(f"evm_mine: timestamp {when} is before the latest block's "
                                     f"{self.chain.now()}; time cannot go back")
                self.chain.travel_to(when)
            else:
                tester.mine_blocks(1)
            return "0x0"
        if method == "evm_snapshot":
            return hex(self.chain.snapshot())
        if method == "evm_revert":
            sid = params[0]
            self.chain.revert(int(sid, 16) if isinstance(sid, str) else int(sid))
            return True
        w3: Web3 = self.chain.w3
        params = [_checksummed(p, top=True) for p in params]
        if method in ("eth_getLogs", "eth_newFilter") and params and isinstance(params[0], dict) \
                and isinstance(params[0].get("address"), str):
            # a filter's `address` may be one address or a list; web3's request formatters (the
            # ENS name check) only take the list, and browser clients (viem) send the one
            params[0] = {**params[0], "address": [params[0]["address"]]}
        # through web3's eth-tester middleware, which reads RPC-form parameters
        response = w3.manager._make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            error = response["error"]
            raise _NodeError(error.get("message", str(error)) if isinstance(error, dict)
                             else str(error), error)
        return response.get("result")


_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_ADDRESS_KEYS = ("from", "to", "address")


def _checksummed(value: Any, top: bool = False) -> Any:
    """Addresses in ``value`` checksummed, as web3's validation wants and nodes do not: a wallet
    sends them in lowercase (anvil's and MetaMask's accounts are). Positional parameters that are
    addresses, and the ``from``/``to``/``address`` fields of objects."""
    if isinstance(value, str):
        return Web3.to_checksum_address(value) if top and _ADDRESS.match(value) else value
    if isinstance(value, dict):
        out = dict(value)
        for key in _ADDRESS_KEYS:
            v = out.get(key)
            if isinstance(v, str) and _ADDRESS.match(v):
                out[key] = Web3.to_checksum_address(v)
            elif isinstance(v, list):
                out[key] = [Web3.to_checksum_address(a) if isinstance(a, str) and _ADDRESS.match(a)
                            else a for a in v]
        return out
    return value


class _NodeError(Exception):
    def __init__(self, message: str, error: Any) -> None:
        super().__init__(message)
        self.data = error.get("data") if isinstance(error, dict) else None
