"""``bridge prover run``: a prover on autopilot.

Each tick (every ``poll_interval`` seconds, on one thread that owns every transaction):

1. **Jobs in**: for every round it asked in that is now final, the jobs assigned to it are read
   from the settlement logs into the store.
2. **Proofs**: pending jobs go to a pool of ``max_concurrent_proofs`` workers, earliest deadline
   first; a finished proof is stored (so a restart submits it without proving again) and then
   submitted, earliest deadline first. The slack left before each deadline is measured; the agent
   warns when it is below ``safety_margin``.
3. **Asks**: one sealed ask per round at ``cost_per_unit`` for the declared capacity, sent once
   the previous round's ask is settled (which frees collateral and lets earnings be withdrawn),
   and at the latest a quarter of the commit window before it closes. The chain's
   ``lastAskRound`` is checked first, so a restart never asks twice in a round. On a fixedprice
   market the log puts the round's posted price next to the cost (an ask above it cannot sell;
   the agent still asks at its true cost).
4. **Capacity and money**: capacity steps toward the configured value as the contract's pacing
   rule allows; collateral is topped up (within ``max_stake``) when an ask needs it; free
   collateral (earnings) above ``withdraw_above`` is withdrawn.

``drain``: no more asks; capacity goes to 0, outstanding jobs are proven, the collateral is
withdrawn and :meth:`ProverAgent.run` returns 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from eth_account.signers.local import LocalAccount
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from web3 import Web3

from bridge.agents.batching import Ready, batches
from bridge.agents.config import ProverAgentConfig
from bridge.agents.store import OPEN_STATES, AgentStore, JobRow
from bridge.chain.groth16 import generic_registry
from bridge.chain.logs import event_logs
from bridge.chain.market import Market, RoundStatus
from bridge.client.participant import Participant, Refused
from bridge.client.salts import SaltStore, SealedRecord
from bridge.client.settled import JobView, settled_jobs
from bridge.client.tasks import (
    RegisteredCircuit,
    backend_for,
    registered,
    resolve,
    task_inputs,
)
from bridge.errors import BridgeError, ChainError, ConfigError, InvalidInput, SettlementRejected
from bridge.keys import same_address
from bridge.proving import (
    SNARKJS,
    CommandBackend,
    Groth16Backend,
    PowBackend,
    ProvingBackend,
    ProvingError,
    task_circuit,
)
from bridge.units import format_duration, format_time, format_wei
from bridge.zkstore import ArtifactError, check_registration

log = logging.getLogger(__name__)


class StartRefused(ConfigError):
    """The agent cannot run as configured; the message names the fix. Nothing was sent."""


class ProverMetrics:
    """The agent's Prometheus metrics (own registry)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.asks = Counter("bridge_prover_asks", "Sealed asks committed", registry=r)
        self.units_sold = Counter("bridge_prover_units_sold", "Units assigned in jobs",
                                  registry=r)
        self.jobs = Counter("bridge_prover_jobs", "Jobs by outcome", ["state"], registry=r)
        self.proof_seconds = Histogram("bridge_prover_proof_seconds",
                                       "Time to compute one proof", registry=r)
        self.deadline_slack = Histogram(
            "bridge_prover_deadline_slack_seconds", "Seconds left before the proof deadline "
            "when a proof landed", buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600), registry=r)
        self.slashes = Counter("bridge_prover_slashes", "Jobs slashed", registry=r)
        self.earnings = Counter("bridge_prover_earnings_wei", "Proof payments received",
                                registry=r)
        self.in_flight = Gauge("bridge_prover_proofs_in_flight", "Proofs being computed",
                               registry=r)
        self.last_tick = Gauge("bridge_prover_last_tick_timestamp", "Unix time of the last tick",
                               registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreSalts(SaltStore):
    """Sealed asks recorded in the agent's database instead of a JSON file."""

    def __init__(self, store: AgentStore) -> None:
        super().__init__("/nonexistent/unused.json")
        self.store = store

    def add(self, record: SealedRecord) -> None:
        self.store.record_ask(record.round, record.price, record.quantity, record.commitment,
                              record.salt, record.tx_hash)

    def all(self) -> list[SealedRecord]:
        return []


class ProverAgent:
    """One prover's agent (module docstring)."""

    def __init__(self, cfg: ProverAgentConfig, account: LocalAccount, *,
                 w3: Web3 | None = None, drain: bool = False) -> None:
        from bridge.chain.connect import connect
        from bridge.chain.deployment import read_market_ref

        self.cfg = cfg
        self.w3 = w3 if w3 is not None else connect(cfg.rpc)
        address, deployed_at = read_market_ref(cfg.market)
        self.market = Market(self.w3, address)
        self.store = AgentStore(cfg.database)
        self.participant = Participant(self.market, account, salts=_StoreSalts(self.store))
        self.address = account.address
        self.metrics = ProverMetrics()
        self.drain = drain
        self.stop_event = threading.Event()
        self.from_block = cfg.from_block if cfg.from_block >= 0 else (deployed_at or 0)
        self.backends: dict[str, ProvingBackend] = {}
        self._generic: bool | None = None
        self._known: dict[int, RegisteredCircuit] = {}
        """The market's circuits as read at start (the registry is not read again per job)."""
        self.pool = ThreadPoolExecutor(max_workers=cfg.max_concurrent_proofs,
                                       thread_name_prefix="prove")
        self.futures: dict[tuple[int, int], Future[bytes]] = {}
        self.started: dict[tuple[int, int], float] = {}
        self.views: dict[tuple[int, int], JobView] = {}
        self.http: Any = None

    # -- startup -------------------------------------------------------------------------------
    def startup_checks(self) -> None:
        """Refuse to start (:class:`StartRefused`, one line naming the fix) before sending
        anything: unreachable node, no market, unfunded key, a circuit without a backend, or a
        capacity the collateral cannot back."""
        try:
            chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:
            raise StartRefused(f"cannot reach the node at {self.cfg.rpc}: {exc}; check rpc and "
                               "that the node runs") from None
        try:
            self.market.check_code()
        except BridgeError as exc:
            raise StartRefused(str(exc)) from None
        if int(self.w3.eth.get_balance(self.address)) == 0:
            raise StartRefused(f"the prover key {self.address} has no ETH for gas on chain "
                               f"{chain_id}: fund it, then start again")
        self._resolve_backends()
        params = self.market.params
        info = self.market.prover_info(self.address)
        need = params.refund_cap * self.cfg.capacity + params.min_escrow
        budget = info["collateral"] + self.cfg.max_stake_wei
        if need > budget:
            raise StartRefused(
                f"capacity {self.cfg.capacity} needs {format_wei(need)} of collateral (the "
                f"refund cap {format_wei(params.refund_cap)} per unit, what a requester is "
                "refunded from it if a proof is missed, plus the invalid-ask deposit "
                f"{format_wei(params.min_escrow)}); you hold {format_wei(info['collateral'])} "
                f"and max_stake lets the agent add {format_wei(self.cfg.max_stake_wei)}: stake "
                f"{format_wei(need - budget, exact=True)} more (`bridge prover stake`), raise "
                "max_stake, or lower capacity")

    def _resolve_backends(self) -> None:
        configured = dict(self.cfg.backends)
        if self.market.circuit_tasks:
            known = self._known = registered(self.market)
            circuits = {c.name: c for c in known.values()}
            for name in configured:
                if name not in circuits:
                    raise StartRefused(f"backends names circuit {name!r}, which this market "
                                       "does not register; registered: "
                                       + (", ".join(sorted(circuits)) or "none"))
            served = self._served(known)
            for name, c in circuits.items():
                if name not in served:
                    log.warning("circuit %s (%s): the market accepts it but this agent does "
                                "not serve it (circuits = %s): a job of it won here would be "
                                "missed and slashed", c.id, name, self.cfg.circuits)
                    continue
                spec = configured.get(name, "builtin")
                if spec.startswith("command:"):
                    self.backends[name] = CommandBackend(spec[len("command:"):])
                    continue
                self.backends[name] = self._checked_backend(c)
            return
        for name in configured:
            if name != "pow":
                raise StartRefused(f"backends names circuit {name!r}, but this market's tasks "
                                   "are proofs of work: use the key \"pow\" (or drop it)")

        spec = configured.get("pow", "builtin")
        if spec.startswith("command:"):
            self.backends["pow"] = CommandBackend(spec[len("command:"):])
        else:
            backend, _ = backend_for(self.market, b"\x00" * 32)
            assert isinstance(backend, PowBackend)
            self.backends["pow"] = backend

    def _served(self, known: dict[int, RegisteredCircuit]) -> set[str]:
        """The names of the circuits ``circuits`` names (all of them when it is empty)."""
        if not self.cfg.circuits:
            return {c.name for c in known.values()}
        try:
            return {resolve(self.market, ref).name for ref in self.cfg.circuits}
        except InvalidInput as exc:
            raise StartRefused(f"circuits: {exc}") from None

    def _checked_backend(self, c: RegisteredCircuit) -> ProvingBackend:
        """The backend of a served circuit, after the checks that it can be proven here."""
        if not SNARKJS.exists():
            raise StartRefused(f"circuit {c.name} needs snarkjs ({SNARKJS}) to prove: run "
                               "`npm ci`, or give it a command backend in [backends]")
        if c.artifacts is not None and c.key is not None:
            try:
                inputs, _ = check_registration(c.artifacts, c.key)
            except (ArtifactError, ProvingError) as exc:
                raise StartRefused(f"circuit {c.id} ({c.name}) fails its check: {exc}") from None
            log.info("circuit %s (%s): artifacts match their hashes, the proving key matches "
                     "the registered key, a proof of input %s verifies", c.id, c.name, inputs)
            return c.backend()
        if c.spec is None:
            raise StartRefused(f"circuit {c.name} has no local keys (wasm, zkey) to prove "
                               "with: give it a command backend in [backends]")
        for path in (c.spec.wasm, c.spec.zkey):
            if not path.exists():
                raise StartRefused(f"circuit {c.name}: {path} is missing: run "
                                   "zk/regenerate.sh or use a command backend")
        return Groth16Backend(c.spec)

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        """Tick until SIGTERM/SIGINT (between steps) or, when draining, until done."""
        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s: stopping after this step", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if self.cfg.metrics_port:
            from bridge.health import HealthServer

            self.http = HealthServer(self.metrics, self.cfg.metrics_host,
                                     self.cfg.metrics_port,
                                     stale_after=max(60.0, 10 * self.cfg.poll_interval)).start()
            self.http.status.update({"market": self.market.address, "prover": self.address})
        log.info("prover agent %s on market %s: cost %s per unit, capacity %s%s", self.address,
                 self.market.address, format_wei(self.cfg.cost_wei), self.cfg.capacity,
                 " (draining)" if self.drain else "")
        try:
            while not self.stop_event.is_set():
                try:
                    if self.tick():
                        return 0
                except (ConnectionError, OSError, TimeoutError) as exc:
                    log.warning("node unreachable (%s); retrying", exc)
                except BridgeError as exc:
                    log.error("%s", exc)
                self.stop_event.wait(self.cfg.poll_interval)
            return 0
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers (a proof in progress is redone after a restart) and the server."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.http is not None:
            self.http.stop()
        log.info("prover agent stopped (state kept in %s)", self.cfg.database)

    def tick(self) -> bool:
        """One pass (module docstring); True when a drain has finished."""
        self.sync_asks()
        self.scan_rounds()
        self.collect()
        self.submit_ready()
        self.dispatch()
        self.expire()
        if self.drain:
            done = self.drain_step()
        else:
            self.adjust_capacity()
            self.maybe_withdraw()  # before the ask, whose lock would hold the collateral
            self.maybe_ask()
            done = False
        self.metrics.last_tick.set(time.time())
        return done

    # -- asks ----------------------------------------------------------------------------------
    def _last_ask_round(self) -> int | None:
        last = self.market.prover_info(self.address)["last_ask_round_plus_one"]
        return None if last == 0 else last - 1

    def sync_asks(self) -> None:
        """The chain's last ask into the store (an ask sent just before a crash)."""
        r = self._last_ask_round()
        if r is not None and not self.store.asked(r):
            log.info("round %s: found my ask on chain (sent before a restart)", r)
            self.store.record_ask(r, self.cfg.cost_wei, 0)

    def maybe_ask(self) -> None:
        if self.cfg.capacity == 0:
            return
        params = self.market.params
        r = self.market.current_round()
        if self.store.asked(r) or self._last_ask_round() == r:
            return
        info = self.market.prover_info(self.address)
        if info["capacity"] == 0:
            return
        now = self.market.chain_time()
        closes = params.closes_at(r)
        if now >= closes - self.cfg.ask_margin:
            return  # too late to be mined in this round: the next one
        wait_until = closes - max(self.cfg.ask_margin + 2 * self.cfg.poll_interval,
                                  params.commit_period / 4)
        if self.participant.ask_lock() is not None and now < wait_until:
            return  # wait for the previous ask to settle (frees collateral, allows withdrawals)
        need = self.participant.ask_collateral(r, info["capacity"])[0]
        if info["collateral"] < need and not self._top_up(need - info["collateral"]):
            log.warning("round %s: skipping the ask: it needs %s of collateral, %s held and "
                        "max_stake allows no more", r, format_wei(need),
                        format_wei(info["collateral"]))
            return
        try:
            self.participant.ask(cost=self.cfg.cost_wei, round=r)
        except Refused as exc:
            log.warning("round %s: ask refused: %s", r, exc)
            return
        except ChainError as exc:
            # mined after the close, or refused by state that changed meanwhile: nothing was
            # committed, so the next tick (or round) asks again
            log.warning("round %s: the ask was not accepted (%s; chain time %s, close %s); "
                        "trying again (raise ask_margin if this repeats)", r, exc,
                        self.market.chain_time(), closes)
            return
        self.metrics.asks.inc()
        if params.mechanism == "fixedprice":
            self._log_against_price(r, info["capacity"])
        else:
            log.info("round %s: asked %s units at %s per unit", r, info["capacity"],
                     format_wei(self.cfg.cost_wei))

    def _log_against_price(self, r: int, units: int) -> None:
        """fixedprice: the ask (at the true cost, whatever the price) next to the round's posted
        price: an ask with cost ≤ price is eligible and sells if demand allows; above it, it
        cannot sell this round."""
        price, cost = self.market.round_price(r), self.cfg.cost_wei
        what = f"round {r}: ask {units} unit{'' if units == 1 else 's'} at cost {format_wei(cost)}"
        if cost <= price:
            log.info("%s (posted price %s: sells if demand allows)", what, format_wei(price))
        else:
            log.warning("%s: cost above the posted price %s: this ask cannot sell", what,
                        format_wei(price))

    def _top_up(self, amount: int) -> bool:
        staked = int(self.store.get("staked_by_agent") or 0)
        if staked + amount > self.cfg.max_stake_wei:
            return False
        self.participant.stake(amount)
        self.store.put("staked_by_agent", str(staked + amount))
        log.info("staked %s more collateral (%s by the agent in all)", format_wei(amount),
                 format_wei(staked + amount))
        return True

    def adjust_capacity(self) -> None:
        """Step the declared capacity toward the configured one as pacing allows."""
        info = self.market.prover_info(self.address)
        current, target = info["capacity"], self.cfg.capacity
        if current == target or self.participant.ask_lock() is not None:
            return
        params = self.market.params
        if target != 0 and info["capacity_round_plus_one"] != 0:
            allowed = info["capacity_round_plus_one"] - 1 + params.capacity_interval
            if self.market.current_round() < allowed:
                return
            ref, factor = info["ref_capacity"], params.capacity_factor
            target = max(min(target, ref * factor), -(-ref // factor))
        need = params.refund_cap * target
        if info["collateral"] < need and not self._top_up(need - info["collateral"]):
            log.warning("capacity %s needs %s of collateral; %s held", target,
                        format_wei(need), format_wei(info["collateral"]))
            return
        try:
            self.participant.set_capacity(target)
            log.info("capacity %s → %s", current, target)
        except Refused as exc:
            log.info("capacity stays %s for now: %s", current, exc)

    def maybe_withdraw(self) -> None:
        """Withdraw free collateral (earnings, and stake no longer needed) above the threshold;
        what backs the capacity and open jobs stays, with the invalid-ask deposit ``minEscrow``
        (together, the next ask's reservation)."""
        threshold = self.cfg.withdraw_above_wei
        if threshold <= 0:
            return
        free = self.participant.free_collateral() - self.market.params.min_escrow
        if free > threshold:
            self.participant.withdraw_collateral(free)
            log.info("withdrew %s of free collateral", format_wei(free))

    def drain_step(self) -> bool:
        info = self.market.prover_info(self.address)
        if self.participant.ask_lock() is not None:
            return False
        if info["capacity"] != 0:
            self.participant.set_capacity(0)
            log.info("draining: capacity 0")
        if self.store.unscanned_asks() or self.store.jobs(OPEN_STATES) or self.futures:
            return False
        if self.market.outstanding_units(self.address):
            return False
        if self.market.prover_info(self.address)["collateral"] > 0:
            amount = self.participant.withdraw_collateral()
            log.info("draining: withdrew %s of collateral", format_wei(amount))
        log.info("drained: no asks, no jobs, no collateral left in the market")
        return True

    # -- jobs ----------------------------------------------------------------------------------
    def _round_from_block(self, r: int) -> int:
        """A block at or before round ``r``'s first commitment (cached): bounds log reads."""
        key = f"from_block:{r}"
        cached = self.store.get(key)
        if cached is not None:
            return int(cached)
        start = self.market.params.genesis + r * self.market.params.commit_period
        lo, hi = self.from_block, int(self.w3.eth.block_number)
        while lo < hi:  # the last block with timestamp < start
            mid = (lo + hi + 1) // 2
            if int(self.w3.eth.get_block(mid)["timestamp"]) < start:
                lo = mid
            else:
                hi = mid - 1
        self.store.put(key, str(lo))
        return lo

    def scan_rounds(self) -> None:
        now = time.time()
        for r in self.store.unscanned_asks():
            status = self.market.round_info(r).status
            if status is RoundStatus.VOIDED:
                self.store.mark_scanned(r)
                continue
            if status is not RoundStatus.SETTLED:
                continue
            for view in settled_jobs(self.market, r, self._round_from_block(r)):
                if not same_address(view.job.prover, self.address):
                    continue
                j = view.job
                self.views[(r, j.job_index)] = view
                if self.store.add_job(r, j.job_index, j.bid_index, j.task, j.units, j.payment,
                                      j.proof_deadline, now):
                    self.metrics.units_sold.inc(j.units)
                    log.info("round %s: job %s (%s units, %s) due %s", r, j.job_index,
                             j.units, format_wei(j.payment),
                             format_time(j.proof_deadline, int(now)))
            self.store.mark_scanned(r)

    def _view(self, row: JobRow) -> JobView:
        key = (row.round, row.job_index)
        if key not in self.views:
            for v in settled_jobs(self.market, row.round, self._round_from_block(row.round)):
                self.views[(row.round, v.job.job_index)] = v
        return self.views[key]

    def _backend(self, task: bytes) -> ProvingBackend | None:
        """The backend of a job's task; ``None`` for a circuit this agent does not serve."""
        if not self.market.circuit_tasks:
            return self.backends["pow"]
        c = self._known.get(task_circuit(task))
        if c is None:  # accepted after the agent started: read the registry again
            self._known = registered(self.market)
            c = self._known.get(task_circuit(task))
        return None if c is None else self.backends.get(c.name)

    def dispatch(self) -> None:
        """Start proofs for pending jobs, earliest deadline first, up to the concurrency limit."""
        for row in self.store.jobs(("pending",)):
            key = (row.round, row.job_index)
            if key in self.futures:
                continue
            if len(self.futures) >= self.cfg.max_concurrent_proofs:
                break
            task = bytes.fromhex(row.task[2:])
            backend = self._backend(task)
            if backend is None:
                if row.error is None:
                    log.error("round %s job %s: its circuit is not one this agent serves "
                              "(circuits = %s): it cannot be proven here", row.round,
                              row.job_index, self.cfg.circuits)
                    self.store.update_job(row.round, row.job_index,
                                          error="circuit not served by this agent")
                continue
            inputs = (task_inputs(self.market, row.round, row.bid_index,
                                  self._round_from_block(row.round))
                      if self.market.circuit_tasks else [])
            self.started[key] = time.monotonic()
            self.futures[key] = self.pool.submit(backend.prove, task, self.address, inputs)
            log.info("round %s job %s: proving (deadline %s)", row.round, row.job_index,
                     row.deadline)
        self.metrics.in_flight.set(len(self.futures))

    def collect(self) -> None:
        """Store finished proofs (state ``proved``); a failed proof is retried next tick."""
        for key, fut in list(self.futures.items()):
            if not fut.done():
                continue
            del self.futures[key]
            started = self.started.pop(key, time.monotonic())
            try:
                proof = fut.result()
            except Exception as exc:  # the backend's failure: logged, retried
                log.error("round %s job %s: proving failed: %s", key[0], key[1], exc)
                self.store.update_job(*key, error=str(exc)[:500])
                continue
            self.metrics.proof_seconds.observe(time.monotonic() - started)
            self.store.update_job(*key, state="proved", proof=proof, proved_at=time.time())

    def submit_ready(self) -> None:
        """Submit stored proofs, earliest deadline first; on a ``Groth16Registry`` market, a
        round's proofs together in one ``submitProofs`` (``bridge.agents.batching``)."""
        batched = self.market.circuit_tasks and self._batching()
        ready: list[JobRow] = []
        for row in self.store.jobs(("proved", "submitted")):
            now = self.market.chain_time()
            if now > row.deadline:
                continue  # expire() records it
            if self._proven_by_me(row):
                self._mark_proven(row, now)
                continue
            slack = row.deadline - now
            if slack < self.cfg.safety_margin:
                log.warning("round %s job %s: only %ss left before the proof deadline "
                            "(safety margin %ss)", row.round, row.job_index, slack,
                            self.cfg.safety_margin)
            if batched:
                ready.append(row)
            else:
                self._submit_one(row, now)
        if ready:
            self._submit_batches(ready)

    def _batching(self) -> bool:
        if self._generic is None:
            self._generic = generic_registry(self.w3, self.market.params.verifier) is not None
        return self._generic

    def _submit_one(self, row: JobRow, now: int) -> None:
        key = (row.round, row.job_index)
        assert row.proof is not None
        try:
            receipt = self.participant.prove(self._view(row), proof=row.proof,
                                             from_block=self._round_from_block(row.round))
        except Refused as exc:
            if self._proven_by_me(row):
                self._mark_proven(row, now)
            else:
                log.error("round %s job %s: proof refused: %s", *key, exc)
            return
        self.store.update_job(*key, state="submitted",
                              tx_hash=Web3.to_hex(receipt["transactionHash"]))
        self._mark_proven(row, now)

    def _submit_batches(self, rows: list[JobRow]) -> None:
        """Send the batches the rule says are due; a batch refused for one bad proof
        (``ProofInvalid(i)``) drops that job back to proving and goes again without it."""
        by_key = {(r.round, r.job_index): r for r in rows}
        proving = {k[0] for k in self.futures} | {
            r.round for r in self.store.jobs(("pending",))}
        now = self.market.chain_time()
        for group in batches([Ready(r.round, r.job_index, r.deadline) for r in rows], proving,
                             now, self.cfg.safety_margin):
            todo = [by_key[(g.round, g.job_index)] for g in group]
            while todo:
                if len(todo) == 1:
                    self._submit_one(todo[0], now)
                    break
                try:
                    receipt = self.participant.prove_batch(
                        [self._view(r) for r in todo], [bytes(r.proof or b"") for r in todo])
                except SettlementRejected as exc:
                    if exc.name != "ProofInvalid":
                        log.error("round %s: batch of %s proofs refused: %s", todo[0].round,
                                  len(todo), exc)
                        break
                    bad = todo.pop(int(exc.args_["index"]))
                    log.error("round %s job %s: its proof fails the batch check (ProofInvalid): "
                              "proving it again; sending the other %s", bad.round,
                              bad.job_index, len(todo))
                    self.store.update_job(bad.round, bad.job_index, state="pending", proof=None,
                                          error="proof failed the batch check")
                    continue
                tx = Web3.to_hex(receipt["transactionHash"])
                log.info("round %s: %s proofs in one submitProofs (%s gas)", todo[0].round,
                         len(todo), receipt["gasUsed"])
                for r in todo:
                    self.store.update_job(r.round, r.job_index, state="submitted", tx_hash=tx)
                    self._mark_proven(r, now)
                break

    def _proven_by_me(self, row: JobRow) -> bool:
        if not self.market.is_resolved(row.round, row.job_index):
            return False
        return any(int(e["args"]["jobIndex"]) == row.job_index for e in event_logs(
            self.market, "ProofAccepted", self._round_from_block(row.round), {"round": row.round}))

    def _mark_proven(self, row: JobRow, now: int) -> None:
        self.store.update_job(row.round, row.job_index, state="proven")
        self.metrics.jobs.labels("proven").inc()
        self.metrics.deadline_slack.observe(max(row.deadline - now, 0))
        self.metrics.earnings.inc(int(row.payment))
        log.info("round %s job %s: proven %s before the deadline; paid %s", row.round,
                 row.job_index, format_duration(row.deadline - now), format_wei(int(row.payment)))

    def expire(self) -> None:
        """Jobs past their deadline unproven: ``missed`` (the keeper slashes them), then
        ``slashed`` once the chain says so."""
        now = self.market.chain_time()
        for row in self.store.jobs((*OPEN_STATES, "missed")):
            if now <= row.deadline:
                continue
            key = (row.round, row.job_index)
            if row.state != "missed":
                if self._proven_by_me(row):
                    self._mark_proven(row, now)
                    continue
                fut = self.futures.pop(key, None)
                if fut is not None:
                    fut.cancel()
                self.store.update_job(*key, state="missed")
                log.error("round %s job %s: the proof deadline passed unproven", *key)
            if self.market.is_resolved(row.round, row.job_index):
                self.store.update_job(*key, state="slashed")
                self.metrics.slashes.inc()
                self.metrics.jobs.labels("slashed").inc()
