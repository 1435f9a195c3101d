// Proof of work off the page's thread: finds a nonce for (task, prover, difficulty bits).
import { pad, toHex, type Address, type Hex } from "viem";
import { powOk } from "./protocol";

self.onmessage = (ev: MessageEvent<{ task: Hex; prover: Address; bits: number }>) => {
  const { task, prover, bits } = ev.data;
  for (let n = 0n; ; n++) {
    const nonce = pad(toHex(n), { size: 32 });
    if (powOk(task, prover, nonce, bits)) {
      (self as unknown as Worker).postMessage({ nonce, tries: (n + 1n).toString() });
      return;
    }
  }
};
