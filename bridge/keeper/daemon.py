"""The keeper daemon: startup checks, a tick that never overlaps, scheduling, clean shutdown.

Lifecycle (``bridge keeper run``):

1. configuration validated (:mod:`bridge.keeper.config`), key loaded (keystore or environment);
2. startup checks, each refused with one line saying what to fix: the chain id (when
   ``expected_chain_id`` is set), contract code at the market address, the key is the market's
   keeper and its public key is the one the contract publishes, the key can pay for gas;
3. leadership: only the holder of the database lock acts (a standby waits and takes over);
4. ticks (every ``poll_interval`` and at each scheduled deadline, serialised by one lock): read
   confirmed logs (reorganisations rewind the store and reset affected rounds), then advance every
   active round (:class:`~bridge.keeper.pipeline.RoundPipeline`). An exception in one round is
   logged with its traceback and does not stop the others;
5. SIGTERM/SIGINT: stop scheduling, let the running tick finish, release the lock, exit 0.

Exit codes: 0 clean stop, 2 configuration error, 3 a startup check failed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from bridge.chain.connect import connect
from bridge.chain.deployment import deployment_block, read_market_ref
from bridge.chain.limits import Limits
from bridge.chain.logs import Batch, LogLimitError, LogReader, Reorg
from bridge.chain.market import Market
from bridge.chain.sender import TxSender
from bridge.errors import BridgeError, ChainError, ConfigError
from bridge.keeper.config import KeeperConfig
from bridge.keeper.leader import LeaderLock
from bridge.keeper.metrics import HealthServer, KeeperMetrics
from bridge.keeper.pipeline import ChainView, RoundPipeline
from bridge.keeper.pricing import PricePoster
from bridge.keeper.scheduler import DeadlineScheduler
from bridge.keeper.store import Phase, Store
from bridge.units import format_wei

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_STARTUP = 3


class StartupCheckFailed(ConfigError):
    """A startup check found the keeper cannot work as configured; the message says the fix."""


class Keeper:
    """One keeper process for one market."""

    def __init__(self, cfg: KeeperConfig, account: LocalAccount, *, w3: Web3 | None = None,
                 store: Store | None = None, use_scheduler: bool = True) -> None:
        self.cfg = cfg
        self.account = account
        self.w3 = w3 if w3 is not None else connect(cfg.rpc)
        address, deployed_at = read_market_ref(cfg.market)
        self.market = Market(self.w3, address)
        self.store = store if store is not None else Store(cfg.database)
        self.metrics = KeeperMetrics()
        self._stop = threading.Event()
        self.sender = TxSender(
            self.w3, account, decode_revert=self.market.decode_revert,
            receipt_timeout=cfg.receipt_timeout, bump_after=cfg.bump_after,
            max_fee_per_gas_cap=cfg.max_fee_per_gas or None, stop=self._stop)
        self._deployed_at = deployed_at
        self.reader: LogReader | None = None
        self.pipeline: RoundPipeline | None = None
        self.pricer: PricePoster | None = None
        self.lock = LeaderLock(cfg.database, cfg.lock_id)
        self._work = threading.Lock()
        self.scheduler: DeadlineScheduler | None = None
        self.use_scheduler = use_scheduler
        self.http: HealthServer | None = None
        self._outage_since: float | None = None
        self._backoff = cfg.poll_interval
        self._leading: bool | None = None
        self._retry_at = 0.0

    # -- startup -----------------------------------------------------------------------------
    def startup_checks(self) -> None:
        """Refuse to start, with the fix, when the keeper cannot do its job (module docstring)."""
        try:
            chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:
            raise StartupCheckFailed(f"cannot reach the node at {self.cfg.rpc}: {exc}; "
                                     "check --rpc and that the node is running") from None
        if self.cfg.expected_chain_id and chain_id != self.cfg.expected_chain_id:
            raise StartupCheckFailed(f"the node is on chain {chain_id}, the config expects "
                                     f"{self.cfg.expected_chain_id}: point --rpc at the right "
                                     "network or fix expected_chain_id")
        try:
            self.market.check_code()
        except ChainError as exc:
            raise StartupCheckFailed(str(exc)) from None
        try:
            params = self.market.params
            current = self.market.contract.functions.currentRound().call()
            # rounds still to settle (their settle deadline ahead), the current one and the next
            first = max(0, current - params.settle_period // params.commit_period - 1)
            terms = {r: self.market.keeper_for(r) for r in range(first, current + 2)}
        except Exception as exc:
            raise StartupCheckFailed(f"the contract at {self.market.address} is not a "
                                     f"ProverMarket ({exc}): check --market") from None
        ours = self.account._key_obj.public_key.to_bytes()
        mine = [r for r, (k, key) in terms.items() if k == self.account.address and key == ours]
        if not mine:
            keeper = terms[current][0]
            if keeper != self.account.address:
                raise StartupCheckFailed(f"this key is {self.account.address} but the market's "
                                         f"keeper is {keeper}: use the keeper's key or rotate "
                                         "the keeper")
            raise StartupCheckFailed("the market publishes a different encryption key than this "
                                     "keeper's: bids would not decrypt; rotate the keeper key "
                                     "(rotateKeeper) to this key's public key")
        if current + 1 not in mine:
            log.warning("this keeper's term ends: it settles rounds %s…%s, keeper %s takes over "
                        "from round %s", mine[0], mine[-1], terms[current + 1][0], mine[-1] + 1)
        balance = int(self.w3.eth.get_balance(self.account.address))
        if balance < self.cfg.min_balance_wei:
            raise StartupCheckFailed(f"keeper {self.account.address} holds "
                                     f"{format_wei(balance)}, below min_balance_wei "
                                     f"{format_wei(self.cfg.min_balance_wei, exact=True)}: "
                                     "fund it")
        stored_chain = self.store.get_meta("chain_id")
        stored_market = self.store.get_meta("market")
        if stored_market is not None and (stored_market != self.market.address
                                          or stored_chain != str(chain_id)):
            raise StartupCheckFailed(f"database {self.cfg.database} belongs to market "
                                     f"{stored_market} on chain {stored_chain}: use another "
                                     "database for this market")
        self.store.set_meta("chain_id", str(chain_id))
        self.store.set_meta("market", self.market.address)
        log.info("keeper %s for market %s (%s) on chain %s, database %s",
                 self.account.address, self.market.address, self.market.params.mechanism,
                 chain_id, self.cfg.database.split("@")[-1])
        self._prepare()

    def _prepare(self) -> None:
        start = self.cfg.start_block if self.cfg.start_block >= 0 else self._deployed_at
        if start is None:
            start = deployment_block(self.w3, self.market.address)
        self.reader = LogReader(self.w3, self.market.address, self.market.abi,
                                start_block=start, confirmations=self.cfg.confirmations,
                                max_range=self.cfg.max_log_range)
        self.pipeline = RoundPipeline(self.market, self.store, self.sender,
                                      bytes(self.account.key), self.metrics,
                                      schedule=self._schedule)
        if self.cfg.max_page_bids:
            self.pipeline.limits = Limits(max_page_bids=self.cfg.max_page_bids)
        self.pricer = PricePoster(self.market, self.store, self.sender)

    def _schedule(self, r: int, kind: str, when: int) -> None:
        if self.scheduler is not None:
            self.scheduler.at(r, kind, when)

    # -- one tick ----------------------------------------------------------------------------
    def read_logs(self) -> int:
        """Read confirmed logs until caught up; returns new events stored."""
        assert self.reader is not None
        new = 0
        while True:
            result = self.reader.poll(self.store)
            if result is None:
                break
            if isinstance(result, Reorg):
                self._handle_reorg(result)
                continue
            assert isinstance(result, Batch)
            stored = self.store.record_batch(result.to_block, result.events, result.block_hashes)
            new += len(stored)
            for e in stored:
                if e.name in ("BidCommitted", "AskCommitted"):
                    rnd = int(e.args["round"])
                    if self.store.round_phase(rnd) is None:
                        self.store.set_phase(rnd, Phase.OPEN)
            if result.to_block >= self.reader.safe_head():
                break
        return new

    def _handle_reorg(self, reorg: Reorg) -> None:
        dropped = self.store.rewind(reorg.ancestor)
        self.sender.resync_nonce()  # transactions of the dropped blocks may be gone
        log.warning("reorg of depth %s: dropped %s events after block %s; re-reading and "
                    "re-checking active rounds", reorg.depth, dropped, reorg.ancestor)
        for r, phase in self.store.rounds(active=True).items():
            if phase is not Phase.OPEN:
                self.store.reset_round(r)

    def view(self) -> ChainView:
        """The chain as this tick sees it."""
        assert self.reader is not None
        latest = self.w3.eth.get_block("latest")
        safe = max(self.reader.safe_head(), 0)
        safe_time = (int(latest["timestamp"]) if safe == int(latest["number"])
                     else int(self.w3.eth.get_block(safe)["timestamp"]))
        return ChainView(safe_block=safe, safe_time=safe_time,
                         latest_time=int(latest["timestamp"]))

    def tick(self, _round: int | None = None) -> None:
        """Read logs and advance every active round (serialised; never overlaps)."""
        with self._work:
            if self._stop.is_set():
                return
            if self._outage_since is not None and time.monotonic() < self._retry_at:
                return  # backing off while the node is unreachable
            if not self.lock.try_acquire():
                if self._leading is not False:
                    log.info("standby: another keeper holds the leader lock; checking every "
                             "%.1fs", self.cfg.poll_interval)
                self._leading = False
                self.metrics.is_leader.set(0)
                return
            if self._leading is not True:
                log.info("leader lock acquired: this keeper acts")
            self._leading = True
            self.metrics.is_leader.set(1)
            assert self.pipeline is not None and self.reader is not None
            try:
                self.read_logs()
                view = self.view()
                last = self.store.last_scanned()
                self.metrics.head_lag.set(self.w3.eth.block_number - (last or 0))
            except (ConnectionError, OSError, TimeoutError) as exc:
                self._outage(exc)
                return
            except LogLimitError as exc:
                # one block's logs of one event exceed the provider's limit: nothing this keeper
                # can split further; say so each tick (rounds past their deadline get voided by
                # whoever can read them)
                self.metrics.tick_errors.inc()
                log.error("%s", exc)
                return
            if self._outage_since is not None:
                log.warning("node reachable again after %.1fs; catching up",
                            time.monotonic() - self._outage_since)
                self._outage_since = None
            for r in sorted(self.store.rounds(active=True)):
                if self._stop.is_set():
                    return  # draining: the next start resumes from the stored phases
                try:
                    self.pipeline.advance(r, view)
                except (ConnectionError, OSError, TimeoutError) as exc:
                    self._outage(exc)
                    return
                except BridgeError as exc:
                    self.metrics.tick_errors.inc()
                    log.error("round %s: %s", r, exc)
                except Exception:
                    self.metrics.tick_errors.inc()
                    log.exception("round %s: unexpected error", r)
            try:
                if self.pricer is not None:
                    self.pricer.tick(view.latest_time)
            except (ConnectionError, OSError, TimeoutError) as exc:
                self._outage(exc)
                return
            except BridgeError as exc:
                self.metrics.tick_errors.inc()
                log.error("price post: %s", exc)
            self.metrics.last_tick.set(time.time())

    def _outage(self, exc: BaseException) -> None:
        """Note an unreachable node; the next tries back off exponentially (capped)."""
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            self._backoff = self.cfg.poll_interval
        else:
            self._backoff = min(self._backoff * 2, max(self.cfg.max_retry_interval,
                                                       self.cfg.poll_interval))
        self._retry_at = now + self._backoff
        self.metrics.tick_errors.inc()
        log.warning("node unreachable (%s: %s); retrying in %.1fs", type(exc).__name__, exc,
                    self._backoff)

    def run_until_idle(self, max_ticks: int = 50) -> None:
        """Tick until nothing changes (tests and the demo drive the keeper this way)."""
        for _ in range(max_ticks):
            before = (self.store.rounds(), self.store.last_scanned())
            self.tick()
            if (self.store.rounds(), self.store.last_scanned()) == before:
                return

    # -- run ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the scheduler and the HTTP endpoint (after :meth:`startup_checks`)."""
        if self.cfg.metrics_port:
            self.http = HealthServer(self.metrics, self.cfg.metrics_host,
                                     self.cfg.metrics_port).start()
            self.http.status.update({"market": self.market.address,
                                     "keeper": self.account.address})
        if self.use_scheduler:
            key = f"{self.market.address.lower()}"
            self.scheduler = DeadlineScheduler(
                key, self.cfg.database, self.tick, poll_interval=self.cfg.poll_interval,
                misfire_grace_time=self.cfg.misfire_grace_time)
            self.scheduler.start()

    def stop(self) -> None:
        """Stop scheduling, wait for the running tick, release the lock."""
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.stop()
        with self._work:
            self.lock.release()
        if self.http is not None:
            self.http.stop()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s: finishing the current tick and stopping", signum)
            self._stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()
        log.info("keeper stopped")
        return EXIT_OK
