// Sealed orders kept in the browser (IndexedDB), written before the commit transaction is sent,
// exported and imported in the CLI's salt-file format (bridge/client/salts.py: a JSON list of
// records, `bridge requester status --salts FILE` reads it).

export interface SealedRecord {
  chain_id: number; market: string; round: number; participant: string; side: number;
  price: number | string; quantity: number | string; salt: string; commitment: string;
  tx_hash: string; extra: string;
}

const DB = "bridge-sealed";
const STORE = "records";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "commitment" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => { db.close(); resolve(req.result); };
    t.onerror = () => { db.close(); reject(t.error); };
  });
}

/** Store (or replace, by commitment) one record; resolves once it is durable. */
export async function put(r: SealedRecord): Promise<void> {
  await tx("readwrite", (s) => s.put({ ...r, commitment: r.commitment.toLowerCase() }));
}

export async function all(): Promise<SealedRecord[]> {
  return tx("readonly", (s) => s.getAll() as IDBRequest<SealedRecord[]>);
}

// Amounts may exceed 2^53: the file format's numbers are written as exact integers.
function exactJson(records: SealedRecord[]): string {
  const body = records.map((r) => {
    const fields = Object.entries(r).map(([k, v]) =>
      `  "${k}": ${(k === "price" || k === "quantity") ? String(v) : JSON.stringify(v)}`);
    return ` {\n${fields.join(",\n")}\n }`;
  });
  return `[\n${body.join(",\n")}\n]`;
}

/** The CLI's salt file for these records. */
export async function exportFile(): Promise<string> {
  return exactJson((await all()).sort((a, b) => a.round - b.round));
}

const FIELDS: (keyof SealedRecord)[] = ["chain_id", "market", "round", "participant", "side",
  "price", "quantity", "salt", "commitment"];

/** Import a CLI salt file; returns how many records it held. Big integers keep every digit. */
export async function importFile(text: string): Promise<number> {
  // keep price/quantity exact: quote long integers before JSON.parse
  const safe = text.replace(/("(?:price|quantity)"\s*:\s*)(\d+)/g, '$1"$2"');
  let data: unknown;
  try { data = JSON.parse(safe); } catch (e) { throw new Error(`not a salt file (JSON: ${e})`); }
  if (!Array.isArray(data)) throw new Error("not a salt file: expected a JSON list of records");
  const records: SealedRecord[] = [];
  data.forEach((raw, i) => {
    for (const f of FIELDS) {
      if (!(f in raw)) throw new Error(`record ${i} has no "${f}": not a bridge salt file`);
    }
    if (!/^0x[0-9a-fA-F]{64}$/.test(raw.salt)) throw new Error(`record ${i}: salt is not 32 bytes`);
    records.push({ tx_hash: "", extra: "", ...raw });
  });
  for (const r of records) await put(r);
  return records.length;
}
