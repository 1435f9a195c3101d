"""Serve (or write to a folder) the web app with one market's deployment record.

``config.json`` = ``{"rpc": URL, "record": <deployments/<chain>/market.json>}``: the page reads the
market's state and logs from ``rpc`` (from the record's ``start_block``, in bounded ranges) and
sends transactions through the user's EIP-1193 wallet.
"""

from __future__ import annotations

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bridge.chain.deployment import DeploymentRecord, abi_hash
from bridge.errors import ConfigError

STATIC = Path(__file__).resolve().parent / "static"
"""The built app (``node web/build.mjs``; committed, so the package works without node)."""

FILES = ("index.html", "app.js", "pow-worker.js", "style.css", "favicon.svg")


def app_config(rpc: str, record_file: str) -> dict[str, Any]:
    """What ``config.json`` holds; refuses a record whose ABI is not the one the app was built
    for (the page would decode the wrong events)."""
    from bridge.chain.artifacts import load_artifact

    if not rpc.startswith(("http://", "https://")):
        raise ConfigError(f"--rpc {rpc!r}: the page reads the chain over HTTP(S); give the node's "
                          "http(s) URL")
    path = Path(record_file)
    if not path.is_file():
        raise ConfigError(f"--market {record_file!r} is not a file: pass the deployment record "
                          "written by `bridge deploy` (deployments/<chain-id>/market.json)")
    record = DeploymentRecord.read(path)
    built_for = abi_hash(load_artifact("ProverMarket").abi)
    if record.abi_hash != built_for:
        raise ConfigError(f"{path}: the market's ABI hash {record.abi_hash[:10]}… is not this "
                          f"release's {built_for[:10]}…: deploy this release's market or use the "
                          "release that deployed it")
    missing = [f for f in FILES if not (STATIC / f).is_file()]
    if missing:
        raise ConfigError(f"the web app is not built ({', '.join(missing)} missing in {STATIC}): "
                          "run `npm ci && node web/build.mjs`")
    data = json.loads(record.to_json())
    config: dict[str, Any] = {"rpc": rpc, "record": data}
    if str(data.get("parameters", {}).get("verifier", {}).get("kind")) == "groth16":
        config["circuits"] = circuit_keys()
    return config


def circuit_keys() -> dict[str, Any]:
    """The verification keys of the circuits this checkout knows (``zk/circuits.json``), by
    name: the page offers a proven job's ``vk.json`` next to its proof and public inputs."""
    from bridge.proving import circuits

    keys: dict[str, Any] = {}
    for name, c in circuits().items():
        if c.vkey.is_file():
            keys[name] = json.loads(c.vkey.read_text())
    return keys


def write_site(out: str | Path, config: dict[str, Any]) -> Path:
    """Copy the app and its ``config.json`` to ``out`` (a folder any static host can serve)."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copyfile(STATIC / f, target / f)
    (target / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return target


class _Handler(SimpleHTTPRequestHandler):
    config_json: bytes = b"{}"

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(self.config_json)))
            self.end_headers()
            self.wfile.write(self.config_json)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class WebServer:
    """The app on ``http://host:port/`` in a background thread (``port`` 0: a free one)."""

    def __init__(self, config: dict[str, Any], host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"config_json": json.dumps(config).encode()})
        self.httpd = ThreadingHTTPServer((host, port), partial(handler, directory=str(STATIC)))
        self.host, self.port = host, int(self.httpd.server_address[1])
        self.url = f"http://{host}:{self.port}/"
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self.httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
