"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, the built web app served
by :class:`bridge.web.server.WebServer`, anvil and the real keeper (``bridge keeper run``).

- ``browser``: one headless Chromium per session, launched from ``/usr/bin/chromium`` (Playwright's
  own browser download is not used; ``--no-sandbox`` because CI runs as root). The tests fail,
  naming the fix, when it is missing: ``.ci/run`` installs it (``apt-get install chromium``).
- ``wallet_page(url, rpc, account)``: a page in its own context (its own IndexedDB) with a test
  EIP-1193 provider injected as ``window.ethereum`` that behaves like real wallets (lowercase
  accounts, nothing shared before the page asks, 4001 rejections, ``accountsChanged`` /
  ``chainChanged``; see ``PROVIDER_JS``): other requests are forwarded to anvil, whose unlocked
  dev accounts sign ``eth_sendTransaction``, so the app runs exactly its wallet path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("BRIDGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# The injected wallet, behaving like real ones (MetaMask, anvil's own accounts): accounts come in
# lowercase; `eth_accounts` is empty until the page asked (`eth_requestAccounts`); the user may
# reject a request (EIP-1193 error 4001); switching the account or the network fires
# `accountsChanged` / `chainChanged`. Everything else is forwarded to the node, whose unlocked
# dev accounts sign `eth_sendTransaction`. Test controls on `window.__wallet`:
#   reject(method)      the next request of `method` is rejected by the "user" (code 4001)
#   switchAccount(a)    the user picks account `a` (null: disconnects the page)
#   switchChain(hexId)  the user moves the wallet to another chain (a fake id: only reported)
PROVIDER_JS = """
(() => {
  const rpc = %(rpc)r;
  let account = %(account)r.toLowerCase();
  let shared = false;
  const listeners = {};
  const rejections = new Set();
  let id = 0;
  const emit = (event, value) => (listeners[event] || []).forEach((f) => f(value));
  async function call(method, params) {
    const r = await fetch(rpc, {method: "POST", headers: {"content-type": "application/json"},
      body: JSON.stringify({jsonrpc: "2.0", id: ++id, method, params: params || []})});
    const j = await r.json();
    if (j.error) {
      const e = new Error(j.error.message);
      e.code = j.error.code;
      e.data = j.error.data;
      throw e;
    }
    return j.result;
  }
  function rejected(method) {
    if (!rejections.delete(method)) return undefined;
    const e = new Error("User rejected the request.");
    e.code = 4001;
    return e;
  }
  window.__walletCalls = [];
  window.__wallet = {
    reject(method) { rejections.add(method); },
    switchAccount(a) {
      account = a ? a.toLowerCase() : account;
      shared = !!a;
      emit("accountsChanged", a ? [account] : []);
    },
    switchChain(chainId) { window.__fakeChainId = chainId; emit("chainChanged", chainId); },
  };
  window.ethereum = {
    isTestWallet: true,
    async request({method, params}) {
      window.__walletCalls.push(method);
      const no = rejected(method);
      if (no) throw no;
      if (method === "eth_requestAccounts") { shared = true; return [account]; }
      if (method === "eth_accounts") return shared ? [account] : [];
      if (method === "eth_chainId" && window.__fakeChainId) return window.__fakeChainId;
      if (method === "wallet_switchEthereumChain") {
        window.__switchedTo = params[0].chainId;
        window.__fakeChainId = undefined;
        emit("chainChanged", params[0].chainId);
        return null;
      }
      if (method === "eth_sendTransaction") {
        if (!shared) { const e = new Error("Unauthorized"); e.code = 4100; throw e; }
        return call(method, [{...params[0], from: account}]);
      }
      return call(method, params);
    },
    on(event, fn) { (listeners[event] = listeners[event] || []).push(fn); },
    removeListener(event, fn) {
      listeners[event] = (listeners[event] || []).filter((f) => f !== fn);
    },
  };
})();
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does), "
                    "or set BRIDGE_CHROMIUM to a Chromium binary")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def wallet_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Factory: ``wallet_page(url, rpc, account, fake_chain_id=None)`` → a loaded Playwright page
    whose ``window.ethereum`` forwards to ``rpc`` as ``account``."""
    contexts: list[Any] = []

    def open_page(url: str, rpc: str, account: str, fake_chain_id: str | None = None) -> Any:
        ctx = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(ctx)
        script = PROVIDER_JS % {"rpc": rpc, "account": account}
        if fake_chain_id:
            script += f"\nwindow.__fakeChainId = {fake_chain_id!r};"
        ctx.add_init_script(script)
        page = ctx.new_page()
        page.__errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.__errors.append(str(e)))  # type: ignore[attr-defined]
        page.__missing = []  # type: ignore[attr-defined]
        page.on("response", lambda r: r.status == 404 and page.__missing.append(r.url))  # type: ignore[attr-defined]
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        return page

    yield open_page
    for ctx in contexts:
        ctx.close()
