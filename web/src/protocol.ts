// The protocol a client needs (docs/protocol.md), computed locally: commitments, envelopes, job
// leaves and the two-level job tree, packed jobs, settlement pages. Nothing here talks to a node.
import { encrypt } from "eciesjs";
import {
  bytesToHex,
  concat,
  encodeAbiParameters,
  hexToBytes,
  keccak256,
  stringToHex,
  type Address,
  type Hex,
} from "viem";

export const COMMITMENT_TAG: Hex = keccak256(stringToHex("ProverMarket.Bid.v1"));
export const BID = 0;
export const ASK = 1;

/** keccak256(abi.encode(tag, chainId, market, round, participant, side, price, quantity, salt)) */
export function commitment(a: {
  chainId: bigint; market: Address; round: bigint; participant: Address; side: number;
  price: bigint; quantity: bigint; salt: Hex;
}): Hex {
  return keccak256(encodeAbiParameters(
    [{ type: "bytes32" }, { type: "uint256" }, { type: "address" }, { type: "uint256" },
     { type: "address" }, { type: "uint8" }, { type: "uint256" }, { type: "uint256" },
     { type: "bytes32" }],
    [COMMITMENT_TAG, a.chainId, a.market, a.round, a.participant, a.side, a.price, a.quantity,
     a.salt]));
}

/** A fresh 32-byte salt from the browser's CSPRNG. */
export function newSalt(): Hex {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** ECIES(keeper key, abi.encode(price, quantity, salt)): 193 bytes, eciesjs's default settings
 *  (uncompressed 0x04 ephemeral key, HKDF-SHA256, AES-256-GCM with a 16-byte nonce), as the
 *  keeper (eciespy) opens it. The contract stores the key as 64 bytes x‖y: eciesjs takes it only
 *  as a 65-byte 0x04‖x‖y key, so the prefix is added here (the "key-format trap"). */
export function seal(keeperKey: Hex, price: bigint, quantity: bigint, salt: Hex): Hex {
  const raw = hexToBytes(keeperKey);
  if (raw.length !== 64) throw new Error(`keeper key has ${raw.length} bytes, expected 64 (x‖y)`);
  const plaintext = hexToBytes(encodeAbiParameters(
    [{ type: "uint256" }, { type: "uint256" }, { type: "bytes32" }], [price, quantity, salt]));
  const ct = encrypt(bytesToHex(concat([new Uint8Array([4]), raw])).slice(2), plaintext);
  const out = new Uint8Array(ct);
  if (out.length !== 193 || out[0] !== 4) {
    throw new Error(`eciesjs produced a ${out.length}-byte envelope (expected 193, 0x04 first): ` +
      "its configuration is not the default one the keeper expects");
  }
  return bytesToHex(out);
}

export interface Job {
  jobIndex: bigint; bidIndex: bigint; requester: Address; task: Hex; prover: Address;
  units: bigint; payment: bigint; chargeShare: bigint; proofDeadline: bigint;
}

const JOB_TYPES = [
  { type: "uint256" }, { type: "uint256" }, { type: "uint256" }, { type: "address" },
  { type: "bytes32" }, { type: "address" }, { type: "uint256" }, { type: "uint256" },
  { type: "uint256" }, { type: "uint256" },
] as const;

/** keccak256(abi.encode(uint256 round, Job job)) */
export function jobLeaf(round: bigint, j: Job): Hex {
  return keccak256(encodeAbiParameters(JOB_TYPES, [round, j.jobIndex, j.bidIndex, j.requester,
    j.task, j.prover, j.units, j.payment, j.chargeShare, j.proofDeadline]));
}

function pair(a: Hex, b: Hex): Hex {
  return BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

/** OpenZeppelin-compatible sorted-pair tree, an odd last node carried up unchanged. */
export class MerkleTree {
  levels: Hex[][];
  constructor(leaves: Hex[]) {
    this.levels = [leaves.slice()];
    while (this.levels[this.levels.length - 1].length > 1) {
      const prev = this.levels[this.levels.length - 1];
      const next: Hex[] = [];
      for (let i = 0; i + 1 < prev.length; i += 2) next.push(pair(prev[i], prev[i + 1]));
      if (prev.length % 2 === 1) next.push(prev[prev.length - 1]);
      this.levels.push(next);
    }
  }
  get root(): Hex {
    return this.levels[0].length ? this.levels[this.levels.length - 1][0] : `0x${"00".repeat(32)}`;
  }
  proof(index: number): Hex[] {
    const path: Hex[] = [];
    for (const level of this.levels.slice(0, -1)) {
      const sibling = index ^ 1;
      if (sibling < level.length) path.push(level[sibling]);
      index = Math.floor(index / 2);
    }
    return path;
  }
}

export function verifyProof(leaf: Hex, proof: Hex[], root: Hex): boolean {
  let node = leaf;
  for (const s of proof) node = pair(node, s);
  return node === root;
}

export interface SettledPage {
  page: bigint; firstBid: bigint; firstJob: bigint; charges: readonly bigint[]; jobs: readonly bigint[];
  tx: Hex;
}

export interface BidCommit { requester: Address; escrow: bigint; task: Hex; commitment: Hex; }

/** `BidsSettled.jobs[k]` = bidIndex << 224 | askIndex << 192 | units << 160 | payment */
export function unpackJob(p: bigint): { bid: number; ask: number; units: bigint; payment: bigint } {
  const m32 = (1n << 32n) - 1n;
  return { bid: Number(p >> 224n), ask: Number((p >> 192n) & m32), units: (p >> 160n) & m32,
           payment: p & ((1n << 160n) - 1n) };
}

/** A settled round's jobs, job tree (one tree per page, a top tree over the page roots) and
 *  per-bid charges, from logs alone (as bridge.chain.settlement.jobs_from_logs). */
export function jobsFromLogs(round: bigint, bids: BidCommit[], askProvers: Address[],
                             pages: SettledPage[], deadline: bigint) {
  const charges: bigint[] = bids.map(() => 0n);
  const jobs: Job[] = [];
  const pageTrees: MerkleTree[] = [];
  const starts: number[] = [];
  for (const pg of [...pages].sort((a, b) => Number(a.page - b.page))) {
    pg.charges.forEach((c, i) => { charges[Number(pg.firstBid) + i] = c; });
    const entries = pg.jobs.map(unpackJob);
    const sizes = new Map<number, bigint>();
    for (const e of entries) sizes.set(e.bid, (sizes.get(e.bid) ?? 0n) + e.units);
    const given = new Map<number, bigint>();
    const here: Job[] = [];
    entries.forEach((e, k) => {
      const b = bids[e.bid];
      const last = k + 1 === entries.length || entries[k + 1].bid !== e.bid;
      const charge = charges[e.bid];
      const before = given.get(e.bid) ?? 0n;
      const share = last ? charge - before : (charge * e.units) / (sizes.get(e.bid) as bigint);
      given.set(e.bid, before + share);
      here.push({ jobIndex: pg.firstJob + BigInt(k), bidIndex: BigInt(e.bid), requester: b.requester,
        task: b.task, prover: askProvers[e.ask], units: e.units, payment: e.payment,
        chargeShare: share, proofDeadline: deadline });
    });
    starts.push(jobs.length);
    jobs.push(...here);
    pageTrees.push(new MerkleTree(here.map((j) => jobLeaf(round, j))));
  }
  const top = new MerkleTree(pageTrees.map((t) => t.root));
  const proof = (jobIndex: number): Hex[] => {
    let p = 0;
    for (let i = 0; i < starts.length; i++) if (starts[i] <= jobIndex) p = i;
    return [...pageTrees[p].proof(jobIndex - starts[p]), ...top.proof(p)];
  };
  return { jobs, charges, root: jobs.length ? top.root : (`0x${"00".repeat(32)}` as Hex), proof };
}

export const REASONS: Record<number, string> = {
  1: "undecryptable", 2: "malformed_plaintext", 3: "commitment_mismatch", 4: "value_above_escrow",
  5: "quantity_above_capacity", 6: "zero_quantity", 7: "size_not_one", 8: "cost_too_large",
  9: "quantity_not_capacity", 10: "insufficient_collateral", 11: "size_too_large",
  12: "size_not_task_units", 13: "unprovable",
};

export interface PageBid {
  index: number; requester: Address; escrow: bigint; task: Hex; valid: boolean;
  value?: bigint; size?: bigint; salt?: Hex; commitment?: Hex; reason?: string; evidence?: Hex;
}

/** Decode a `settleBids` page (docs/protocol.md "Settlement calldata"): Prooφ's layout, or the
 *  one DARA and fixedprice share. */
export function decodePage(mechanism: "proofphi" | "dara" | "fixedprice", page: Hex): PageBid[] {
  const d = hexToBytes(page);
  const int = (o: number, n: number) => BigInt(bytesToHex(d.slice(o, o + n)));
  const hex = (o: number, n: number) => bytesToHex(d.slice(o, o + n));
  const first = Number(int(0, 4));
  const count = Number(int(4, 4));
  let o = 12;
  const out: PageBid[] = [];
  for (let k = 0; k < count; k++) {
    const head = { index: first + k, requester: hex(o, 20) as Address, escrow: int(o + 20, 16),
                   task: hex(o + 36, 32) };
    const valid = d[o + 68] === 1;
    o += 69;
    if (!valid) {
      out.push({ ...head, valid, commitment: hex(o, 32), reason: REASONS[d[o + 32]] ?? `code ${d[o + 32]}`,
                 evidence: hex(o + 32, 129) });
      o += 32 + 129;
    } else if (mechanism === "proofphi") {
      out.push({ ...head, valid, value: int(o, 16), size: 1n, salt: hex(o + 16, 32) });
      o += 48;
    } else {
      const njobs = Number(int(o + 68, 2));
      out.push({ ...head, valid, value: int(o, 16), size: int(o + 16, 4), salt: hex(o + 20, 32) });
      o += 70 + 22 * njobs;
    }
  }
  return out;
}

/** The proof-of-work verifier's rule: the top `bits` bits of
 *  keccak256(abi.encode(bytes32 task, address prover, bytes32 nonce)) are zero. */
export function powOk(task: Hex, prover: Address, nonce: Hex, bits: number): boolean {
  const h = BigInt(keccak256(encodeAbiParameters(
    [{ type: "bytes32" }, { type: "address" }, { type: "bytes32" }], [task, prover, nonce])));
  return bits === 0 || h >> BigInt(256 - bits) === 0n;
}

export interface AskReveal {
  index: number; prover: Address; capacity: bigint; valid: boolean;
  cost?: bigint; quantity?: bigint; reason?: string;
}

/** Decode `beginSettlement`'s packed asks (docs/protocol.md "Settlement calldata"): prover (20),
 *  capacity (4), valid (1), then cost (16), quantity (4), salt (32) — or commitment (32) and the
 *  129-byte evidence whose first byte is the reason. */
export function decodeAsks(data: Hex): AskReveal[] {
  const d = hexToBytes(data);
  const int = (o: number, n: number) => BigInt(bytesToHex(d.slice(o, o + n)));
  const out: AskReveal[] = [];
  let o = 0;
  while (o < d.length) {
    const head = { index: out.length, prover: bytesToHex(d.slice(o, o + 20)) as Address, capacity: int(o + 20, 4) };
    const valid = d[o + 24] === 1;
    o += 25;
    if (valid) {
      out.push({ ...head, valid, cost: int(o, 16), quantity: int(o + 16, 4) });
      o += 52;
    } else {
      out.push({ ...head, valid, reason: REASONS[d[o + 32]] ?? `code ${d[o + 32]}` });
      o += 32 + 129;
    }
  }
  return out;
}

/** A circuit job's proof bytes as submitted (inputs ‖ outputs ‖ the 8 Groth16 words) in
 *  snarkjs's files: proof.json and public.json (outputs, inputs, then the prover's address),
 *  as `bridge requester proof` writes them. */
export function decodeProof(proof: Hex, prover: Address, nInputs: number, nOutputs: number
): { proof: Record<string, unknown>; public: string[] } {
  const d = hexToBytes(proof);
  if (d.length !== (nInputs + nOutputs + 8) * 32) {
    throw new Error(`proof bytes are ${d.length} long, a proof of this circuit is ${(nInputs + nOutputs + 8) * 32}`);
  }
  const w: string[] = [];
  for (let k = 0; k < d.length; k += 32) w.push(BigInt(bytesToHex(d.slice(k, k + 32))).toString());
  const inputs = w.slice(0, nInputs), outputs = w.slice(nInputs, nInputs + nOutputs), abc = w.slice(nInputs + nOutputs);
  return {
    proof: { pi_a: [abc[0], abc[1], "1"], pi_b: [[abc[3], abc[2]], [abc[5], abc[4]], ["1", "0"]],
             pi_c: [abc[6], abc[7], "1"], protocol: "groth16", curve: "bn128" },
    public: [...outputs, ...inputs, BigInt(prover).toString()],
  };
}
