// The node (reads, logs) and the wallet (EIP-1193: accounts and transactions, never a key).
import {
  createPublicClient, createWalletClient, custom, decodeFunctionData, encodeFunctionData, getAddress,
  http, isAddress, parseEventLogs, type Address, type Hex, type PublicClient, type WalletClient,
} from "viem";
import { ABI, decodeRevert, revertData, type Decoded } from "./errors";

export type Mechanism = "proofphi" | "dara" | "fixedprice";

/** Two addresses are the same account whatever their case (wallets often give lowercase, logs
 *  decode checksummed). */
export function sameAddress(a: unknown, b: unknown): boolean {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

/** The checksummed form of an address a wallet gives (wallets often give lowercase); undefined
 *  for anything that is not an address. */
export function normalAddress(a: unknown): Address | undefined {
  return typeof a === "string" && isAddress(a, { strict: false }) ? getAddress(a) : undefined;
}

/** EIP-1193 code 4001: the user rejected the request in the wallet (viem wraps it; look inside). */
export function isRejection(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, k = 0; e && k < 8; e = e.cause as typeof e, k++) {
    if (e.code === 4001 || e.code === "ACTION_REJECTED") return true;
  }
  return false;
}

/** A transaction sent from the page and not mined yet. */
export interface Pending { hash: Hex; what: string; sentAt: number; }

export interface Record_ {
  network: string; chain_id: number; market: Address; verifier: Address; block: number;
  start_block?: number; rpc?: string; abi_hash: string;
  parameters: { mechanism: Mechanism; genesis: number; commit_period: number;
                settle_period: number; proof_period: number; refund_cap: number | string;
                capacity_interval: number; capacity_factor: number; min_escrow: number | string;
                verifier: { kind: string; difficulty_bits: number };
                // fixedprice only (the chain's roundPrice is what the page shows)
                initial_price?: number | string; price_every?: number };
}
/** config.json: the node, the deployment record and, for a circuit market, the verification keys
 *  of the circuits this checkout knows (by name: zk/circuits.json), served as vk.json. */
export interface Config { rpc: string; record: Record_; circuits?: Record<string, unknown>; }

export interface Eip1193 {
  request(a: { method: string; params?: unknown[] }): Promise<unknown>;
  on?(event: string, fn: (...a: unknown[]) => void): void;
}

export const LOG_RANGE = 2_000n; // blocks per eth_getLogs: public nodes refuse wide ranges

export class RefusedError extends Error {
  constructor(public decoded: Decoded) { super(decoded.name); }
}

export class Chain {
  pub: PublicClient;
  market: Address;
  startBlock: bigint;
  logs: ReturnType<typeof parseEventLogs<typeof ABI>> = [];
  scanned: bigint;
  wallet?: WalletClient;
  account?: Address;
  /** Transactions sent and not yet mined, newest last; `onPending` hears every change. */
  pending: Pending[] = [];
  onPending: () => void = () => {};

  constructor(public cfg: Config) {
    this.pub = createPublicClient({ transport: http(cfg.rpc) }) as PublicClient;
    this.market = cfg.record.market;
    this.startBlock = BigInt(cfg.record.start_block ?? cfg.record.block);
    this.scanned = this.startBlock - 1n;
  }

  read<T>(functionName: string, args: unknown[] = []): Promise<T> {
    return this.pub.readContract({ address: this.market, abi: ABI, functionName, args } as never) as Promise<T>;
  }

  /** New market logs since the last call, read in bounded ranges from the deployment block. */
  async syncLogs(): Promise<number> {
    const head = await this.pub.getBlockNumber();
    let added = 0;
    while (this.scanned < head) {
      const from = this.scanned + 1n;
      const to = from + LOG_RANGE - 1n < head ? from + LOG_RANGE - 1n : head;
      const raw = await this.pub.getLogs({ address: this.market, fromBlock: from, toBlock: to });
      const parsed = parseEventLogs({ abi: ABI, logs: raw });
      this.logs.push(...parsed);
      added += parsed.length;
      this.scanned = to;
    }
    return added;
  }

  events(name: string, filter: (a: Record<string, unknown>) => boolean = () => true
  ): (Record<string, unknown> & { tx: Hex })[] {
    return this.logs.filter((l) => l.eventName === name && filter(l.args as Record<string, unknown>))
      .map((l) => ({ ...(l.args as Record<string, unknown>), tx: l.transactionHash as Hex }));
  }

  /** The `settleBids` page carried by a transaction (the settlement is a direct call). */
  async pageOf(tx: Hex): Promise<Hex | undefined> {
    const t = await this.pub.getTransaction({ hash: tx });
    try {
      const d = decodeFunctionData({ abi: ABI, data: t.input });
      return d.functionName === "settleBids" ? (d.args as unknown[])[2] as Hex : undefined;
    } catch { return undefined; }
  }

  /** The packed ask reveals `beginSettlement` carried in a transaction (a direct call). */
  async asksOf(tx: Hex): Promise<Hex | undefined> {
    const t = await this.pub.getTransaction({ hash: tx });
    try {
      const d = decodeFunctionData({ abi: ABI, data: t.input });
      return d.functionName === "beginSettlement" ? (d.args as unknown[])[1] as Hex : undefined;
    } catch { return undefined; }
  }

  /** The arguments of the `submitProof` call in a transaction: (round, job, merkleProof, proof). */
  async submittedProof(tx: Hex): Promise<{ job: Record<string, unknown>; proof: Hex } | undefined> {
    const t = await this.pub.getTransaction({ hash: tx });
    try {
      const d = decodeFunctionData({ abi: ABI, data: t.input });
      if (d.functionName !== "submitProof") return undefined;
      const args = d.args as unknown[];
      return { job: args[1] as Record<string, unknown>, proof: args[3] as Hex };
    } catch { return undefined; }
  }

  // -- wallet ------------------------------------------------------------------------------------
  async connect(provider: Eip1193): Promise<Address> {
    const accounts = await provider.request({ method: "eth_requestAccounts" }) as unknown[];
    const me = normalAddress(accounts?.[0]);
    if (!me) throw new Error("the wallet shared no account: unlock it and allow this page");
    this.wallet = createWalletClient({ transport: custom(provider) });
    this.account = me;
    return me;
  }

  /** The wallet's accounts changed (`accountsChanged`): the first one, checksummed, or none. */
  setAccount(accounts: unknown): Address | undefined {
    this.account = Array.isArray(accounts) ? normalAddress(accounts[0]) : undefined;
    return this.account;
  }

  async walletChainId(provider: Eip1193): Promise<number> {
    return Number(await provider.request({ method: "eth_chainId" }));
  }

  /** Send a market call from the connected account; a refusal becomes a decoded RefusedError. */
  async send(functionName: string, args: unknown[] = [], value = 0n): Promise<Hex> {
    if (!this.wallet || !this.account) throw new Error("connect a wallet first");
    const data = encodeFunctionData({ abi: ABI, functionName, args } as never);
    let hash: Hex;
    try {
      hash = await this.wallet.sendTransaction({ account: this.account, to: this.market, data, value,
                                                 chain: null } as never);
    } catch (err) {
      throw await this.explain(err, data, value);
    }
    this.pending.push({ hash, what: functionName, sentAt: Date.now() });
    this.onPending();
    let receipt;
    try {
      receipt = await this.pub.waitForTransactionReceipt({ hash, pollingInterval: 250 });
    } finally {
      this.pending = this.pending.filter((p) => p.hash !== hash);
      this.onPending();
    }
    if (receipt.status !== "success") {
      throw await this.explain(new Error(`transaction ${hash} reverted`), data, value, receipt.blockNumber);
    }
    return hash;
  }

  private async explain(err: unknown, data: Hex, value: bigint, block?: bigint): Promise<unknown> {
    let raw = revertData(err);
    if (!raw) {
      // the wallet gave no revert data: replay the same call to read it (the calldata is what
      // the transaction would have published anyway)
      try {
        await this.pub.call({ account: this.account, to: this.market, data, value,
                              blockNumber: block });
      } catch (e) { raw = revertData(e); }
    }
    const decoded = raw ? decodeRevert(raw) : undefined;
    return decoded ? new RefusedError(decoded) : err;
  }
}
