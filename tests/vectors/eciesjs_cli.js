// Runs eciesjs (the npm package a browser wallet uses) for the interoperability tests.
// stdin: a JSON array of operations; stdout: a JSON array of results, in order.
//   {"op": "config"}                                  -> eciesjs's default ECIES_CONFIG fields
//   {"op": "encrypt", "publicKey": hex, "data": hex, "keyAs": "hex"|"bytes"} -> {"ciphertext": hex}
//       keyAs "hex" passes the key as a hex string (eciesjs accepts the contract's 64-byte x || y
//       only this way), "bytes" as a Uint8Array (33 or 65 bytes only; 64 raises in eciesjs 0.5.0)
//   {"op": "decrypt", "privateKey": hex, "data": hex} -> {"plaintext": hex} or {"error": message}
// The default config is used on purpose: it is what a wallet gets without configuring anything.
"use strict";
const path = require("path");
const root = process.env.BRIDGE_NODE_MODULES || path.join(__dirname, "..", "..", "node_modules");
const ecies = require(path.join(root, "eciesjs"));

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const bytes = (text) => Uint8Array.from(Buffer.from(text.replace(/^0x/, ""), "hex"));

function run(op) {
  switch (op.op) {
    case "config": {
      const c = ecies.ECIES_CONFIG;
      return {
        version: require(path.join(root, "eciesjs", "package.json")).version,
        ellipticCurve: c.ellipticCurve,
        isEphemeralKeyCompressed: c.isEphemeralKeyCompressed,
        isHkdfKeyCompressed: c.isHkdfKeyCompressed,
        symmetricAlgorithm: c.symmetricAlgorithm,
        symmetricNonceLength: c.symmetricNonceLength,
        ephemeralKeySize: c.ephemeralKeySize,
      };
    }
    case "encrypt": {
      const key = op.keyAs === "bytes" ? bytes(op.publicKey) : op.publicKey.replace(/^0x/, "");
      try {
        return { ciphertext: hex(ecies.encrypt(key, bytes(op.data))) };
      } catch (err) {
        return { error: String(err && err.message ? err.message : err) };
      }
    }
    case "decrypt":
      try {
        return { plaintext: hex(ecies.decrypt(bytes(op.privateKey), bytes(op.data))) };
      } catch (err) {
        return { error: String(err && err.message ? err.message : err) };
      }
    default:
      throw new Error(`unknown op ${op.op}`);
  }
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify(JSON.parse(input).map(run)));
});
