"""The web app in a real browser against anvil and the real keeper.

A requester and a prover each use their own page (own wallet, own IndexedDB); a second prover and
a second requester act through the library so the Prooφ round trades (at least two asks, more bids
than the cheapest ask's capacity). Through the pages: stake, capacity, a sealed ask, a sealed bid
that deposits its escrow in the same transaction, the keeper settles, the requester sees it won
(and a bad bid of theirs as invalid, with the reason), the prover proves in a Web Worker, exits
and the requester withdraws. A refused action shows the contract's decoded error with the CLI's
hint; a wallet on the wrong chain is offered the switch.

The injected wallet behaves like real ones (tests/browser/conftest.py): it gives its accounts in
lowercase, shares none before the page asks, may reject, and fires accountsChanged/chainChanged.

Screenshots of each view go to the test's tmp dir, and to docs/img/ with BRIDGE_SCREENSHOTS=1
(docs/user/wallet.md shows them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from bridge.chain.anvil import ANVIL, DEV_KEYS, Anvil
from bridge.client.participant import Participant, new_task
from bridge.sealed import Side, commitment, seal
from bridge.units import format_wei
from bridge.web.server import WebServer, app_config
from tests.integration.conftest import KeeperProcess
from tests.integration.harness import GWEI, Scene, make_scene

pytestmark = [pytest.mark.browser, pytest.mark.anvil]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PAGE_PROVER = Account.from_key(DEV_KEYS[3]).address
PAGE_REQUESTER = Account.from_key(DEV_KEYS[4]).address


@pytest.fixture
def market(tmp_path: Path) -> Iterator[tuple[Scene, WebServer, KeeperProcess]]:
    """anvil (1 s blocks), a Prooφ market with long periods (time moves by `evm_mine`), the real
    keeper in its own process, and the web app served for that market."""
    if not os.access(ANVIL, os.X_OK):
        pytest.fail(f"anvil is not installed at {ANVIL}: run `npm ci` (make test does)")
    node = Anvil(tmp_path, block_time=1).start()
    keeper = None
    server = None
    try:
        scene = make_scene(node, tmp_path, provers=1, requesters=1, commit_period=300,
                           settle_period=300, proof_period=300)
        keeper = KeeperProcess(tmp_path, node.url, scene.record,
                               f"sqlite:///{tmp_path / 'keeper.sqlite'}", confirmations=1,
                               poll_interval=0.3).start()
        server = WebServer(app_config(node.url, scene.record)).start()
        yield scene, server, keeper
    finally:
        if server is not None:
            server.stop()
        if keeper is not None:
            keeper.kill()
        node.stop()


def shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("BRIDGE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / f"{name}.png")


def view(page: Any, name: str) -> None:
    page.click(f"nav button[data-view='{name}']")


def message(page: Any, expect: str, timeout: float = 60) -> str:
    """Wait until the page's message area says ``expect`` (a regex); fail with what it says."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.inner_text("#message") if page.is_visible("#message") else ""
        if re.search(expect, text):
            return text
        if re.search(r"refused|failed", text) and not re.search(expect, text):
            break
        time.sleep(0.2)
    raise AssertionError(f"page says {text!r}, expected /{expect}/; page errors: "
                         f"{getattr(page, '__errors', [])}")


def wait_for(what: Callable[[], bool], why: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {why}")


def fill(page: Any, selector: str, value: str) -> None:
    page.fill(selector, value)


def test_a_requester_and_a_prover_complete_a_round_through_the_page(
        market: tuple[Scene, WebServer, KeeperProcess], wallet_page: Any,
        tmp_path: Path) -> None:
    scene, server, keeper = market
    m = scene.market
    lib_prover, lib_requester = scene.provers[0], scene.requesters[0]

    # --- the prover's page: a wallet on the wrong chain is offered the switch
    pp = wallet_page(server.url, scene.node.url, PAGE_PROVER, fake_chain_id="0x1")
    pp.click("#connect")
    wait_for(lambda: pp.is_visible("#switch-chain"), "the switch-network offer")
    assert "wallet on chain 1, market on 31337" in pp.inner_text("#chain-status")
    pp.click("#switch-chain")
    wait_for(lambda: not pp.is_visible("#switch-chain"), "the switch to succeed")
    assert pp.evaluate("window.__switchedTo") == "0x7a69"
    assert pp.inner_text("#chain-status") == "chain 31337"

    # a refused action shows the contract's decoded error with the CLI's hint (no client
    # pre-check for capacity: the contract refuses it)
    view(pp, "prover")
    fill(pp, "#capacity-form input[name=units]", "1")
    pp.click("#capacity-form button")
    text = message(pp, "Set capacity refused")
    refund_cap = m.params.refund_cap
    assert (f"InsufficientCollateral(prover={PAGE_PROVER}, collateral=0, required={refund_cap}):"
            f" stake {format_wei(refund_cap, exact=True)} more, or lower your capacity") in text
    assert "bridge prover" not in text  # the web wording: no CLI command
    shot(pp, tmp_path, "refused")

    # stake and declare capacity through the page; the pacing rule is shown before sending
    fill(pp, "#stake-form input[name=amount]", "400")
    pp.click("#stake-form button")
    message(pp, "Staked 400 gwei")
    wait_for(lambda: not pp.is_visible("#message"), "the success message to clear", timeout=20)
    pp.click("#capacity-form button")
    message(pp, "Capacity set to 1")
    assert m.prover_info(PAGE_PROVER)["capacity"] == 1
    wait_for(lambda: "between 1 and 4 units" in pp.inner_text("#pacing"), "the pacing rule")

    # the library side: a second prover (dearer) and a second requester (lower bid)
    lib_prover.stake(refund_cap * 5)
    lib_prover.set_capacity(1)
    lib_requester.deposit(10**17)
    r = m.current_round()
    lib_prover.ask(cost=30 * GWEI, round=r)
    lib_requester.bid(value=50 * GWEI, size=1, escrow=50 * GWEI, task=new_task(), round=r)

    # the prover's sealed ask and the requester's sealed bid, through the pages
    fill(pp, "#ask-form input[name=cost]", "10")
    pp.click("#ask-form button")
    message(pp, f"Ask committed in round {r}: 1 unit at 10 gwei")
    assert pp.inner_text("#capacity") == "1 unit"

    # the requester's wallet gives its account in lowercase, as anvil's and MetaMask's do
    rp = wallet_page(server.url, scene.node.url, PAGE_REQUESTER)
    assert rp.evaluate("window.ethereum.request({method: 'eth_requestAccounts'})") == [
        PAGE_REQUESTER.lower()]
    rp.click("#connect")
    view(rp, "requester")
    wait_for(lambda: rp.is_visible("#bid-form"), "the bid form")
    assert not rp.is_visible("#connect")  # connected: the button gives way to the account
    assert rp.inner_text("#account") == PAGE_REQUESTER
    wait_for(lambda: rp.inner_text("#eth-balance").endswith(" ETH"), "the wallet's ETH balance")
    assert m.balance_of(PAGE_REQUESTER) == 0
    fill(rp, "#bid-form input[name=value]", "100")
    fill(rp, "#bid-form input[name=escrow]", "120")
    rp.click("#bid")
    message(rp, rf"Bid committed in round {r} \(deposited 120 gwei with it\)")
    commits = scene.logs("BidCommitted")
    mine = [e for e in commits if e["args"]["requester"] == PAGE_REQUESTER]
    assert len(mine) == 1 and mine[0]["args"]["escrow"] == 120 * GWEI
    assert "eth_call" not in rp.evaluate("window.__walletCalls")

    # a bad bid of the same requester (a commitment its envelope does not match), sent directly
    key = m.keeper_for(r)[1]
    salt = os.urandom(32)
    bad_commitment = commitment(chain_id=m.params.chain_id, market=m.address, round=r,
                                participant=PAGE_REQUESTER, side=Side.BID, price=7 * GWEI,
                                quantity=1, salt=os.urandom(32))
    scene.w3.eth.send_transaction({  # anvil's unlocked account, as the wallet would
        "from": PAGE_REQUESTER, "to": m.address, "value": 7 * GWEI,
        "data": m.contract.encode_abi("commitBid", [r, bad_commitment,
                                                    seal(key, price=7 * GWEI, quantity=1,
                                                         salt=salt), 7 * GWEI, new_task()])})
    view(rp, "market")
    wait_for(lambda: rp.inner_text("#commit-counts") == "3 / 2", "the page to count 3 bids, 2 asks")
    assert rp.inner_text("#phase") == "commit"

    # the round closes; the real keeper settles it
    scene.node.travel_to(m.params.closes_at(r) + 1)
    scene.wait_until(lambda: scene.status(r) == 1, 90, f"the keeper to settle round {r}: "
                     f"{keeper.output()[-2000:]}")

    view(rp, "requester")
    wait_for(lambda: "won: charged 50 gwei, refunded 70 gwei" in rp.inner_text("#my-bids"),
             "the page requester's bid to show as won")
    bids = rp.inner_text("#my-bids")
    assert ("invalid: commitment_mismatch (escrow returned less 1 gwei forfeited to the keeper; "
            "no salt record in this browser)") \
        in bids, bids
    won = rp.inner_text(f"tr[data-bid='{r}-1']")
    assert f"sealed: committed in round {r}" in won and "awaiting proof, due in" in won, won

    # the prover proves its job (proof of work in a Web Worker) and gets a proof file
    view(pp, "prover")
    wait_for(lambda: pp.is_visible("#jobs button.prove"), "the prover's job")
    row = pp.inner_text("#jobs")
    assert "30 gwei" in row and "open" in row
    shot(pp, tmp_path, "prover")
    pp.click("#jobs button.prove")
    message(pp, f"Proved job 0 of round {r}: 30 gwei added to your collateral", timeout=90)
    wait_for(lambda: pp.is_visible("#proof-file"), "the proof file link")
    with pp.expect_download() as dl:
        pp.click("#proof-file")
    dl.value.save_as(str(tmp_path / "proof.json"))
    proof_file = json.loads((tmp_path / "proof.json").read_text())
    assert (proof_file["round"], proof_file["job"]["prover"]) == (str(r), PAGE_PROVER)
    assert proof_file["job_root"] == "0x" + bytes(m.round_info(r).job_root).hex()
    proofs = scene.logs("ProofAccepted")
    assert [(e["args"]["prover"], e["args"]["payment"]) for e in proofs] == [
        (PAGE_PROVER, 30 * GWEI)]
    wait_for(lambda: pp.inner_text("#jobs .job-state") == "proven", "the job to show as proven")
    assert "received 30 gwei" in pp.inner_text("#jobs")
    assert "refund cap is 200 gwei per unit" in pp.inner_text("#refund-cap")

    # the requester sees the proof: the bid's life ends "proven", with the proof to download
    # (proof of work: the nonce the market accepted, checked in the page against the rule)
    wait_for(lambda: "proven by" in rp.inner_text(f"tr[data-bid='{r}-1']"), "the bid proven")
    life = rp.inner_text(f"tr[data-bid='{r}-1']")
    assert "won: charged 50 gwei, refunded 70 gwei" in life
    assert f"job 0 (1 unit): proven by {PAGE_PROVER[:6]}…{PAGE_PROVER[-4:]}" in life, life
    bits = scene.deployment.record.parameters["verifier"]["difficulty_bits"]
    assert f"has {bits} leading zero bits (checked in this page)" in life, life
    with rp.expect_download() as dl:
        rp.click(f"tr[data-bid='{r}-1'] button.proof-dl[data-file='proof.json']")
    assert dl.value.suggested_filename == "proof.json"
    dl.value.save_as(str(tmp_path / "delivered.json"))
    delivered = json.loads((tmp_path / "delivered.json").read_text())
    (accepted,) = scene.logs("ProofAccepted")
    tx = scene.w3.eth.get_transaction(accepted["transactionHash"])
    submitted = m.contract.decode_function_input(tx["input"])[1]
    assert delivered["proof"] == "0x" + bytes(submitted["proof"]).hex()
    assert delivered["job"]["prover"] == PAGE_PROVER and delivered["round"] == str(r)
    assert delivered["tx"] == "0x" + bytes(accepted["transactionHash"]).hex()
    shot(rp, tmp_path, "requester")

    # leave: capacity 0 and all collateral back in one transaction
    pp.click("#exit")
    message(pp, "Exited")
    info = m.prover_info(PAGE_PROVER)
    assert (info["collateral"], info["capacity"]) == (0, 0)
    assert [(e["args"]["prover"], e["args"]["amount"]) for e in scene.logs(
        "CollateralWithdrawn")] == [(PAGE_PROVER, 430 * GWEI)]  # stake + the job's payment

    # the requester withdraws its refund (70 gwei) and the bad bid's returned escrow (7 gwei
    # less the 1 gwei minEscrow it forfeited to the keeper)
    # (the node stops mining a while: the transaction shows as pending until it is mined)
    scene.w3.provider.make_request("evm_setIntervalMining", [0])
    rp.click("#withdraw-balance")
    wait_for(lambda: rp.is_visible("#view-requester .pending li"), "the pending withdrawal")
    assert "withdraw 0x" in rp.inner_text("#view-requester .pending li")
    assert "waiting to be mined" in rp.inner_text("#view-requester .pending li")
    scene.w3.provider.make_request("evm_setIntervalMining", [1])
    message(rp, "Withdrew 76 gwei")
    wait_for(lambda: not rp.is_visible("#view-requester .pending li"), "the pending list to empty")
    assert m.balance_of(PAGE_REQUESTER) == 0

    # the market view lists the round with its price, winner and proven job
    view(rp, "market")
    wait_for(lambda: f"{r}\tsettled" in rp.inner_text("#past-rounds")
             or re.search(rf"{r}\s+settled", rp.inner_text("#past-rounds")) is not None,
             "the past round")
    past = rp.inner_text("#past-rounds")
    # winners by address (the page requester's bid 1 won), "1 job" in the singular
    assert "50 gwei" in past and "1 job: 1 proven, 0 slashed" in past, past
    assert rp.get_attribute("#past-rounds .winners .addr", "title") == PAGE_REQUESTER

    # the round drawn: supply (2 valid asks: 10 and 30 gwei) and demand (2 valid bids: 100 and
    # 50 gwei; the invalid one has no value) as step curves, charged 50 and paid 30 marked
    wait_for(lambda: rp.is_visible(f"svg.supply-demand[data-round='{r}']"), "the round's chart")
    chart = f"svg.supply-demand[data-round='{r}']"
    prices = "ls => ls.map(l => l.dataset.price)"
    supply = rp.eval_on_selector_all(f"{chart} line.step.supply", prices)
    demand = rp.eval_on_selector_all(f"{chart} line.step.demand", prices)
    assert supply == [str(10 * GWEI), str(30 * GWEI)], supply
    assert demand == [str(100 * GWEI), str(50 * GWEI)], demand
    marks = rp.eval_on_selector_all(f"{chart} line.mark",
                                    "ls => ls.map(l => [l.classList[1], l.dataset.price])")
    assert marks == [["charged", str(50 * GWEI)], ["paid", str(30 * GWEI)]], marks
    points = rp.eval_on_selector_all("#price-chart circle.price-point",
                                     "cs => cs.map(c => [c.classList[1], c.dataset.round])")
    assert points == [["charged", str(r)], ["paid", str(r)]], points
    # the round's jobs and their proofs
    jobs = rp.inner_text("#round-jobs")
    assert "proven by" in jobs and "proof.json" in jobs, jobs
    shot(rp, tmp_path, "market")
    assert scene.ledger_problems() == []
    assert getattr(pp, "__errors", []) == [] and getattr(rp, "__errors", []) == []
    # the icon and every file the pages asked for were there
    assert getattr(pp, "__missing", []) == [] and getattr(rp, "__missing", []) == []


def test_salts_export_in_the_cli_format_and_import_back(
        market: tuple[Scene, WebServer, KeeperProcess], wallet_page: Any,
        tmp_path: Path) -> None:
    """The salt file the page exports is the CLI's (`SaltStore` reads it) and imports back."""
    from bridge.client.salts import SaltStore

    scene, server, _ = market
    rp = wallet_page(server.url, scene.node.url, PAGE_REQUESTER)
    rp.click("#connect")
    view(rp, "requester")
    wait_for(lambda: rp.is_visible("#bid-form"), "the bid form")
    rp.click("#bid")
    message(rp, "Bid committed")
    with rp.expect_download() as dl:
        rp.click("#export-salts")
    path = tmp_path / "exported.json"
    dl.value.save_as(str(path))
    records = SaltStore(path).all()
    assert len(records) == 1
    rec = records[0]
    assert (rec.participant, rec.price, rec.quantity, rec.side) == (PAGE_REQUESTER, 100 * GWEI,
                                                                    1, 0)
    assert rec.commitment == "0x" + bytes(scene.logs("BidCommitted")[0]["args"]["commitment"]).hex()
    # a record with an amount beyond 2^53 keeps every digit through import and export
    big = {**json.loads(path.read_text())[0], "price": 2**70, "commitment": "0x" + "ab" * 32}
    (tmp_path / "big.json").write_text(json.dumps([big]))
    rp.set_input_files("#import-salts", str(tmp_path / "big.json"))
    message(rp, "Imported 1 sealed records")
    with rp.expect_download() as dl:
        rp.click("#export-salts")
    dl.value.save_as(str(tmp_path / "again.json"))
    assert {r.price for r in SaltStore(tmp_path / "again.json").all()} == {100 * GWEI, 2**70}


@pytest.fixture
def fixedprice_market(tmp_path: Path) -> Iterator[tuple[Scene, WebServer]]:
    """anvil (1 s blocks), a fixedprice market (35 gwei per unit to start, long periods) and the
    web app served for it. No keeper process: the test posts the next round's price as the
    keeper (dev key 0), so the posted price is known exactly."""
    if not os.access(ANVIL, os.X_OK):
        pytest.fail(f"anvil is not installed at {ANVIL}: run `npm ci` (make test does)")
    node = Anvil(tmp_path, block_time=1).start()
    server = None
    try:
        scene = make_scene(node, tmp_path, provers=0, requesters=0, mechanism="fixedprice",
                           initial_price="35gwei", price_every=1, price_step_bps=500,
                           commit_period=300, settle_period=300, proof_period=300)
        server = WebServer(app_config(node.url, scene.record)).start()
        yield scene, server
    finally:
        if server is not None:
            server.stop()
        node.stop()


def test_a_fixedprice_market_shows_its_posted_prices_and_the_bid_form_holds_bids_to_them(
        fixedprice_market: tuple[Scene, WebServer], wallet_page: Any, tmp_path: Path) -> None:
    """The market view shows the round's posted price and the price history (the next round's
    once posted); the bid form warns below price × units and refuses to send such a bid, and
    sends one at exactly price × units. The wallet gives its account in lowercase (as many do):
    the page still finds the bid as the requester's own."""
    scene, server = fixedprice_market
    m = scene.market
    keeper = Account.from_key(DEV_KEYS[0]).address
    r = m.current_round()
    rp = wallet_page(server.url, scene.node.url, PAGE_REQUESTER.lower())

    wait_for(lambda: rp.inner_text("#round-price") == "35 gwei per unit", "the posted price")
    assert "not posted yet" in rp.inner_text("#price-history")
    scene.w3.eth.wait_for_transaction_receipt(scene.w3.eth.send_transaction(  # the keeper's post
        {"from": keeper, "to": m.address, "data": m.contract.encode_abi(
            "postPrice", [r + 1, 36 * GWEI])}))
    wait_for(lambda: re.search(rf"{r + 1}\s+36 gwei\s+next round \(posted\)",
                               rp.inner_text("#price-history")) is not None,
             "the next round's posted price")

    scene.node.travel_to(m.params.closes_at(r) + 1)  # round r + 1 opens at 36 gwei
    wait_for(lambda: rp.inner_text("#round-price") == "36 gwei per unit", "the new round's price")
    history = rp.inner_text("#price-history")
    assert re.search(rf"{r + 1}\s+36 gwei\s+this round \(posted\)", history), history
    assert re.search(rf"{r}\s+35 gwei\s+initial", history), history
    shot(rp, tmp_path, "fixedprice-market")

    rp.click("#connect")
    view(rp, "requester")
    wait_for(lambda: rp.is_visible("#bid-form input[name=units]"), "the bid form with units")
    fill(rp, "#bid-form input[name=units]", "2")
    fill(rp, "#bid-form input[name=escrow]", "100")
    fill(rp, "#bid-form input[name=value]", "71.999999999")
    warning = rp.inner_text("#price-check")
    assert warning == (f"round {r + 1}: your 71.999999999 gwei is below the posted price 36 gwei "
                       "× 2 units = 72 gwei: this bid cannot trade; raise it to ≥ 72 gwei")
    assert rp.get_attribute("#price-check", "class") == "warn"
    rp.click("#bid")
    message(rp, "Bid failed: .*this bid cannot trade", timeout=10)
    assert "eth_sendTransaction" not in rp.evaluate("window.__walletCalls")
    assert scene.logs("BidCommitted") == []

    fill(rp, "#bid-form input[name=value]", "72")
    assert rp.inner_text("#price-check") == (f"round {r + 1}: your 72 gwei ≥ the posted 36 gwei × "
                                             "2 units = 72 gwei: you trade if supply allows")
    rp.click("#bid")
    message(rp, rf"Bid committed in round {r + 1} \(deposited 100 gwei with it\)")
    (commit,) = scene.logs("BidCommitted")
    assert (commit["args"]["requester"], commit["args"]["escrow"]) == (PAGE_REQUESTER, 100 * GWEI)
    wait_for(lambda: f"{r + 1}\t0" in rp.inner_text("#my-bids")
             or re.search(rf"{r + 1}\s+0\s+100 gwei", rp.inner_text("#my-bids")) is not None,
             "the bid in the requester's own list")
    assert getattr(rp, "__errors", []) == []


def test_the_wallet_behaves_like_a_real_one_rejects_switches_accounts_and_chains(
        fixedprice_market: tuple[Scene, WebServer], wallet_page: Any, tmp_path: Path) -> None:
    """A lowercase wallet that shares nothing before asked: the user rejects the connection (the
    page says so, the button stays), connects (the button gives way to the checksummed account),
    rejects a bid in the wallet (nothing sent), bids, switches to another account (its own, empty
    list) and back (the bid again), moves the wallet to another chain (the switch is offered) and
    disconnects the page (the button comes back)."""
    scene, server = fixedprice_market
    m = scene.market
    r = m.current_round()
    rp = wallet_page(server.url, scene.node.url, PAGE_REQUESTER)
    assert rp.is_visible("#connect") and rp.inner_text("#account") == ""  # nothing shared yet

    rp.evaluate("window.__wallet.reject('eth_requestAccounts')")
    rp.click("#connect")
    message(rp, "Connect cancelled: you rejected the request in your wallet")
    assert rp.is_visible("#connect") and rp.inner_text("#account") == ""

    rp.click("#connect")
    wait_for(lambda: rp.inner_text("#account") == PAGE_REQUESTER, "the checksummed account")
    assert not rp.is_visible("#connect")
    view(rp, "requester")
    wait_for(lambda: rp.is_visible("#bid-form input[name=units]"), "the bid form")
    fill(rp, "#bid-form input[name=units]", "2")
    fill(rp, "#bid-form input[name=value]", "70")
    fill(rp, "#bid-form input[name=escrow]", "100")
    rp.evaluate("window.__wallet.reject('eth_sendTransaction')")
    rp.click("#bid")
    message(rp, r"Bid cancelled: you rejected the request in your wallet \(nothing was sent\)",
            timeout=20)
    assert scene.logs("BidCommitted") == []
    rp.click("#bid")
    message(rp, rf"Bid committed in round {r} \(deposited 100 gwei with it\)")
    mine = rf"{r}\s+0\s+100 gwei"
    wait_for(lambda: re.search(mine, rp.inner_text("#my-bids")) is not None, "the bid listed")

    rp.evaluate(f"window.__wallet.switchAccount({PAGE_PROVER.lower()!r})")
    wait_for(lambda: rp.inner_text("#account") == PAGE_PROVER, "the other account")
    message(rp, f"Wallet account changed to {PAGE_PROVER}")
    wait_for(lambda: "none" in rp.inner_text("#my-bids"), "the other account's empty list")
    rp.evaluate(f"window.__wallet.switchAccount({PAGE_REQUESTER.lower()!r})")
    wait_for(lambda: re.search(mine, rp.inner_text("#my-bids")) is not None, "the bid again")

    rp.evaluate("window.__wallet.switchChain('0x1')")
    wait_for(lambda: rp.is_visible("#switch-chain"), "the switch-network offer")
    assert rp.inner_text("#chain-status") == "wallet on chain 1, market on 31337"
    rp.click("#switch-chain")
    wait_for(lambda: rp.inner_text("#chain-status") == "chain 31337", "the switch back")

    rp.evaluate("window.__wallet.switchAccount(null)")
    message(rp, "The wallet disconnected this page")
    wait_for(lambda: rp.is_visible("#connect"), "the connect button back")
    wait_for(lambda: rp.inner_text("#view-requester") == "Connect a wallet to bid.",
             "the requester view to ask for a wallet")
    assert getattr(rp, "__errors", []) == []


def test_the_page_says_when_the_node_cannot_be_reached(
        browser: Any, wallet_page: Any, tmp_path: Path) -> None:
    """A node that refuses the browser's CORS preflight (as the eth-tester devnet's did: 501 to
    OPTIONS) or is not listening: the page says so, naming the node, instead of staying blank."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from tests.unit.test_web_bundle import _record

    class NoCors(BaseHTTPRequestHandler):  # answers JSON-RPC, but never with CORS headers
        def do_POST(self) -> None:
            body = b'{"jsonrpc":"2.0","id":1,"result":"0x1"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    node = ThreadingHTTPServer(("127.0.0.1", 0), NoCors)
    Thread(target=node.serve_forever, daemon=True).start()
    rpc = f"http://127.0.0.1:{node.server_address[1]}"
    server = WebServer(app_config(rpc, str(_record(tmp_path)))).start()
    try:
        page = wallet_page(server.url, rpc, PAGE_REQUESTER)
        wait_for(lambda: page.is_visible("#node-status"), "the node-unreachable message")
        text = page.inner_text("#node-status")
        assert text.startswith(f"Cannot reach the node at {rpc}."), text
        assert "(CORS)" in text and "retries" in text, text
        shot(page, tmp_path, "node-unreachable")
    finally:
        server.stop()
        node.shutdown()
        node.server_close()
    # a node that is not listening at all (the port closed again)
    server = WebServer(app_config(rpc, str(_record(tmp_path)))).start()
    try:
        page = wallet_page(server.url, rpc, PAGE_REQUESTER)
        wait_for(lambda: page.is_visible("#node-status"), "the node-unreachable message")
        assert page.inner_text("#node-status").startswith(f"Cannot reach the node at {rpc}.")
    finally:
        server.stop()


def test_a_slashed_job_reads_as_a_refund_for_the_requester_and_a_loss_for_the_prover(
        market: tuple[Scene, WebServer, KeeperProcess], wallet_page: Any,
        tmp_path: Path) -> None:
    """Two library provers ask, two requesters bid; the winner's prover never proves, the keeper
    slashes after the deadline: the requester's page shows the bid's life ending "slashed" with
    the refund and the compensation; the prover's page shows no payment but the collateral lost."""
    scene, server, keeper = market
    m = scene.market
    refund_cap = m.params.refund_cap
    cheap, dear = scene.provers[0], Participant(m, Account.from_key(DEV_KEYS[3]))
    low, high = scene.requesters[0], Participant(m, Account.from_key(DEV_KEYS[4]))
    for p in (cheap, dear):
        p.stake(refund_cap * 3)
        p.set_capacity(1)
    r = m.current_round()
    cheap.ask(cost=10 * GWEI, round=r)
    dear.ask(cost=30 * GWEI, round=r)
    for q, value in ((low, 40), (high, 90)):
        q.deposit(10**17)
        q.bid(value=value * GWEI, size=1, escrow=100 * GWEI, task=new_task(), round=r)
    scene.node.travel_to(m.params.closes_at(r) + 1)
    scene.wait_until(lambda: scene.status(r) == 1, 90, f"the keeper to settle round {r}: "
                     f"{keeper.output()[-2000:]}")
    scene.node.travel_to(m.params.proof_deadline(r) + 1)
    scene.wait_until(lambda: len(scene.logs("JobSlashed")) == 1, 90,
                     f"the keeper to slash the missed job: {keeper.output()[-2000:]}")
    (slash,) = scene.logs("JobSlashed")
    refund, compensation = slash["args"]["refund"], slash["args"]["compensation"]
    assert (refund, compensation) == (40 * GWEI, refund_cap)

    rp = wallet_page(server.url, scene.node.url, high.address)
    rp.click("#connect")
    view(rp, "requester")
    wait_for(lambda: "slashed" in rp.inner_text(f"tr[data-bid='{r}-1']"), "the slashed bid")
    life = rp.inner_text(f"tr[data-bid='{r}-1']")
    assert "won: charged 40 gwei, refunded 60 gwei" in life, life
    assert ("slashed: the prover missed the deadline; the requester got 40 gwei back + 200 gwei "
            "compensation") in life, life
    shot(rp, tmp_path, "requester-slashed")
    rp.evaluate(f"window.__wallet.switchAccount({low.address.lower()!r})")  # the other bidder
    wait_for(lambda: rp.is_visible(f"tr[data-bid='{r}-0']"), "the losing bid")
    lost = rp.inner_text(f"tr[data-bid='{r}-0']")
    assert "lost: your 40 gwei per unit did not make the cut (the winners were charged from " \
           "40 gwei per unit); escrow 100 gwei returned" in lost, lost

    pp = wallet_page(server.url, scene.node.url, cheap.address)
    pp.click("#connect")
    view(pp, "prover")
    wait_for(lambda: "slashed" in pp.inner_text("#jobs"), "the prover's slashed job")
    jobs = pp.inner_text("#jobs")
    assert "not paid; lost 200 gwei of collateral" in jobs and "once proven" not in jobs, jobs
    assert "received" not in jobs
    assert getattr(rp, "__errors", []) == [] and getattr(pp, "__errors", []) == []


def test_a_circuit_markets_requester_downloads_its_groth16_proof_and_snarkjs_accepts_it(
        wallet_page: Any, tmp_path: Path) -> None:
    """A DARA market of circuit tasks (real Groth16 proofs, the simulated world's participants):
    the requester of a proven job sees its bid proven, downloads proof.json, public.json and
    vk.json from the page, and `snarkjs groth16 verify` (the command the page shows) accepts
    them."""
    import subprocess

    from bridge.chain.artifacts import load_artifact
    from bridge.chain.deployment import abi_hash
    from bridge.proving import SNARKJS
    from bridge.sim.world import SimConfig, World
    from bridge.testing import LocalChain
    from bridge.web.server import circuit_keys

    if not os.access(ANVIL, os.X_OK):
        pytest.fail(f"anvil is not installed at {ANVIL}: run `npm ci` (make test does)")
    node = Anvil(tmp_path, block_time=None).start()
    server = None
    try:
        world = World(LocalChain.of_anvil(node), SimConfig(
            mechanism="dara", proofs="groth16", provers=3, requesters=4, seed=5, miss=False,
            rounds=3), tmp_path)
        world.setup_participants()
        proven = None
        for _ in range(4):  # the first round in which a job is proven
            report = world.run_round()
            proven = next((j for j in report.jobs if j["status"] == "proven"), None)
            if proven is not None:
                break
        assert proven is not None, "no round traded"
        r = report.round
        view_ = next(v for v in world.requesters[0].settled_jobs(r, world.deploy_block)
                     if v.job.job_index == proven["job"])
        job = view_.job
        p = world.market.params
        record = {"network": "sim", "chain_id": p.chain_id, "market": p.address,
                  "verifier": p.verifier, "block": world.deploy_block,
                  "start_block": world.deploy_block,
                  "abi_hash": abi_hash(load_artifact("ProverMarket").abi),
                  "parameters": {"mechanism": p.mechanism, "genesis": p.genesis,
                                 "commit_period": p.commit_period,
                                 "settle_period": p.settle_period,
                                 "proof_period": p.proof_period, "refund_cap": p.refund_cap,
                                 "capacity_interval": p.capacity_interval,
                                 "capacity_factor": p.capacity_factor,
                                 "min_escrow": p.min_escrow,
                                 "verifier": {"kind": "groth16", "difficulty_bits": 0}}}
        server = WebServer({"rpc": node.url, "record": record, "circuits": circuit_keys()}).start()
        rp = wallet_page(server.url, node.url, job.requester)
        rp.click("#connect")
        view(rp, "requester")
        row = f"tr[data-bid='{r}-{job.bid_index}']"
        wait_for(lambda: rp.is_visible(f"{row} button.proof-dl[data-file='vk.json']"),
                 "the proof's files", timeout=90)
        life = rp.inner_text(row)
        assert "npx snarkjs groth16 verify vk.json public.json proof.json" in life, life
        out = tmp_path / "delivered"
        out.mkdir()
        for f in ("proof.json", "public.json", "vk.json"):
            with rp.expect_download() as dl:
                rp.click(f"{row} button.proof-dl[data-key='{r}-{job.job_index}'][data-file='{f}']")
            dl.value.save_as(str(out / f))
        check = subprocess.run(["node", str(SNARKJS), "groth16", "verify", "vk.json",
                                "public.json", "proof.json"], cwd=out, capture_output=True,
                               text=True, timeout=120, check=False)
        assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr
        shot(rp, tmp_path, "requester-groth16")

        # the market view draws that DARA round: one step per valid ask (its cost, its units)
        # and per valid bid (its value per unit, its size), as the settlement revealed them
        from bridge.client.settled import read_settlement

        record_r = read_settlement(world.market, r, world.deploy_block, decode=True)
        assert record_r is not None
        want_supply = sorted((a.cost, a.quantity) for a in record_r.asks if a.valid)
        want_demand = sorted(((b.value // b.size, b.size) for b in record_r.bids if b.valid),
                             key=lambda x: -x[0])
        view(rp, "market")
        if rp.is_visible("#chart-round"):
            rp.select_option("#chart-round", str(r))
        chart = f"svg.supply-demand[data-round='{r}']"
        wait_for(lambda: rp.is_visible(chart), "the round's chart")
        steps = "ls => ls.map(l => [l.dataset.price, l.dataset.qty])"
        supply = rp.eval_on_selector_all(f"{chart} line.step.supply", steps)
        demand = rp.eval_on_selector_all(f"{chart} line.step.demand", steps)
        assert [(int(p), int(q)) for p, q in supply] == want_supply, supply
        assert [int(p) for p, _ in demand] == [p for p, _ in want_demand], demand
        assert sorted(int(q) for _, q in demand) == sorted(q for _, q in want_demand), demand
        assert len(supply) >= 2 and len(demand) >= 2
        shot(rp, tmp_path, "market-dara")
        assert getattr(rp, "__errors", []) == []
    finally:
        if server is not None:
            server.stop()
        node.stop()
