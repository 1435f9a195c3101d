// The page: market, requester and prover views over one Chain (node reads + EIP-1193 wallet).
import { formatUnits, keccak256, parseUnits, stringToHex, type Address, type Hex } from "viem";
import { Chain, RefusedError, isRejection, normalAddress, sameAddress, type Config, type Eip1193 } from "./chain";
import { priceHistoryChart, stepChart, type Mark, type Point, type Series, type Step } from "./charts";
import { describe, plainMessage } from "./errors";
import protocol from "./generated/protocol.json";
import {
  ASK, BID, commitment, decodeAsks, decodePage, decodeProof, jobsFromLogs, newSalt, powOk, seal,
  type AskReveal, type BidCommit, type Job, type PageBid, type SettledPage,
} from "./protocol";
import * as salts from "./salts";

const PHASES = ["upcoming", "commit", "settle", "voidable", "proof", "slashable", "voided"];
const STATUS = ["open", "settled", "voided", "settling"];
const NEAR_DEADLINE = 0.25; // warn when less than this share of the proof period is left
const PRICE_HISTORY = 5n; // fixedprice: rounds before the current one whose prices are listed

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const esc = (s: unknown) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** An amount in gwei, or in ETH from 0.001 ETH up (exact either way: formatUnits keeps every
 *  digit). */
const gwei = (v: bigint) => (v >= 10n ** 15n || v <= -(10n ** 15n) ? `${formatUnits(v, 18)} ETH` : `${formatUnits(v, 9)} gwei`);
/** ETH to 6 decimals (cut, not rounded: never more than the wallet holds); the exact wei in a
 *  tooltip where it is shown. */
const ether = (v: bigint) => {
  const [i, f = ""] = formatUnits(v, 18).split(".");
  const cut = f.slice(0, 6).replace(/0+$/, "");
  return `${f.length > 6 ? "≈ " : ""}${i}${cut ? "." + cut : ""} ETH`;
};
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;
/** "1 job", "2 jobs" */
const plural = (n: number | bigint, word: string) => `${n} ${word}${BigInt(n) === 1n ? "" : "s"}`;
const INFO_SHOWN_MS = 8000; // a success message clears after this; an error stays until the next

let chain: Chain;
let provider: Eip1193 | undefined;
let chainOk = false;
let headTime = 0n; // latest block timestamp
let fetchedAt = 0;
const chainNow = () => headTime + BigInt(Math.floor((Date.now() - fetchedAt) / 1000));

interface State {
  round: bigint; phase: number; bids: bigint; asks: bigint; status: number;
  times: readonly bigint[]; free: bigint;
  prover: readonly bigint[]; outstanding: bigint; difficulty: number; circuitTasks: boolean;
  keeperKey?: Hex;
  prices?: Prices; // fixedprice markets only
  eth: bigint; // the connected wallet's ETH balance (0 without a wallet)
}

/** fixedprice: a round's price per unit and where it comes from (a post for that round, one
 *  carried from an earlier post, or the market's initial price). */
interface RoundPrice { round: bigint; price: bigint; source: "posted" | "carried" | "initial"; }
/** The current round's price, the rounds before it and the next round's once it is known (posted
 *  for it, or not due for a post, `priceEvery`: then the current price carries). */
interface Prices { current: RoundPrice; history: RoundPrice[]; next?: RoundPrice; every: bigint; }
let st: State | undefined;
const pageCache = new Map<Hex, PageBid[]>();
const openedPrices = new Map<bigint, bigint>(); // fixedprice: prices of rounds already open

let sayTimer: ReturnType<typeof setTimeout> | undefined;
/** The message area: a success (info) clears itself after INFO_SHOWN_MS, an error stays until the
 *  next message or until the user closes it; `busy` (an action under way) stays until its end. */
function say(text: string, kind: "error" | "info" | "busy" = "info") {
  const m = $("#message");
  m.textContent = text;
  m.className = kind === "busy" ? "info" : kind;
  m.hidden = false;
  if (sayTimer) clearTimeout(sayTimer);
  sayTimer = undefined;
  if (kind === "info") sayTimer = setTimeout(() => { m.hidden = true; }, INFO_SHOWN_MS);
  if (kind === "error") {
    const close = document.createElement("button");
    close.className = "close";
    close.textContent = "×";
    close.title = "dismiss";
    close.onclick = () => { m.hidden = true; };
    m.append(close);
  }
}

async function act(what: string, fn: () => Promise<string | void>) {
  try {
    say(`${what}…`, "busy");
    const done = await fn();
    say(done ?? `${what}: done`);
    await refresh();
  } catch (err) {
    if (isRejection(err)) say(`${what} cancelled: you rejected the request in your wallet (nothing was sent)`, "error");
    else if (err instanceof RefusedError) say(`${what} refused: ${describe(err.decoded)}`, "error");
    else say(`${what} failed: ${plainMessage(err)}`, "error");
  }
}

function countdown(to: bigint): string {
  const left = Number(to - chainNow());
  if (left <= 0) return "passed";
  const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
  return (h ? `${h}h ` : "") + (h || m ? `${m}m ` : "") + `${s}s`;
}

// ------------------------------------------------------------------------------------ refresh
async function refresh() {
  const block = await chain.pub.getBlock();
  headTime = block.timestamp;
  fetchedAt = Date.now();
  await chain.syncLogs();
  const round = await chain.read<bigint>("currentRound");
  const [info, phase, times, difficulty, circuitTasks, keeper] = await Promise.all([
    chain.read<readonly unknown[]>("roundInfo", [round]),
    chain.read<number>("roundPhase", [round]),
    chain.read<readonly bigint[]>("roundTimes", [round]),
    st ? Promise.resolve(st.difficulty) : readDifficulty(),
    st ? Promise.resolve(st.circuitTasks) : chain.read<boolean>("circuitTasks"),
    chain.read<readonly [Address, Hex]>("keeperFor", [round]),
  ]);
  const me = chain.account;
  const [free, prover, outstanding, eth] = me ? await Promise.all([
    chain.read<bigint>("balanceOf", [me]),
    chain.read<readonly bigint[]>("proverInfo", [me]),
    chain.read<bigint>("outstandingUnits", [me]),
    chain.pub.getBalance({ address: me }),
  ]) : [0n, [0n, 0n, 0n, 0n, 0n], 0n, 0n];
  const prices = chain.cfg.record.parameters.mechanism === "fixedprice"
    ? await readPrices(round, st?.prices?.every) : undefined;
  st = { round, phase, bids: info[0] as bigint, asks: info[1] as bigint, status: Number(info[7]),
         times, free, prover, outstanding, difficulty, circuitTasks, keeperKey: keeper[1], prices, eth };
  await render();
}

/** fixedprice: the prices of the rounds before `round`, of `round` and of the next round, from
 *  `roundPrice` (the chain's answer) and the `PricePosted` logs (which rounds a post set). */
async function readPrices(round: bigint, every?: bigint): Promise<Prices> {
  const first = round > PRICE_HISTORY ? round - PRICE_HISTORY : 0n;
  const rounds: bigint[] = [];
  for (let k = first; k <= round + 1n; k++) rounds.push(k);
  const [values, priceEvery] = await Promise.all([
    Promise.all(rounds.map(async (k) => {
      const known = openedPrices.get(k);
      if (known !== undefined) return known;
      const p = await chain.read<bigint>("roundPrice", [k]);
      if (k <= round) openedPrices.set(k, p); // fixed once the round opened
      return p;
    })),
    every !== undefined ? Promise.resolve(every) : chain.read<bigint>("priceEvery"),
  ]);
  const posted = new Set(chain.events("PricePosted").map((e) => e.round as bigint));
  const at = (i: number): RoundPrice => {
    const k = rounds[i];
    const source = posted.has(k) ? "posted" : [...posted].some((j) => j < k) ? "carried" : "initial";
    return { round: k, price: values[i], source };
  };
  const n = rounds.length;
  const nxt = round + 1n;
  const known = posted.has(nxt) || nxt % priceEvery !== 0n;
  return { current: at(n - 2), history: rounds.slice(0, -2).map((_k, i) => at(i)),
           next: known ? at(n - 1) : undefined, every: priceEvery };
}

/** The check the CLI makes before a bid: a value below price × units cannot trade. */
function priceCheck(p: RoundPrice, value: bigint, units: bigint): { clears: boolean; text: string } {
  const need = p.price * units;
  const posted = units === 1n ? gwei(p.price) : `${gwei(p.price)} × ${units} units = ${gwei(need)}`;
  return value < need
    ? { clears: false, text: `round ${p.round}: your ${gwei(value)} is below the posted price ${posted}: this bid cannot trade; raise it to ≥ ${gwei(need)}` }
    : { clears: true, text: `round ${p.round}: your ${gwei(value)} ≥ the posted ${posted}: you trade if supply allows` };
}

async function readDifficulty(): Promise<number> {
  if (chain.cfg.record.parameters.verifier.kind !== "pow") return -1;
  return Number(await chain.pub.readContract({
    address: chain.cfg.record.verifier, functionName: "difficultyBits", args: [],
    abi: [{ type: "function", name: "difficultyBits", stateMutability: "view", inputs: [],
            outputs: [{ type: "uint256" }] }] }));
}

// ----------------------------------------------------------------------------- round records
interface Proven { tx: Hex; prover: Address; payment: bigint; }
interface Slashed { tx: Hex; refund: bigint; compensation: bigint; }
interface RoundView {
  round: bigint; bids: BidCommit[]; askProvers: Address[]; pages: SettledPage[];
  settled?: Record<string, unknown>; voided: boolean;
  proven: Map<bigint, Proven>; slashed: Map<bigint, Slashed>;
  begun?: Hex; // the SettlementBegun transaction (its input reveals the asks)
}

function roundsFromLogs(): Map<bigint, RoundView> {
  const rounds = new Map<bigint, RoundView>();
  const get = (r: bigint) => {
    let v = rounds.get(r);
    if (!v) {
      v = { round: r, bids: [], askProvers: [], pages: [], voided: false, proven: new Map(),
            slashed: new Map() };
      rounds.set(r, v);
    }
    return v;
  };
  for (const l of chain.logs) {
    const a = l.args as Record<string, unknown>;
    const r = a.round as bigint;
    switch (l.eventName) {
      case "BidCommitted":
        get(r).bids[Number(a.index)] = { requester: a.requester as Address, escrow: a.escrow as bigint,
                                          task: a.task as Hex, commitment: a.commitment as Hex };
        break;
      case "AskCommitted": get(r).askProvers[Number(a.index)] = a.prover as Address; break;
      case "BidsSettled":
        get(r).pages.push({ page: a.page as bigint, firstBid: a.firstBid as bigint,
          firstJob: a.firstJob as bigint, charges: a.charges as bigint[], jobs: a.jobs as bigint[],
          tx: l.transactionHash as Hex });
        break;
      case "RoundSettled": get(r).settled = a; break;
      case "RoundVoided": get(r).voided = true; break;
      case "SettlementBegun": get(r).begun = l.transactionHash as Hex; break;
      case "ProofAccepted":
        get(r).proven.set(a.jobIndex as bigint, { tx: l.transactionHash as Hex, prover: a.prover as Address,
                                                 payment: a.payment as bigint });
        break;
      case "JobSlashed":
        get(r).slashed.set(a.jobIndex as bigint, { tx: l.transactionHash as Hex, refund: a.refund as bigint,
                                                  compensation: a.compensation as bigint });
        break;
    }
  }
  return rounds;
}

function proofDeadline(r: bigint): bigint {
  const p = chain.cfg.record.parameters;
  return BigInt(p.genesis) + (r + 1n) * BigInt(p.commit_period) + BigInt(p.settle_period) +
    BigInt(p.proof_period);
}

function jobsOf(v: RoundView) {
  return v.settled ? jobsFromLogs(v.round, v.bids, v.askProvers, v.pages, proofDeadline(v.round)) : undefined;
}

const askCache = new Map<Hex, AskReveal[]>();
/** The round's ask reveals, from its `beginSettlement` input (empty before settlement). */
async function roundAsks(v: RoundView): Promise<AskReveal[]> {
  if (!v.begun) return [];
  let asks = askCache.get(v.begun);
  if (!asks) {
    const data = await chain.asksOf(v.begun);
    asks = data ? decodeAsks(data) : [];
    askCache.set(v.begun, asks);
  }
  return asks;
}

async function pageBids(v: RoundView): Promise<PageBid[]> {
  const out: PageBid[] = [];
  for (const pg of v.pages) {
    let bids = pageCache.get(pg.tx);
    if (!bids) {
      const page = await chain.pageOf(pg.tx);
      bids = page ? decodePage(chain.cfg.record.parameters.mechanism, page) : [];
      pageCache.set(pg.tx, bids);
    }
    out.push(...bids);
  }
  return out;
}

// ------------------------------------------------------------------------------------ render
async function render() {
  if (!st) return;
  // keep what the user typed across re-renders
  const typed = new Map<string, string>();
  document.querySelectorAll<HTMLInputElement>("form[id] input[name]").forEach((i) => {
    if (i.dataset.touched) typed.set(`${i.form!.id}/${i.name}`, i.value);
  });
  await renderMarket();
  await renderRequester();
  renderProver();
  document.querySelectorAll<HTMLInputElement>("form[id] input[name]").forEach((i) => {
    const v = typed.get(`${i.form!.id}/${i.name}`);
    if (v !== undefined) { i.value = v; i.dataset.touched = "1"; }
    i.addEventListener("input", () => { i.dataset.touched = "1"; });
  });
  showPriceCheck();
}

/** fixedprice: under the bid form, the value against this round's price × the units (a warning
 *  when it is below: such a bid cannot trade, and the form refuses to send it). */
function showPriceCheck() {
  const out = document.querySelector<HTMLElement>("#price-check");
  const form = document.querySelector<HTMLFormElement>("#bid-form");
  if (!out || !form || !st?.prices) return;
  let check;
  try {
    const f = new FormData(form);
    check = priceCheck(st.prices.current, parseUnits(String(f.get("value")), 9), BigInt(String(f.get("units"))));
  } catch { out.textContent = ""; return; }
  out.textContent = check.text;
  out.className = check.clears ? "rule" : "warn";
}

let chartRound: bigint | undefined; // the settled round the market view draws (default: the latest)

async function renderMarket() {
  const s = st!;
  const [, closes, settleBy, proveBy] = s.times;
  const empty = s.bids === 0n && s.asks === 0n;
  const rounds = roundsFromLogs();
  // rounds nobody bid in (a prover agent asks every round) would push the trades off the list
  const past = [...rounds.values()].filter((v) => v.round < s.round && v.bids.length > 0).sort((a, b) => Number(b.round - a.round)).slice(0, 12);
  const rows = past.map((v) => {
    const jobs = jobsOf(v);
    const winners = jobs ? jobs.charges.map((c, i) => [i, c] as const).filter(([, c]) => c > 0n) : [];
    const prices = [...new Set(winners.map(([, c]) => c))].map(gwei).join(", ");
    const paid = jobs ? [...new Set(jobs.jobs.map((j) => j.payment / j.units))].map(gwei).join(", ") : "";
    const state = v.voided ? "voided" : v.settled ? "settled" : "not settled";
    const who = winners.map(([i]) => v.bids[i]?.requester).filter((a): a is Address => !!a);
    return `<tr data-round="${v.round}"><td>${v.round}</td><td>${state}</td><td>${v.bids.length}</td>
      <td>${v.askProvers.length}</td><td>${v.settled ? (winners.length ? prices : "no trade") : ""}</td>
      <td>${paid}</td>
      <td class="winners">${[...new Set(who)].map((a) => `<span class="addr" title="${a}">${short(a)}</span>`).join(", ")}</td>
      <td>${jobs ? `${plural(jobs.jobs.length, "job")}: ${v.proven.size} proven, ${v.slashed.size} slashed` : ""}</td></tr>`;
  }).join("");
  const settled = [...rounds.values()].filter((v) => v.settled && !v.voided).sort((a, b) => Number(b.round - a.round));
  if (chartRound === undefined || !settled.some((v) => v.round === chartRound)) chartRound = settled[0]?.round;
  const shown = settled.find((v) => v.round === chartRound);
  // everything is read before the view is replaced once (no flicker, no half-drawn view)
  let charts = `<p class="rule">Charts appear once a round settles: its sealed orders are revealed then.</p>`;
  let jobsView = "";
  if (settled.length) {
    const history = priceHistoryChart(await priceSeries(settled));
    const chart = shown ? await roundChart(shown) : "";
    const pick = settled.length > 1 ? `<label>round <select id="chart-round">${settled.map((v) =>
      `<option value="${v.round}"${v.round === chartRound ? " selected" : ""}>${v.round}</option>`).join("")}</select></label>` : "";
    charts = `<h2>Supply and demand ${pick}</h2>${chart}
      <h2>Prices across rounds</h2>${history || `<p class="rule">No settled round traded yet.</p>`}`;
    if (shown) jobsView = await roundJobsTable(shown);
  }
  $("#view-market").innerHTML = `
    <h2>Round <span id="current-round">${s.round}</span></h2>
    <div class="grid">
      <div class="card"><span>phase</span><b id="phase">${PHASES[s.phase]}${empty && s.phase !== 1 ? " (empty)" : ""}</b></div>
      <div class="card"><span>commit closes in</span><b id="commit-countdown" data-to="${closes}">${countdown(closes)}</b></div>
      <div class="card"><span>settle deadline in</span><b id="settle-countdown" data-to="${settleBy}">${countdown(settleBy)}</b></div>
      <div class="card"><span>proof deadline</span><b id="proof-countdown" data-to="${proveBy}">${proveBy ? countdown(proveBy) : "once settled"}</b></div>
      <div class="card"><span>sealed bids / asks</span><b id="commit-counts">${s.bids} / ${s.asks}</b></div>
      ${s.prices ? `<div class="card"><span>posted price</span><b id="round-price">${gwei(s.prices.current.price)} per unit</b></div>` : ""}
    </div>
    <p class="rule">Mechanism ${chain.cfg.record.parameters.mechanism}: ${RULES[chain.cfg.record.parameters.mechanism]}</p>
    ${s.prices ? priceTable(s.prices) : ""}
    <h2>Past rounds with bids</h2>
    <table id="past-rounds"><tr><th>round</th><th>state</th><th>bids</th><th>asks</th><th>charged</th>
      <th>paid per unit</th><th>winners</th><th>jobs</th></tr>${rows || `<tr><td colspan="8">none yet</td></tr>`}</table>
    <p class="rule">From the market's logs since block ${chain.startBlock}, read in ranges of at most 2000 blocks.</p>
    <div id="charts">${charts}</div>
    <div id="round-jobs-view">${jobsView}</div>`;
  const sel = document.querySelector<HTMLSelectElement>("#chart-round");
  if (sel) sel.onchange = () => { chartRound = BigInt(sel.value); void render(); };
  wireProofButtons($("#view-market"));
}

/** Per-unit prices of the settled rounds that traded: what winners were charged, what provers
 *  were paid, and (fixedprice) the posted price. */
async function priceSeries(settled: RoundView[]): Promise<Series[]> {
  const charged: Point[] = [], paid: Point[] = [], posted: Point[] = [];
  for (const v of [...settled].reverse().slice(-24)) {
    const jobs = jobsOf(v);
    if (!jobs?.jobs.length) continue;
    const bids = await pageBids(v);
    const perUnit = jobs.charges.map((c, i) => {
      const size = bids.find((b) => b.index === i)?.size ?? 1n;
      return c > 0n ? c / (size || 1n) : undefined;
    }).filter((c): c is bigint => c !== undefined);
    if (perUnit.length) charged.push({ round: v.round, price: perUnit.reduce((a, b) => (a < b ? a : b)) });
    const pays = jobs.jobs.map((j) => j.payment / j.units);
    paid.push({ round: v.round, price: pays.reduce((a, b) => (a > b ? a : b)) });
    if (chain.cfg.record.parameters.mechanism === "fixedprice") posted.push({ round: v.round, price: await roundPriceOf(v.round) });
  }
  const out: Series[] = [{ name: "charged per unit (lowest)", kind: "charged", points: charged },
                         { name: "paid per unit (highest)", kind: "paid", points: paid }];
  if (posted.length) out.push({ name: "posted price", kind: "posted", points: posted });
  return out.filter((x) => x.points.length);
}

async function roundPriceOf(r: bigint): Promise<bigint> {
  let p = openedPrices.get(r);
  if (p === undefined) { p = await chain.read<bigint>("roundPrice", [r]); openedPrices.set(r, p); }
  return p;
}

/** A settled round's revealed supply and demand with its prices marked. */
async function roundChart(v: RoundView): Promise<string> {
  const [asks, bids] = await Promise.all([roundAsks(v), pageBids(v)]);
  const jobs = jobsOf(v);
  const supply: Step[] = asks.filter((a) => a.valid).map((a) => ({ qty: a.quantity!, price: a.cost!, who: `ask ${a.index} ${short(a.prover)}` }));
  const demand: Step[] = bids.filter((b) => b.valid).map((b) => ({ qty: b.size ?? 1n, price: b.value! / (b.size || 1n), who: `bid ${b.index} ${short(b.requester)}` }));
  const marks: Mark[] = [];
  if (jobs?.jobs.length) {
    const perUnit = [...new Set(jobs.charges.map((c, i) => {
      const size = bids.find((b) => b.index === i)?.size ?? 1n;
      return c > 0n ? c / (size || 1n) : -1n;
    }).filter((c) => c >= 0n))];
    perUnit.slice(0, 3).forEach((p) => marks.push({ price: p, label: "charged", kind: "charged" }));
    [...new Set(jobs.jobs.map((j) => j.payment / j.units))].slice(0, 3)
      .forEach((p) => marks.push({ price: p, label: "paid", kind: "paid" }));
  }
  if (chain.cfg.record.parameters.mechanism === "fixedprice") {
    marks.push({ price: await roundPriceOf(v.round), label: "posted", kind: "posted" });
  }
  const note = jobs?.jobs.length ? "" : `<p class="rule">Round ${v.round} did not trade.</p>`;
  return stepChart(v.round, supply, demand, marks) + note;
}

/** The jobs of a settled round and their proofs. */
async function roundJobsTable(v: RoundView): Promise<string> {
  const jobs = jobsOf(v)?.jobs ?? [];
  const rows: string[] = [];
  for (const j of jobs) {
    rows.push(`<tr data-job="${v.round}-${j.jobIndex}"><td>${j.jobIndex}</td><td>${j.bidIndex}</td>
      <td><span class="addr" title="${j.requester}">${short(j.requester)}</span></td>
      <td><span class="addr" title="${j.prover}">${short(j.prover)}</span></td><td>${j.units}</td>
      <td>${gwei(j.payment)}</td><td class="job-state">${await jobLife(v, j)}</td></tr>`);
  }
  return `<h2>Jobs of round ${v.round}</h2>
    <table id="round-jobs"><tr><th>job</th><th>bid</th><th>requester</th><th>prover</th><th>units</th><th>payment</th><th>proof</th></tr>
    ${rows.join("") || `<tr><td colspan="7">no jobs: the round did not trade</td></tr>`}</table>`;
}

// ------------------------------------------------------------------------------------- proofs
interface ProofDoc { files: Record<string, string>; check: string; ok: boolean; }
const proofDocs = new Map<string, ProofDoc>(); // "round-job" → the files a proven job's proof gives
const REGISTRY_ABI = [
  { type: "function", name: "circuit", stateMutability: "view", inputs: [{ type: "uint256" }],
    outputs: [{ type: "tuple", components: [{ name: "verifier", type: "address" }, { name: "units", type: "uint32" },
      { name: "inputs", type: "uint8" }, { name: "outputs", type: "uint8" }, { name: "selector", type: "bytes4" }] }] },
  { type: "function", name: "circuitName", stateMutability: "view", inputs: [{ type: "uint256" }], outputs: [{ type: "string" }] },
] as const;

/** What a proven job's proof is, read back from its `submitProof` transaction: for a circuit
 *  task snarkjs's proof.json, public.json and (from this site's config) vk.json; for proof of work
 *  the nonce in a proof.json, checked here against the verifier's rule. */
async function proofDoc(round: bigint, j: Job, p: Proven): Promise<ProofDoc> {
  const key = `${round}-${j.jobIndex}`;
  const known = proofDocs.get(key);
  if (known) return known;
  const sub = await chain.submittedProof(p.tx);
  if (!sub) throw new Error(`transaction ${p.tx} is not a direct submitProof call`);
  let doc: ProofDoc;
  if (st!.circuitTasks) {
    const cid = (BigInt(j.task) >> 192n) & 0xffffffffn;
    const reg = chain.cfg.record.verifier;
    const [c, name] = await Promise.all([
      chain.pub.readContract({ address: reg, abi: REGISTRY_ABI, functionName: "circuit", args: [cid] }),
      chain.pub.readContract({ address: reg, abi: REGISTRY_ABI, functionName: "circuitName", args: [cid] }),
    ]);
    const { proof, public: pub } = decodeProof(sub.proof, j.prover, Number(c.inputs), Number(c.outputs));
    const files: Record<string, string> = { "proof.json": JSON.stringify(proof, null, 1), "public.json": JSON.stringify(pub, null, 1) };
    const vk = chain.cfg.circuits?.[name];
    if (vk) files["vk.json"] = JSON.stringify(vk, null, 1);
    doc = { files, ok: true, check: `circuit ${esc(name)} (${c.inputs} inputs, ${c.outputs} outputs); the market's verifier accepted it on chain. Check it yourself: <code>npx snarkjs groth16 verify vk.json public.json proof.json</code>${vk ? "" : " (vk.json: this site does not serve the circuit's key; see zk/circuits.json)"}` };
  } else {
    const bits = st!.difficulty;
    const ok = powOk(j.task, j.prover, sub.proof as Hex, bits);
    const file = { format: "bridge proof v1", chain_id: chain.cfg.record.chain_id, market: chain.market,
      round: round.toString(), job: Object.fromEntries(Object.entries(j).map(([k, x]) => [k, String(x)])),
      proof: sub.proof, verifier: chain.cfg.record.verifier, difficulty_bits: bits, tx: p.tx };
    doc = { files: { "proof.json": JSON.stringify(file, null, 1) }, ok,
            check: `proof of work: nonce <code>${esc(sub.proof)}</code>; keccak256(abi.encode(task, prover, nonce)) ${ok ? "has" : "does NOT have"} ${bits} leading zero bits (checked in this page)` };
  }
  proofDocs.set(key, doc);
  return doc;
}

/** A job's state with its proof: proven (download links and the check), slashed, or open. */
async function jobLife(v: RoundView, j: Job): Promise<string> {
  const p = v.proven.get(j.jobIndex);
  if (p) {
    let doc: ProofDoc;
    try { doc = await proofDoc(v.round, j, p); } catch (err) { return `proven (proof unreadable: ${esc(plainMessage(err))})`; }
    const links = Object.keys(doc.files).map((f) =>
      `<button type="button" class="proof-dl secondary" data-key="${v.round}-${j.jobIndex}" data-file="${f}">${f}</button>`).join(" ");
    return `<span class="good">proven</span> by <span class="addr" title="${p.prover}">${short(p.prover)}</span> ${links}<div class="rule proof-check">${doc.check}</div>`;
  }
  const sl = v.slashed.get(j.jobIndex);
  if (sl) return `<span class="bad">slashed</span>: the prover missed the deadline; the requester got ${gwei(sl.refund)} back + ${gwei(sl.compensation)} compensation`;
  return j.proofDeadline > chainNow() ? `awaiting proof, due in <span data-to="${j.proofDeadline}">${countdown(j.proofDeadline)}</span>` : "deadline passed: slashable";
}

function wireProofButtons(root: HTMLElement) {
  root.querySelectorAll<HTMLButtonElement>("button.proof-dl").forEach((b) => {
    b.onclick = () => {
      const doc = proofDocs.get(b.dataset.key!);
      const text = doc?.files[b.dataset.file!];
      if (!text) return;
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      a.download = b.dataset.file!;
      a.click();
    };
  });
}

const RULES: Record<string, string> = {
  proofphi: "a round trades only with at least two valid asks and more valid bids than the cheapest ask's capacity; winners pay the best losing bid, provers get the next ask's cost.",
  dara: "DARA: winners and prices from the keeper's trade reduction, checked for feasibility on chain.",
  fixedprice: "a per-unit price is posted before the round opens. A bid trades only if its value is at least the price × its units, an ask only if its cost is at most the price; eligible bids pay at least the price × units (the posted price unless the round is rationed), asks are paid at most the price per unit.",
};

function priceTable(p: Prices): string {
  const row = (r: RoundPrice, note: string) =>
    `<tr data-round="${r.round}"><td>${r.round}</td><td>${gwei(r.price)}</td><td>${note || r.source}</td></tr>`;
  const next = p.next ? row(p.next, `next round (${p.next.source})`)
    : `<tr data-round="${p.current.round + 1n}"><td>${p.current.round + 1n}</td><td></td><td>next round: not posted yet (${gwei(p.current.price)} carries unless the keeper posts)</td></tr>`;
  return `<h2>Posted prices</h2>
    <table id="price-history"><tr><th>round</th><th>price per unit</th><th></th></tr>
      ${next}${row(p.current, `this round (${p.current.source})`)}${[...p.history].reverse().map((r) => row(r, "")).join("")}</table>`;
}

/** A bid's life, one line per stage: sealed (committed), settled (won with its charge and
 *  refund, lost and why, invalid and why, or voided), then each of its jobs proven (with the proof)
 *  or slashed (refund + compensation) or awaiting proof. */
async function bidLife(v: RoundView, c: Record<string, unknown>, i: number, records: salts.SealedRecord[]
): Promise<{ life: string[]; cls: string }> {
  const escrow = c.escrow as bigint;
  const life = [`sealed: committed in round ${v.round} (escrow ${gwei(escrow)}, <a class="tx" title="${c.tx}">tx ${short(String(c.tx))}</a>)`];
  if (v.voided) return { life: [...life, "round voided: escrow returned"], cls: "" };
  if (!v.pages.length) {
    return { life: [...life, v.round >= st!.round ? "waiting for the round to close" : "awaiting settlement by the keeper"], cls: "" };
  }
  const bids = await pageBids(v);
  const revealed = bids.find((b) => b.index === i);
  const jobs = jobsOf(v);
  if (!jobs) return { life: [...life, "settling (pages still landing)"], cls: "" };
  const charge = jobs.charges[i];
  if (revealed && !revealed.valid) {
    const mine = records.find((x) => x.commitment === String(c.commitment).toLowerCase());
    const local = mine ? (commitment({ chainId: BigInt(mine.chain_id), market: mine.market as Address,
      round: BigInt(mine.round), participant: mine.participant as Address, side: mine.side,
      price: BigInt(mine.price), quantity: BigInt(mine.quantity), salt: mine.salt as Hex }) === String(c.commitment).toLowerCase()
      ? "your salt record matches the commitment" : "your salt record does NOT match the commitment")
      : "no salt record in this browser";
    const forfeit = await chain.read<bigint>("minEscrow");
    return { life: [...life, `invalid: ${revealed.reason} (escrow returned less ${gwei(forfeit)} forfeited to the keeper; ${local}); evidence <code>${esc(revealed.evidence)}</code>`], cls: "invalid" };
  }
  if (!charge) {
    return { life: [...life, `lost: ${await whyLost(v, revealed, jobs.charges, bids)}; escrow ${gwei(escrow)} returned`], cls: "lost" };
  }
  life.push(`won: charged ${gwei(charge)}, refunded ${gwei(escrow - charge)}`);
  const mineJobs = jobs.jobs.filter((j) => Number(j.bidIndex) === i);
  for (const j of mineJobs) life.push(`job ${j.jobIndex} (${plural(j.units, "unit")}): ${await jobLife(v, j)}`);
  const cls = mineJobs.some((j) => v.slashed.has(j.jobIndex)) ? "slashed"
    : mineJobs.length && mineJobs.every((j) => v.proven.has(j.jobIndex)) ? "proven" : "won";
  return { life, cls };
}

/** Why a valid bid got nothing: the round did not trade, or its value per unit was below what
 *  the winners paid (or, fixedprice, below the posted price × units). */
async function whyLost(v: RoundView, b: PageBid | undefined, charges: bigint[], bids: PageBid[]): Promise<string> {
  const per = b?.value !== undefined ? b.value / (b.size || 1n) : undefined;
  const mech = chain.cfg.record.parameters.mechanism;
  if (mech === "fixedprice" && per !== undefined) {
    const price = await roundPriceOf(v.round);
    if (per < price) return `your ${gwei(per)} per unit is below the posted price ${gwei(price)}`;
  }
  const won = charges.map((c, k) => ({ c, size: bids.find((x) => x.index === k)?.size ?? 1n })).filter((x) => x.c > 0n);
  if (!won.length) {
    const asks = (await roundAsks(v)).filter((a) => a.valid).length;
    const valid = bids.filter((x) => x.valid).length;
    return mech === "proofphi"
      ? `the round did not trade (${plural(asks, "valid ask")}, ${plural(valid, "valid bid")}: Prooφ needs at least two asks and more bids than the cheapest ask's capacity)`
      : `the round did not trade (${plural(asks, "valid ask")}, ${plural(valid, "valid bid")})`;
  }
  const least = won.map((x) => x.c / (x.size || 1n)).reduce((a, x) => (x < a ? x : a));
  return per !== undefined
    ? `your ${gwei(per)} per unit did not make the cut (the winners were charged from ${gwei(least)} per unit)`
    : `not allocated (the winners were charged from ${gwei(least)} per unit)`;
}

async function renderRequester() {
  const s = st!;
  const me = chain.account;
  const el = $("#view-requester");
  if (!me) { el.innerHTML = `<p>Connect a wallet to bid.</p>`; return; }
  const records = await salts.all();
  const rounds = roundsFromLogs();
  const rows: string[] = [];
  for (const c of chain.events("BidCommitted", (a) => sameAddress(a.requester, me))) {
    const r = c.round as bigint, i = Number(c.index);
    const v = rounds.get(r)!;
    const { life, cls } = await bidLife(v, c, i, records);
    rows.push(`<tr class="${cls}" data-bid="${r}-${i}"><td>${r}</td><td>${i}</td><td>${gwei(c.escrow as bigint)}</td>
      <td class="outcome">${life.map((x) => `<div class="stage">${x}</div>`).join("")}</td></tr>`);
  }
  el.innerHTML = `
    <h2>Requester ${short(me)}</h2>
    <div class="grid"><div class="card"><span>free balance in the market</span><b id="free-balance">${gwei(s.free)}</b></div>
      <div class="card"><span>wallet balance</span><b id="eth-balance" title="${s.eth} wei">${ether(s.eth)}</b></div></div>
    ${pendingList()}
    <h2>Sealed bid for round ${s.round}</h2>
    <form id="bid-form">
      <label>value (gwei, sealed)<input name="value" value="100" required></label>
      <label>escrow (gwei, public)<input name="escrow" value="120" required></label>
      ${s.prices ? `<label>units (sealed)<input name="units" value="1" required></label>` : ""}
      ${s.circuitTasks ? "<p>This market trades circuit tasks: bid with the CLI (`bridge requester bid --circuit`).</p>"
        : `<label>task (text, hashed)<input name="task" value="job-${Date.now() % 100000}" required></label>`}
      <button id="bid" type="submit">Seal and bid</button>
    </form>
    ${s.prices ? `<p id="price-check" class="rule"></p>` : ""}
    <p class="rule">One transaction deposits what your free balance lacks and commits. The commitment is computed
      in this page and the price is encrypted to the round's keeper key; the salt is saved in this browser first.</p>
    <form id="salt-form">
      <button type="button" id="export-salts" class="secondary">Export salts</button>
      <label>import a salt file<input type="file" id="import-salts" accept=".json"></label>
    </form>
    <h2>Your bids</h2>
    <table id="my-bids"><tr><th>round</th><th>bid</th><th>escrow</th><th>life: sealed → settled → proven or slashed</th></tr>${rows.join("") || `<tr><td colspan="4">none</td></tr>`}</table>
    <form><button type="button" id="withdraw-balance">Withdraw free balance</button></form>`;
  wireProofButtons(el);
  if (!s.circuitTasks) $("#bid-form").onsubmit = (e) => { e.preventDefault(); void bid(new FormData(e.target as HTMLFormElement)); };
  $("#bid-form").addEventListener("input", showPriceCheck);
  $("#export-salts").onclick = () => void exportSalts();
  $<HTMLInputElement>("#import-salts").onchange = (e) => void importSalts(e.target as HTMLInputElement);
  $("#withdraw-balance").onclick = () => void act("Withdraw", async () => {
    const free = await chain.read<bigint>("balanceOf", [chain.account]);
    if (free === 0n) throw new Error("nothing to withdraw: your free balance is 0");
    await chain.send("withdraw", [free]);
    return `Withdrew ${gwei(free)}`;
  });
}

/** The transactions this page sent that are not mined yet (`.pending` in each wallet view). */
function pendingList(): string {
  const items = chain.pending.map((p) => `<li data-tx="${p.hash}">${esc(p.what)} <code>${p.hash}</code>: sent ${Math.round((Date.now() - p.sentAt) / 1000)}s ago, waiting to be mined</li>`).join("");
  return `<div class="pending"${items ? "" : " hidden"}><h2>Pending transactions</h2><ul>${items}</ul></div>`;
}

function showPending() {
  const html = pendingList();
  document.querySelectorAll<HTMLElement>(".pending").forEach((e) => { e.outerHTML = html; });
}

async function bid(form: FormData) {
  await act("Bid", async () => {
    const s = st!;
    const me = chain.account as Address;
    const value = parseUnits(String(form.get("value")), 9);
    const escrow = parseUnits(String(form.get("escrow")), 9);
    const units = form.get("units") ? BigInt(String(form.get("units"))) : 1n;
    if (value <= 0n || units <= 0n) throw new Error("the value and the units must be positive");
    if (escrow < value) throw new Error(`escrow ${gwei(escrow)} is below the sealed value ${gwei(value)}: the keeper would settle the bid as invalid`);
    const task = keccak256(stringToHex(String(form.get("task"))));
    const round = await chain.read<bigint>("currentRound");
    if (chain.cfg.record.parameters.mechanism === "fixedprice") {
      // the price of the round the commit is for (fixed once it opens)
      const check = priceCheck({ round, price: await chain.read<bigint>("roundPrice", [round]), source: "posted" },
                               value, units);
      if (!check.clears) throw new Error(check.text);
    }
    const [, key] = await chain.read<readonly [Address, Hex]>("keeperFor", [round]);
    const salt = newSalt();
    const c = commitment({ chainId: BigInt(chain.cfg.record.chain_id), market: chain.market, round,
                           participant: me, side: BID, price: value, quantity: units, salt });
    const ct = seal(key, value, units, salt);
    const record: salts.SealedRecord = { chain_id: chain.cfg.record.chain_id, market: chain.market,
      round: Number(round), participant: me, side: BID, price: value.toString(), quantity: units.toString(), salt,
      commitment: c, tx_hash: "", extra: task };
    await salts.put(record); // before sending: a closed tab loses nothing
    const free = await chain.read<bigint>("balanceOf", [me]);
    // past a quarter of the round's cap a bid burns a congestion fee: budget the fee 16 places
    // ahead (fees only rise; what is not burned stays in the free balance)
    const [count] = await chain.read<readonly [bigint]>("roundInfo", [round]);
    const cap = await chain.read<bigint>("maxBidsPerRound");
    const ahead = count + 16n < cap ? count + 16n : cap - 1n;
    const fee = await chain.read<bigint>("congestionFee", [0n, ahead]);
    const missing = escrow + fee > free ? escrow + fee - free : 0n;
    const tx = await chain.send("commitBid", [round, c, ct, escrow, task], missing);
    await salts.put({ ...record, tx_hash: tx });
    void s;
    return `Bid committed in round ${round}` + (missing ? ` (deposited ${gwei(missing)} with it)` : "")
      + (fee ? ` (the round is past a quarter full: a congestion fee of up to ${gwei(fee)})` : "");
  });
}

async function exportSalts() {
  const text = await salts.exportFile();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  a.download = "sealed.json";
  a.click();
  say("Salt file exported (the CLI reads it with --salts FILE)");
}

async function importSalts(input: HTMLInputElement) {
  const f = input.files?.[0];
  if (!f) return;
  try { say(`Imported ${await salts.importFile(await f.text())} sealed records`); }
  catch (err) { say(`Import failed: ${plainMessage(err)}`, "error"); }
}

// ------------------------------------------------------------------------------------ prover
function renderProver() {
  const s = st!;
  const me = chain.account;
  const el = $("#view-prover");
  if (!me) { el.innerHTML = `<p>Connect a wallet to prove.</p>`; return; }
  const p = chain.cfg.record.parameters;
  const [collateral, capacity, ref, capRoundPlusOne] = s.prover;
  const refundCap = BigInt(p.refund_cap);
  const free = collateral - refundCap * (capacity + s.outstanding);
  const allowedFrom = capRoundPlusOne === 0n ? 0n : capRoundPlusOne - 1n + BigInt(p.capacity_interval);
  const f = BigInt(p.capacity_factor);
  const pacing = capRoundPlusOne === 0n || ref === 0n
    ? "first declaration: any capacity your collateral covers"
    : `from round ${allowedFrom} (now ${s.round}), between ${(ref + f - 1n) / f} and ${ref * f} units (${f}-fold of ${ref}); 0 always`;
  const rounds = roundsFromLogs();
  const rows: string[] = [];
  for (const v of [...rounds.values()].sort((a, b) => Number(a.round - b.round))) {
    const jobs = jobsOf(v);
    for (const j of jobs?.jobs ?? []) {
      if (!sameAddress(j.prover, me)) continue;
      const left = j.proofDeadline - chainNow();
      const slash = v.slashed.get(j.jobIndex);
      const done = v.proven.has(j.jobIndex) ? "proven" : slash ? "slashed" : left <= 0n ? "missed (slashable)" : "open";
      const near = done === "open" && left < BigInt(Math.ceil(p.proof_period * NEAR_DEADLINE));
      // a slashed job pays nothing: say what it cost instead of showing the payment it would have had
      const pay = done === "proven" ? `received ${gwei(j.payment)}`
        : slash ? `<span class="bad">not paid; lost ${gwei(slash.compensation)} of collateral</span> (the requester got its ${gwei(slash.refund)} back + that as compensation)`
        : `${gwei(j.payment)} once proven`;
      rows.push(`<tr data-job="${v.round}-${j.jobIndex}"><td>${v.round}</td><td>${j.jobIndex}</td><td>${j.bidIndex}</td>
        <td>${j.units}</td><td class="payment">${pay}</td>
        <td class="${near ? "warn" : ""}" data-to="${j.proofDeadline}">${done === "open" ? countdown(j.proofDeadline) + (near ? " — deadline near!" : "") : ""}</td>
        <td class="job-state">${done}</td>
        <td>${done === "open" && s.difficulty >= 0 ? `<button class="prove" data-round="${v.round}" data-job="${j.jobIndex}">Prove</button>` : ""}</td></tr>`);
    }
  }
  el.innerHTML = `
    <h2>Prover ${short(me)}</h2>
    <div class="grid">
      <div class="card"><span>collateral</span><b id="collateral">${gwei(collateral)}</b></div>
      <div class="card"><span>capacity</span><b id="capacity">${plural(capacity, "unit")}</b></div>
      <div class="card"><span>awaiting proof</span><b>${plural(s.outstanding, "unit")}</b></div>
      <div class="card"><span>free collateral</span><b id="free-collateral">${gwei(free > 0n ? free : 0n)}</b></div>
      <div class="card"><span>wallet balance</span><b class="eth-balance" title="${s.eth} wei">${ether(s.eth)}</b></div>
    </div>
    ${pendingList()}
    <form id="stake-form"><label>stake (gwei)<input name="amount" value="${formatUnits(refundCap * 2n, 9)}"></label><button type="submit">Stake</button></form>
    <form id="capacity-form"><label>capacity (units)<input name="units" value="1"></label><button type="submit">Set capacity</button></form>
    <p class="rule" id="refund-cap">The <b>refund cap</b> is ${gwei(refundCap)} per unit: what you lose from your collateral (as compensation to the requester) for each unit of a job you fail to prove by its deadline. Each unit of capacity must be backed by one refund cap of collateral.</p>
    <p class="rule" id="pacing">Pacing rule: ${pacing}. Each unit needs the refund cap (${gwei(refundCap)}) of collateral, and each ask ${gwei(BigInt(p.min_escrow ?? 0))} more (an invalid ask forfeits it to the keeper); capacity is frozen while an ask may still settle.</p>
    <form id="ask-form"><label>cost per unit (gwei, sealed)<input name="cost" value="10"></label>
      ${p.mechanism !== "proofphi" ? `<label>units<input name="units" value="${capacity}"></label>` : ""}
      <button type="submit">Seal and ask</button></form>
    <p class="rule">${p.mechanism === "proofphi" ? "Prooφ: an ask offers exactly your capacity."
      : s.prices ? `Fixed price: offer up to your capacity; an ask sells only if its cost is at most the posted price (${gwei(s.prices.current.price)} per unit this round).`
      : "DARA: offer up to your capacity."}</p>
    <h2>Jobs</h2>
    <table id="jobs"><tr><th>round</th><th>job</th><th>bid</th><th>units</th><th>payment</th><th>proof due in</th><th>state</th><th></th></tr>
      ${rows.join("") || `<tr><td colspan="8">none</td></tr>`}</table>
    ${s.difficulty < 0 ? "<p>This market's verifier is not proof of work: prove with the CLI (`bridge prover prove`).</p>" : ""}
    <form><button type="button" id="withdraw-collateral">Withdraw free collateral</button>
      <button type="button" id="exit" class="secondary">Exit (capacity 0 and withdraw)</button></form>`;
  $("#stake-form").onsubmit = (e) => { e.preventDefault(); const amount = parseUnits(String(new FormData(e.target as HTMLFormElement).get("amount")), 9);
    void act("Stake", async () => { await chain.send("stake", [], amount); return `Staked ${gwei(amount)}`; }); };
  $("#capacity-form").onsubmit = (e) => { e.preventDefault(); const units = BigInt(String(new FormData(e.target as HTMLFormElement).get("units")));
    void act("Set capacity", async () => { await chain.send("setCapacity", [units]); return `Capacity set to ${units}`; }); };
  $("#ask-form").onsubmit = (e) => { e.preventDefault(); void ask(new FormData(e.target as HTMLFormElement)); };
  $("#withdraw-collateral").onclick = () => void act("Withdraw collateral", async () => {
    if (free <= 0n) throw new Error("no free collateral: it backs your capacity and open jobs (Exit lowers capacity to 0 and withdraws)");
    await chain.send("withdrawCollateral", [free]);
    return `Withdrew ${gwei(free)} of collateral`;
  });
  $("#exit").onclick = () => void act("Exit", async () => { await chain.send("exit"); return "Exited: capacity 0, free collateral withdrawn"; });
  el.querySelectorAll<HTMLButtonElement>("button.prove").forEach((b) => {
    b.onclick = () => void prove(BigInt(b.dataset.round!), Number(b.dataset.job));
  });
}

async function ask(form: FormData) {
  await act("Ask", async () => {
    const me = chain.account as Address;
    const cost = parseUnits(String(form.get("cost")), 9);
    const [, capacity] = await chain.read<readonly bigint[]>("proverInfo", [me]);
    if (capacity === 0n) throw new Error("declare capacity first");
    const units = form.get("units") ? BigInt(String(form.get("units"))) : capacity;
    const round = await chain.read<bigint>("currentRound");
    const [, key] = await chain.read<readonly [Address, Hex]>("keeperFor", [round]);
    const salt = newSalt();
    const c = commitment({ chainId: BigInt(chain.cfg.record.chain_id), market: chain.market, round,
                           participant: me, side: ASK, price: cost, quantity: units, salt });
    const record: salts.SealedRecord = { chain_id: chain.cfg.record.chain_id, market: chain.market,
      round: Number(round), participant: me, side: ASK, price: cost.toString(), quantity: units.toString(),
      salt, commitment: c, tx_hash: "", extra: "" };
    await salts.put(record);
    const tx = await chain.send("commitAsk", [round, c, seal(key, cost, units, salt)]);
    await salts.put({ ...record, tx_hash: tx });
    return `Ask committed in round ${round}: ${plural(units, "unit")} at ${gwei(cost)} per unit`;
  });
}

function powInWorker(task: Hex, prover: Address, bits: number): Promise<Hex> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("pow-worker.js", document.baseURI));
    w.onmessage = (e) => { w.terminate(); resolve(e.data.nonce as Hex); };
    w.onerror = (e) => { w.terminate(); reject(new Error(e.message)); };
    w.postMessage({ task, prover, bits });
  });
}

async function prove(round: bigint, jobIndex: number) {
  await act(`Prove job ${jobIndex} of round ${round}`, async () => {
    const v = roundsFromLogs().get(round)!;
    const built = jobsOf(v)!;
    const job: Job = built.jobs[jobIndex];
    const proofPath = built.proof(jobIndex);
    const nonce = await powInWorker(job.task, job.prover, st!.difficulty);
    const file = { format: "bridge proof v1", chain_id: chain.cfg.record.chain_id, market: chain.market,
      round: round.toString(), job: Object.fromEntries(Object.entries(job).map(([k, x]) => [k, String(x)])),
      merkle_proof: proofPath, job_root: built.root, proof: nonce, verifier: chain.cfg.record.verifier,
      difficulty_bits: st!.difficulty };
    proofFiles.set(`${round}-${jobIndex}`, JSON.stringify(file, null, 1));
    await chain.send("submitProof", [round, job, proofPath, nonce]);
    return `Proved job ${jobIndex} of round ${round}: ${gwei(job.payment)} added to your collateral`;
  });
  const text = proofFiles.get(`${round}-${jobIndex}`);
  if (text) {
    const a = document.createElement("a");
    a.id = "proof-file";
    a.textContent = `proof file for job ${jobIndex} of round ${round}`;
    a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    a.download = `proof-${round}-${jobIndex}.json`;
    $("#message").append(" — ", a);
    if (sayTimer) clearTimeout(sayTimer); // the link stays until the next message
  }
}
const proofFiles = new Map<string, string>();

// ------------------------------------------------------------------------------------ wallet
/** Connect through the injected EIP-1193 wallet. `ask`: prompt (`eth_requestAccounts`, the
 *  button); otherwise only take an account the wallet already shares (`eth_accounts`, on load). */
async function connect(ask = true) {
  provider = (window as unknown as { ethereum?: Eip1193 }).ethereum;
  if (!provider) {
    if (ask) say("No EIP-1193 wallet found: install one (this page never asks for a private key)", "error");
    return;
  }
  try {
    if (!ask) {
      const shared = await provider.request({ method: "eth_accounts" }) as unknown[];
      if (!normalAddress(shared?.[0])) return;
    }
    await chain.connect(provider);
    showAccount();
    await checkChain();
    if (!listening) {
      listening = true;
      provider.on?.("accountsChanged", (a) => {
        chain.setAccount(a);
        showAccount();
        say(chain.account ? `Wallet account changed to ${chain.account}` : "The wallet disconnected this page: connect again to bid or prove", chain.account ? "info" : "error");
        void refresh().catch(nodeDown);
      });
      provider.on?.("chainChanged", () => { void checkChain().then(() => refresh()).catch(nodeDown); });
    }
    await refresh();
  } catch (err) {
    if (isRejection(err)) say("Connect cancelled: you rejected the request in your wallet. Click “Connect wallet” to try again", "error");
    else say(`Connect failed: ${plainMessage(err)}`, "error");
  }
}
let listening = false;

/** The header: the account once connected (the connect button then goes away), else the button. */
function showAccount() {
  const me = chain.account;
  $("#account").textContent = me ?? "";
  $("#account").title = me ? "the connected wallet account" : "";
  $("#connect").hidden = !!me;
  if (!me) { $("#chain-status").textContent = ""; $("#switch-chain").hidden = true; }
}

async function checkChain() {
  if (!provider) return;
  const id = await chain.walletChainId(provider);
  chainOk = id === chain.cfg.record.chain_id;
  $("#chain-status").textContent = chainOk ? `chain ${id}` : `wallet on chain ${id}, market on ${chain.cfg.record.chain_id}`;
  $("#chain-status").className = chainOk ? "good" : "bad";
  $("#switch-chain").hidden = chainOk;
}

async function switchChain() {
  try {
    await provider!.request({ method: "wallet_switchEthereumChain",
                              params: [{ chainId: `0x${chain.cfg.record.chain_id.toString(16)}` }] });
    await checkChain();
  } catch (err) {
    if (isRejection(err)) say("Switch cancelled: you rejected the network switch in your wallet", "error");
    else say(`Switch failed: ${plainMessage(err)} — add chain ${chain.cfg.record.chain_id} to your wallet`, "error");
  }
}

function tickCountdowns() {
  document.querySelectorAll<HTMLElement>("[data-to]").forEach((e) => {
    const to = BigInt(e.dataset.to!);
    if (to > 0n && e.closest("#jobs") === null) e.textContent = countdown(to);
  });
}

let nodeWasDown = false;
/** Say plainly that the node cannot be reached (instead of a blank page); cleared once it answers. */
function nodeDown(err: unknown) {
  nodeWasDown = true;
  const rpc = chain?.cfg.rpc ?? "the node";
  const el = $("#node-status");
  el.hidden = false;
  el.innerHTML = `<b>Cannot reach the node at ${esc(rpc)}.</b> Is it running, and does it allow this page's origin (${esc(location.origin)}) to call it (CORS)? The page retries every few seconds. <span class="rule">(${esc(plainMessage(err))})</span>`;
}

function nodeUp() {
  if (!nodeWasDown) return;
  nodeWasDown = false;
  $("#node-status").hidden = true;
}

async function tryRefresh() {
  try { await refresh(); nodeUp(); } catch (err) {
    if (isNodeError(err)) nodeDown(err); else say(`Node: ${plainMessage(err)}`, "error");
  }
}

/** A failure to talk to the node at all (network, CORS, HTTP status) rather than an answer. */
function isNodeError(err: unknown): boolean {
  for (let e = err as { name?: string; cause?: unknown } | undefined, k = 0; e && k < 8; e = e.cause as typeof e, k++) {
    if (e.name === "HttpRequestError" || e.name === "TimeoutError" || e instanceof TypeError) return true;
  }
  return false;
}

async function main() {
  let cfg: Config;
  try {
    cfg = await (await fetch("config.json")).json() as Config;
  } catch (err) {
    $("#node-status").hidden = false;
    $("#node-status").textContent = `This site has no readable config.json (${plainMessage(err)}): serve it with \`bridge ui\``;
    document.body.dataset.ready = "1";
    return;
  }
  if (cfg.record.abi_hash && cfg.record.abi_hash !== protocol.abiHash) {
    say(`This page was built for another contract version (ABI ${protocol.abiHash.slice(0, 10)}, market ${cfg.record.abi_hash.slice(0, 10)}): rebuild it`, "error");
  }
  chain = new Chain(cfg);
  chain.onPending = showPending;
  $("#market-line").textContent = `${cfg.record.network} · market ${cfg.record.market} · chain ${cfg.record.chain_id} · node ${cfg.rpc}`;
  document.querySelectorAll<HTMLButtonElement>("nav button").forEach((b) => {
    b.onclick = () => {
      document.querySelectorAll("nav button").forEach((x) => x.classList.toggle("active", x === b));
      for (const v of ["market", "requester", "prover"]) $(`#view-${v}`).hidden = v !== b.dataset.view;
    };
  });
  $("#connect").onclick = () => void connect();
  $("#switch-chain").onclick = () => void switchChain();
  await tryRefresh();
  if (!nodeWasDown) await connect(false); // a wallet that already shares an account: no prompt
  let busy = false;
  setInterval(async () => {
    if (busy || document.activeElement?.tagName === "INPUT" || document.activeElement?.tagName === "SELECT") { tickCountdowns(); return; }
    busy = true;
    try { await tryRefresh(); } finally { busy = false; }
  }, 2000);
  setInterval(tickCountdowns, 1000);
  document.body.dataset.ready = "1";
}

void main();
