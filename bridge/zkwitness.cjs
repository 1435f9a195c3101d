// Witnesses of many inputs of one circuit in one process (bridge.zkstore.check_witnesses).
// usage: node zkwitness.cjs RUNTIME_DIR WASM < inputs (one JSON object a line)
// Writes one JSON line per input, in order: {"ok": true} or {"ok": false, "error": "..."}.
// The generator is instantiated once, and again after a failure other than a stated assert. Limits (time per input, memory) are the caller's: it kills this process.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { WitnessCalculatorBuilder } = require(path.join(process.argv[2], "circom_runtime"));

async function main() {
  const code = fs.readFileSync(process.argv[3]);
  let wc = null;
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let out;
    try {
      if (wc === null) wc = await WitnessCalculatorBuilder(code);
      await wc.calculateWTNSBin(JSON.parse(line), 0);
      out = { ok: true };
    } catch (e) {
      // an assert the circuit states leaves the instance reusable (each run starts with init);
      // anything else (a trap, a bad input) gets a fresh instance
      if (!/Assert Failed/.test(String(e && e.message))) wc = null;
      out = { ok: false, error: String((e && e.message) || e).split("\n").join(" ").slice(0, 300) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  }
}
main().then(() => process.exit(0), (e) => { process.stderr.write(String(e) + "\n"); process.exit(2); });
