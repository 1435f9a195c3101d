// Contract errors decoded with the CLI's hints: one table, bridge/hints.py, generated into
// generated/protocol.json (a Python test fails when that file is stale).
import { BaseError, decodeErrorResult, formatUnits, type Hex } from "viem";
import protocol from "./generated/protocol.json";

export const ABI = protocol.abi as readonly unknown[] as import("viem").Abi;
const HINTS = protocol.hints as Record<string, { text: string; cli?: string }>;

const when = (v: bigint) => new Date(Number(v) * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
function text(v: unknown): string {
  const h = String(v).replace(/^0x/, "");
  let s = "";
  for (let i = 0; i + 1 < h.length; i += 2) {
    const c = parseInt(h.slice(i, i + 2), 16);
    if (c) s += String.fromCharCode(c);
  }
  return s;
}

/** bridge.units.format_wei(v, exact=True): ether from 0.001 ether, gwei from 0.001 gwei, wei
 *  below; the exact wei appended when another unit is shown. */
export function weiExact(v: bigint): string {
  const abs = v < 0n ? -v : v;
  if (abs >= 10n ** 15n) return `${formatUnits(v, 18)} ether (${v} wei)`;
  if (abs >= 10n ** 6n) return `${formatUnits(v, 9)} gwei (${v} wei)`;
  return `${v} wei`;
}

/** bridge.hints.render: {name}, {a-b}, {name:when}, {name:text}, {name:wei}, {a-b:wei}. */
export function render(template: string, args: Record<string, unknown>): string {
  return template.replace(/\{([A-Za-z0-9_]+)(?:-([A-Za-z0-9_]+))?(?::(when|text|wei))?\}/g,
    (_m, name: string, minus?: string, fmt?: string) => {
      if (!(name in args)) throw new Error(`hint needs ${name}`);
      const v = args[name];
      const n = minus ? BigInt(v as bigint) - BigInt(args[minus] as bigint) : undefined;
      if (fmt === "wei") return weiExact(n ?? BigInt(v as bigint));
      if (n !== undefined) return n.toString();
      if (fmt === "when") return when(BigInt(v as bigint));
      if (fmt === "text") return text(v);
      return String(v);
    });
}

export interface Decoded { name: string; args: Record<string, unknown>; hint?: string; }

/** Decode revert data with the market's ABI and attach the hint (web wording: no CLI part). */
export function decodeRevert(data: Hex): Decoded | undefined {
  try {
    const r = decodeErrorResult({ abi: ABI, data });
    const entry = ABI.find((e) => e.type === "error" && e.name === r.errorName) as
      { inputs: { name: string }[] } | undefined;
    const args: Record<string, unknown> = {};
    (entry?.inputs ?? []).forEach((inp, i) => { args[inp.name] = (r.args ?? [])[i]; });
    let hint: string | undefined;
    const h = HINTS[r.errorName];
    if (h) { try { hint = render(h.text, args); } catch { hint = undefined; } }
    return { name: r.errorName, args, hint };
  } catch {
    return undefined;
  }
}

/** Revert data carried anywhere in an error (viem's chain, an EIP-1193 error's data). */
export function revertData(err: unknown): Hex | undefined {
  const seen = new Set<unknown>();
  const visit = (e: unknown): Hex | undefined => {
    if (!e || typeof e !== "object" || seen.has(e)) return undefined;
    seen.add(e);
    const o = e as Record<string, unknown>;
    for (const k of ["data", "raw"]) {
      const v = o[k];
      if (typeof v === "string" && /^0x[0-9a-fA-F]{8,}$/.test(v)) return v as Hex;
      if (v && typeof v === "object") { const r = visit(v); if (r) return r; }
    }
    return visit(o.cause) ?? visit(o.error);
  };
  return visit(err);
}

export function describe(d: Decoded): string {
  const fields = Object.entries(d.args).map(([k, v]) => `${k}=${String(v)}`).join(", ");
  return `${d.name}(${fields})` + (d.hint ? `: ${d.hint}` : "");
}

export function plainMessage(err: unknown): string {
  if (err instanceof BaseError) return err.shortMessage;
  return err instanceof Error ? err.message : String(err);
}
