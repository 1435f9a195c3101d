"""The committed web app bundle (bridge/web/static) is what web/ builds, and `bridge ui` serves
it with the deployment record or writes it to a folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from bridge.chain.artifacts import load_artifact
from bridge.chain.deployment import abi_hash
from bridge.errors import ConfigError
from bridge.web.server import FILES, STATIC, WebServer, app_config, write_site

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_bundle_is_what_the_sources_build(tmp_path: Path) -> None:
    """Rebuild with the pinned esbuild and compare byte for byte: a stale bundle fails here
    (fix: `node web/build.mjs` and commit bridge/web/static)."""
    if not (ROOT / "node_modules" / "esbuild").is_dir() or shutil.which("node") is None:
        pytest.fail("node and node_modules/esbuild are needed: run `npm ci` (make test does)")
    subprocess.run(["node", str(ROOT / "web" / "build.mjs"), str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    for f in FILES:
        assert (tmp_path / f).read_bytes() == (STATIC / f).read_bytes(), \
            f"bridge/web/static/{f} is stale: run `node web/build.mjs` and commit it"


def _record(tmp_path: Path, **changes: object) -> Path:
    data = {"network": "t", "chain_id": 31337, "market": "0x" + "11" * 20,
            "verifier": "0x" + "22" * 20, "block": 5, "owner": "0x" + "33" * 20,
            "keeper": {"address": "0x" + "44" * 20, "public_key": "0x"},
            "parameters": {"genesis": 1000}, "abi_hash": abi_hash(load_artifact(
                "ProverMarket").abi), "code_hash": "0x", "transactions": {}, "deployed_at": 1,
            "start_block": 5, "rpc": "http://127.0.0.1:8545", **changes}
    path = tmp_path / "market.json"
    path.write_text(json.dumps(data))
    return path


def test_ui_serves_the_app_and_its_config(tmp_path: Path) -> None:
    server = WebServer(app_config("http://127.0.0.1:9", str(_record(tmp_path)))).start()
    try:
        with urllib.request.urlopen(server.url + "config.json", timeout=5) as r:
            cfg = json.loads(r.read())
        assert cfg["rpc"] == "http://127.0.0.1:9" and cfg["record"]["start_block"] == 5
        with urllib.request.urlopen(server.url, timeout=5) as r:
            assert b'<script type="module" src="app.js">' in r.read()
        # the page's icon is served (a browser asks for it: no 404 in the console)
        with urllib.request.urlopen(server.url + "favicon.svg", timeout=5) as r:
            assert r.status == 200 and r.read().startswith(b"<svg")
    finally:
        server.stop()


def test_ui_writes_a_static_site_to_a_folder(tmp_path: Path) -> None:
    out = write_site(tmp_path / "site", app_config("https://node.example",
                                                    str(_record(tmp_path))))
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "config.json"])
    assert json.loads((out / "config.json").read_text())["rpc"] == "https://node.example"


def test_ui_refuses_a_record_of_another_contract_version_and_a_non_http_node(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ABI hash"):
        app_config("http://127.0.0.1:9", str(_record(tmp_path, abi_hash="0x" + "00" * 32)))
    with pytest.raises(ConfigError, match="http"):
        app_config("eth-tester", str(_record(tmp_path)))
    with pytest.raises(ConfigError, match="deployment record"):
        app_config("http://127.0.0.1:9", str(tmp_path / "nope.json"))


def test_the_docs_show_a_screenshot_of_each_page_the_browser_tests_take() -> None:
    """Every screenshot the browser tests take (`shot(page, …, NAME)`) is committed in docs/img
    and shown in docs/user/wallet.md, and every image the page links exists (refresh them with
    `BRIDGE_SCREENSHOTS=1 pytest tests/browser`)."""
    import re

    taken = set(re.findall(r'shot\(\w+, tmp_path, "([\w-]+)"\)',
                           (ROOT / "tests" / "browser" / "test_web_app.py").read_text()))
    doc = (ROOT / "docs" / "user" / "wallet.md").read_text()
    shown = set(re.findall(r"\(\.\./img/([\w-]+)\.png\)", doc))
    assert {"market", "requester", "prover"} <= taken
    assert taken == shown, f"taken but not shown: {taken - shown}; shown but not taken: " \
                           f"{shown - taken}"
    missing = [n for n in shown if not (ROOT / "docs" / "img" / f"{n}.png").is_file()]
    assert not missing, f"docs/img lacks {missing}: run BRIDGE_SCREENSHOTS=1 pytest tests/browser"
