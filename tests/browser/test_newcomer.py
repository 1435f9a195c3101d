"""A newcomer's first hour as one test: the README's first proof, then the web app shows it.

The README's five commands run as a reader types them (``tests.e2e.test_doc_commands.Session``:
a fresh directory, the default eth-tester devnet, the prover agent of ``examples/devnet``, a
request that waits for its proof); then ``bridge ui`` serves the page against that devnet and a
browser without any wallet opens it: the market view lists the round as proven and its jobs table
offers the proof. Nothing here is specific to the test: a devnet that did not answer the browser's
CORS preflight, a page that needed a wallet to read the market, or a README command that no
longer runs would each fail it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from bridge.chain.market import Market
from tests.e2e.test_doc_commands import REPO, RUN_LANGS, Session, _commands, _free_port, blocks

pytestmark = [pytest.mark.slow]


def _wait(what: Callable[[], bool], why: str, timeout: float = 120,
          page: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if what():
                return
        except Exception:  # the page or the server is still starting
            pass
        time.sleep(0.5)
    shown = "" if page is None else "\nthe page shows:\n" + page.inner_text("body")[:4000]
    pytest.fail(f"timed out waiting for {why}{shown}")


def _first_proof_commands() -> list[str]:
    readme = [b for b in blocks(REPO / "README.md") if b.lang in RUN_LANGS and not b.norun]
    first = next(b for b in readme if "bridge devnet" in b.text and "--wait" in b.text)
    return _commands(first.text)


def test_the_readme_first_proof_then_the_page_shows_it(browser: Any, tmp_path: Path) -> None:
    commands = _first_proof_commands()
    assert len(commands) == 5, commands  # the README promises five
    session = Session(tmp_path, _free_port())
    try:
        for line in commands:
            session.run("README.md", line)
        assert (tmp_path / "proof").is_dir(), "request --out wrote no proof/"

        rpc = f"http://127.0.0.1:{session.port}"
        record = tmp_path / ".devnet" / "deployments" / "31337" / "market.json"
        assert record.is_file(), "the devnet's deployment record is not where the README says"
        market = Market(Web3(HTTPProvider(rpc)), json.loads(record.read_text())["market"])
        proofs = market.contract.events.ProofAccepted().get_logs(from_block=0)
        assert proofs, "the README's request came back, but no ProofAccepted is on chain"
        r = int(proofs[0]["args"]["round"])

        ui = _free_port()
        session.run("newcomer", f"bridge ui --rpc {rpc} --market {record} --port {ui} &")
        url = f"http://127.0.0.1:{ui}/"
        _wait(lambda: urllib.request.urlopen(url, timeout=5).status == 200, "bridge ui")

        context = browser.new_context()  # no wallet injected: a visitor reading the market
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        row = f"#past-rounds tr[data-round='{r}']"
        _wait(lambda: "1 proven" in page.inner_text(row), f"round {r} listed as proven",
              page=page)
        if page.is_visible("#chart-round"):
            page.select_option("#chart-round", str(r))
        _wait(lambda: "proven by" in page.inner_text("#round-jobs")
              and "proof.json" in page.inner_text("#round-jobs"),
              f"round {r}'s job with its proof in the jobs table", page=page)
        assert not page.is_visible("#node-status"), page.inner_text("body")[:2000]
        assert errors == [], errors
        context.close()
        session.check_background("newcomer")
    finally:
        session.stop()
