"""The JSON-RPC HTTP endpoint under the embedded node and the test proxies: single requests,
batches, a body that is not JSON, and the browser's CORS preflight."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bridge.chain.rpcserver import JsonRpcEndpoint


@pytest.fixture
def endpoint() -> Iterator[JsonRpcEndpoint]:
    def echo(request: dict[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": request.get("id"), "result": request.get("method")}

    served = JsonRpcEndpoint(echo, "echo").start()
    yield served
    served.stop()


def _post(url: str, body: bytes) -> tuple[Any, dict[str, str]]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read()), dict(r.headers)


def test_a_request_and_a_batch_are_answered_in_order(endpoint: JsonRpcEndpoint) -> None:
    one, headers = _post(endpoint.url, b'{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}')
    assert one == {"jsonrpc": "2.0", "id": 7, "result": "eth_chainId"}
    assert headers["Access-Control-Allow-Origin"] == "*"
    batch, _ = _post(endpoint.url, json.dumps([
        {"jsonrpc": "2.0", "id": 1, "method": "a"}, {"jsonrpc": "2.0", "id": 2, "method": "b"},
    ]).encode())
    assert [(r["id"], r["result"]) for r in batch] == [(1, "a"), (2, "b")]


def test_a_body_that_is_not_json_is_a_parse_error(endpoint: JsonRpcEndpoint) -> None:
    reply, _ = _post(endpoint.url, b"{not json")
    assert reply == {"jsonrpc": "2.0", "id": None,
                     "error": {"code": -32700, "message": "parse error"}}


def test_the_cors_preflight_allows_the_requested_headers(endpoint: JsonRpcEndpoint) -> None:
    req = urllib.request.Request(endpoint.url, method="OPTIONS", headers={
        "Origin": "http://localhost:8700", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-trace"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-trace"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
