// Charts drawn as inline SVG (no library: a step curve and a line are a few dozen lines, and the
// bundle stays small): a settled round's supply and demand as step curves with the clearing prices
// marked, and the price history across rounds. Amounts are plotted in gwei as floats (pixels only:
// every label prints the exact value).
import { formatUnits } from "viem";

/** One step of a curve: `qty` units at `price` wei per unit; `who` labels it (tooltip). */
export interface Step { qty: bigint; price: bigint; who: string; }
/** A horizontal price line: a clearing price, a paid price or the posted price. */
export interface Mark { price: bigint; label: string; kind: string; }
/** One point of a price series: the round and the per-unit price in wei. */
export interface Point { round: bigint; price: bigint; }
export interface Series { name: string; kind: string; points: Point[]; }

const W = 640, H = 250, L = 64, R = 170, T = 14, B = 34; // size and margins
const g = (v: bigint) => Number(formatUnits(v, 9));
const gweiText = (v: bigint) => `${formatUnits(v, 9)} gwei`;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function scale(lo: number, hi: number, from: number, to: number) {
  const span = hi - lo || 1;
  return (v: number) => from + ((v - lo) / span) * (to - from);
}

function yTicks(max: number): number[] {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = 0; v <= max * 1.0001; v += step) out.push(v);
  return out;
}

function axes(x: (v: number) => number, y: (v: number) => number, xMax: number, yMax: number,
              xLabel: string, xTicks: number[]): string {
  const ys = yTicks(yMax).map((v) => `<line class="grid" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/>` +
    `<text class="tick" x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toPrecision(6)}</text>`).join("");
  const xs = xTicks.map((v) => `<text class="tick" x="${x(v)}" y="${H - B + 14}" text-anchor="middle">${v}</text>`).join("");
  return `<line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>` +
    `<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"/>${ys}${xs}` +
    `<text class="axis-label" x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle">${xLabel}</text>` +
    `<text class="axis-label" x="12" y="${(T + H - B) / 2}" transform="rotate(-90 12 ${(T + H - B) / 2})" text-anchor="middle">gwei per unit</text>`;
}

/** Supply (asks by cost, cheapest first) and demand (bids by value per unit, highest first) as
 *  step curves over cumulative units; one `line.step` per ask or bid, `marks` as dashed lines. */
export function stepChart(round: bigint, asks: Step[], bids: Step[], marks: Mark[]): string {
  const supply = [...asks].sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0));
  const demand = [...bids].sort((a, b) => (a.price > b.price ? -1 : a.price < b.price ? 1 : 0));
  const total = (s: Step[]) => s.reduce((t, x) => t + Number(x.qty), 0);
  const xMax = Math.max(total(supply), total(demand), 1);
  const yMax = Math.max(...supply.map((s) => g(s.price)), ...demand.map((s) => g(s.price)),
                        ...marks.map((m) => g(m.price)), 1e-9) * 1.1;
  const x = scale(0, xMax, L, W - R), y = scale(0, yMax, H - B, T);
  const curve = (steps: Step[], kind: string) => {
    let at = 0, prev: number | undefined;
    return steps.map((s) => {
      const x0 = x(at), x1 = x(at + Number(s.qty)), yy = y(g(s.price));
      at += Number(s.qty);
      const riser = prev === undefined ? "" : `<line class="riser ${kind}" x1="${x0}" x2="${x0}" y1="${prev}" y2="${yy}"/>`;
      prev = yy;
      return `${riser}<line class="step ${kind}" x1="${x0}" x2="${x1}" y1="${yy}" y2="${yy}" data-price="${s.price}" data-qty="${s.qty}"><title>${esc(s.who)}: ${s.qty} × ${gweiText(s.price)}</title></line>`;
    }).join("");
  };
  const ticks = xMax <= 12 ? Array.from({ length: xMax + 1 }, (_, i) => i) : [0, Math.round(xMax / 2), xMax];
  const markLines = marks.map((m, i) => `<line class="mark ${m.kind}" x1="${L}" x2="${W - R}" y1="${y(g(m.price))}" y2="${y(g(m.price))}" data-price="${m.price}"/>` +
    `<text class="mark-label ${m.kind}" x="${W - R + 4}" y="${y(g(m.price)) + 4 + (i % 2) * 11}">${esc(m.label)} ${esc(gweiText(m.price))}</text>`).join("");
  return `<figure class="chart"><svg class="supply-demand" data-round="${round}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="round ${round}: supply and demand">
    ${axes(x, y, xMax, yMax, "units (cumulative)", ticks)}${curve(supply, "supply")}${curve(demand, "demand")}${markLines}</svg>
    <figcaption>Round ${round}: <span class="key supply">supply</span> (${asks.length} valid ${asks.length === 1 ? "ask" : "asks"}, cheapest first) and <span class="key demand">demand</span> (${bids.length} valid ${bids.length === 1 ? "bid" : "bids"}, highest value per unit first), revealed at settlement.</figcaption></figure>`;
}

/** Per-unit prices across rounds, one polyline and one `circle.price-point` per round and series. */
export function priceHistoryChart(series: Series[]): string {
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) return "";
  const rounds = pts.map((p) => Number(p.round));
  const lo = Math.min(...rounds), hi = Math.max(...rounds);
  const yMax = Math.max(...pts.map((p) => g(p.price)), 1e-9) * 1.1;
  const x = scale(lo - 0.5, hi + 0.5, L, W - R), y = scale(0, yMax, H - B, T);
  const ticks = hi - lo <= 12 ? Array.from({ length: hi - lo + 1 }, (_, i) => lo + i) : [lo, Math.round((lo + hi) / 2), hi];
  const lines = series.map((s, k) => {
    const sorted = [...s.points].sort((a, b) => Number(a.round - b.round));
    const poly = sorted.map((p) => `${x(Number(p.round))},${y(g(p.price))}`).join(" ");
    const dots = sorted.map((p) => `<circle class="price-point ${s.kind}" cx="${x(Number(p.round))}" cy="${y(g(p.price))}" r="3" data-round="${p.round}" data-price="${p.price}"><title>round ${p.round}: ${s.name} ${gweiText(p.price)}</title></circle>`).join("");
    return `<polyline class="series ${s.kind}" points="${poly}"/>${dots}` +
      `<text class="mark-label ${s.kind}" x="${W - R + 4}" y="${T + 12 + k * 13}">${esc(s.name)}</text>`;
  }).join("");
  return `<figure class="chart"><svg id="price-chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="prices across rounds">
    ${axes(x, y, hi, yMax, "round", ticks)}${lines}</svg>
    <figcaption>Per-unit prices of settled rounds that traded.</figcaption></figure>`;
}
