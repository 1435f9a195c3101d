// The page: market, requester and prover views over one Chain (node reads + EIP-1193 wallet).
import { formatUnits, keccak256, parseUnits, stringToHex, type Address, type Hex } from "viem";
import { Chain, RefusedError, sameAddress, type Config, type Eip1193 } from "./chain";
import { describe, plainMessage } from "./errors";
import protocol from "./generated/protocol.json";
import {
  ASK, BID, commitment, decodePage, jobsFromLogs, newSalt, seal, type BidCommit, type Job,
  type PageBid, type SettledPage,
} from "./protocol";
import * as salts from "./salts";

const PHASES = ["upcoming", "commit", "settle", "voidable", "proof", "slashable", "voided"];
const STATUS = ["open", "settled", "voided", "settling"];
const NEAR_DEADLINE = 0.25; // warn when less than this share of the proof period is left
const PRICE_HISTORY = 5n; // fixedprice: rounds before the current one whose prices are listed

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const esc = (s: unknown) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const gwei = (v: bigint) => `${formatUnits(v, 9)} gwei`;
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

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

function say(text: string, kind: "error" | "info" = "info") {
  const m = $("#message");
  m.textContent = text;
  m.className = kind;
  m.hidden = false;
}

async function act(what: string, fn: () => Promise<string | void>) {
  try {
    say(`${what}…`);
    const done = await fn();
    say(done ?? `${what}: done`);
    await refresh();
  } catch (err) {
    if (err instanceof RefusedError) say(`${what} refused: ${describe(err.decoded)}`, "error");
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
  const [free, prover, outstanding] = me ? await Promise.all([
    chain.read<bigint>("balanceOf", [me]),
    chain.read<readonly bigint[]>("proverInfo", [me]),
    chain.read<bigint>("outstandingUnits", [me]),
  ]) : [0n, [0n, 0n, 0n, 0n, 0n], 0n];
  const prices = chain.cfg.record.parameters.mechanism === "fixedprice"
    ? await readPrices(round, st?.prices?.every) : undefined;
  st = { round, phase, bids: info[0] as bigint, asks: info[1] as bigint, status: Number(info[7]),
         times, free, prover, outstanding, difficulty, circuitTasks, keeperKey: keeper[1], prices };
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
interface RoundView {
  round: bigint; bids: BidCommit[]; askProvers: Address[]; pages: SettledPage[];
  settled?: Record<string, unknown>; voided: boolean; proven: Set<bigint>; slashed: Set<bigint>;
}

function roundsFromLogs(): Map<bigint, RoundView> {
  const rounds = new Map<bigint, RoundView>();
  const get = (r: bigint) => {
    let v = rounds.get(r);
    if (!v) {
      v = { round: r, bids: [], askProvers: [], pages: [], voided: false, proven: new Set(),
            slashed: new Set() };
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
      case "ProofAccepted": get(r).proven.add(a.jobIndex as bigint); break;
      case "JobSlashed": get(r).slashed.add(a.jobIndex as bigint); break;
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
  renderMarket();
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

function renderMarket() {
  const s = st!;
  const [, closes, settleBy, proveBy] = s.times;
  const empty = s.bids === 0n && s.asks === 0n;
  const rounds = roundsFromLogs();
  const past = [...rounds.values()].filter((v) => v.round < s.round).sort((a, b) => Number(b.round - a.round)).slice(0, 12);
  const rows = past.map((v) => {
    const jobs = jobsOf(v);
    const winners = jobs ? jobs.charges.map((c, i) => [i, c] as const).filter(([, c]) => c > 0n) : [];
    const prices = [...new Set(winners.map(([, c]) => c))].map(gwei).join(", ");
    const paid = jobs ? [...new Set(jobs.jobs.map((j) => j.payment / j.units))].map(gwei).join(", ") : "";
    const state = v.voided ? "voided" : v.settled ? "settled" : "not settled";
    return `<tr data-round="${v.round}"><td>${v.round}</td><td>${state}</td><td>${v.bids.length}</td>
      <td>${v.askProvers.length}</td><td>${v.settled ? (winners.length ? prices : "no trade") : ""}</td>
      <td>${paid}</td>
      <td>${winners.map(([i]) => `bid ${i}`).join(", ")}</td>
      <td>${jobs ? `${jobs.jobs.length} jobs: ${v.proven.size} proven, ${v.slashed.size} slashed` : ""}</td></tr>`;
  }).join("");
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
    <h2>Past rounds</h2>
    <table id="past-rounds"><tr><th>round</th><th>state</th><th>bids</th><th>asks</th><th>charged</th>
      <th>paid per unit</th><th>winners</th><th>jobs</th></tr>${rows || `<tr><td colspan="8">none yet</td></tr>`}</table>
    <p class="rule">From the market's logs since block ${chain.startBlock}, read in ranges of at most 2000 blocks.</p>`;
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
    let outcome = "sealed, awaiting settlement";
    let cls = "";
    if (v.voided) outcome = "round voided: escrow returned";
    else if (v.pages.length) {
      const revealed = (await pageBids(v)).find((b) => b.index === i);
      const jobs = jobsOf(v);
      const charge = jobs?.charges[i];
      if (revealed && !revealed.valid) {
        cls = "invalid";
        const mine = records.find((x) => x.commitment === String(c.commitment).toLowerCase());
        const local = mine ? (commitment({ chainId: BigInt(mine.chain_id), market: mine.market as Address,
          round: BigInt(mine.round), participant: mine.participant as Address, side: mine.side,
          price: BigInt(mine.price), quantity: BigInt(mine.quantity), salt: mine.salt as Hex }) === String(c.commitment).toLowerCase()
          ? "your salt record matches the commitment" : "your salt record does NOT match the commitment")
          : "no salt record in this browser";
        const forfeit = await chain.read<bigint>("minEscrow");
        outcome = `invalid: ${revealed.reason} (escrow returned less ${gwei(forfeit)} forfeited to the keeper; ${local}); evidence <code>${esc(revealed.evidence)}</code>`;
      } else if (charge !== undefined && charge > 0n) {
        cls = "won";
        outcome = `won: charged ${gwei(charge)}, refunded ${gwei((c.escrow as bigint) - charge)}`;
      } else if (v.settled) outcome = "lost: not allocated, escrow returned";
    }
    rows.push(`<tr class="${cls}" data-bid="${r}-${i}"><td>${r}</td><td>${i}</td><td>${gwei(c.escrow as bigint)}</td>
      <td class="outcome">${outcome}</td></tr>`);
  }
  el.innerHTML = `
    <h2>Requester ${short(me)}</h2>
    <div class="grid"><div class="card"><span>free balance</span><b id="free-balance">${gwei(s.free)}</b></div></div>
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
    <table id="my-bids"><tr><th>round</th><th>bid</th><th>escrow</th><th>outcome</th></tr>${rows.join("") || `<tr><td colspan="4">none</td></tr>`}</table>
    <form><button type="button" id="withdraw-balance">Withdraw free balance</button></form>`;
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
      const done = v.proven.has(j.jobIndex) ? "proven" : v.slashed.has(j.jobIndex) ? "slashed" : left <= 0n ? "missed (slashable)" : "open";
      const near = done === "open" && left < BigInt(Math.ceil(p.proof_period * NEAR_DEADLINE));
      rows.push(`<tr data-job="${v.round}-${j.jobIndex}"><td>${v.round}</td><td>${j.jobIndex}</td><td>${j.bidIndex}</td>
        <td>${j.units}</td><td>${gwei(j.payment)}</td>
        <td class="${near ? "warn" : ""}" data-to="${j.proofDeadline}">${done === "open" ? countdown(j.proofDeadline) + (near ? " — deadline near!" : "") : ""}</td>
        <td class="job-state">${done}</td>
        <td>${done === "open" && s.difficulty >= 0 ? `<button class="prove" data-round="${v.round}" data-job="${j.jobIndex}">Prove</button>` : ""}</td></tr>`);
    }
  }
  el.innerHTML = `
    <h2>Prover ${short(me)}</h2>
    <div class="grid">
      <div class="card"><span>collateral</span><b id="collateral">${gwei(collateral)}</b></div>
      <div class="card"><span>capacity</span><b id="capacity">${capacity} units</b></div>
      <div class="card"><span>awaiting proof</span><b>${s.outstanding} units</b></div>
      <div class="card"><span>free collateral</span><b id="free-collateral">${gwei(free > 0n ? free : 0n)}</b></div>
    </div>
    <form id="stake-form"><label>stake (gwei)<input name="amount" value="${formatUnits(refundCap * 2n, 9)}"></label><button type="submit">Stake</button></form>
    <form id="capacity-form"><label>capacity (units)<input name="units" value="1"></label><button type="submit">Set capacity</button></form>
    <p class="rule" id="pacing">Pacing rule: ${pacing}. Each unit needs ${gwei(refundCap)} of collateral, and each ask ${gwei(BigInt(p.min_escrow ?? 0))} more (an invalid ask forfeits it to the keeper); capacity is frozen while an ask may still settle.</p>
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
    return `Ask committed in round ${round}: ${units} units at ${gwei(cost)} per unit`;
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
  }
}
const proofFiles = new Map<string, string>();

// ------------------------------------------------------------------------------------ wallet
async function connect() {
  provider = (window as unknown as { ethereum?: Eip1193 }).ethereum;
  if (!provider) { say("No EIP-1193 wallet found: install one (this page never asks for a private key)", "error"); return; }
  try {
    const me = await chain.connect(provider);
    $("#account").textContent = me;
    await checkChain();
    provider.on?.("accountsChanged", (a) => { chain.account = (a as Address[])[0]; $("#account").textContent = chain.account ?? ""; void refresh(); });
    provider.on?.("chainChanged", () => void checkChain());
    await refresh();
  } catch (err) { say(`Connect failed: ${plainMessage(err)}`, "error"); }
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
  } catch (err) { say(`Switch failed: ${plainMessage(err)} — add chain ${chain.cfg.record.chain_id} to your wallet`, "error"); }
}

function tickCountdowns() {
  document.querySelectorAll<HTMLElement>("[data-to]").forEach((e) => {
    const to = BigInt(e.dataset.to!);
    if (to > 0n && e.closest("#jobs") === null) e.textContent = countdown(to);
  });
}

async function main() {
  const cfg = await (await fetch("config.json")).json() as Config;
  if (cfg.record.abi_hash && cfg.record.abi_hash !== protocol.abiHash) {
    say(`This page was built for another contract version (ABI ${protocol.abiHash.slice(0, 10)}, market ${cfg.record.abi_hash.slice(0, 10)}): rebuild it`, "error");
  }
  chain = new Chain(cfg);
  $("#market-line").textContent = `${cfg.record.network} · market ${cfg.record.market} · chain ${cfg.record.chain_id} · node ${cfg.rpc}`;
  document.querySelectorAll<HTMLButtonElement>("nav button").forEach((b) => {
    b.onclick = () => {
      document.querySelectorAll("nav button").forEach((x) => x.classList.toggle("active", x === b));
      for (const v of ["market", "requester", "prover"]) $(`#view-${v}`).hidden = v !== b.dataset.view;
    };
  });
  $("#connect").onclick = () => void connect();
  $("#switch-chain").onclick = () => void switchChain();
  await refresh();
  let busy = false;
  setInterval(async () => {
    if (busy || document.activeElement?.tagName === "INPUT") { tickCountdowns(); return; }
    busy = true;
    try { await refresh(); } catch (err) { say(`Node: ${plainMessage(err)}`, "error"); } finally { busy = false; }
  }, 2000);
  setInterval(tickCountdowns, 1000);
  document.body.dataset.ready = "1";
}

void main();
