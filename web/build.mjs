// Builds the web app into bridge/web/static (served by `bridge ui`, committed so the Python
// package works without node): app.js, pow-worker.js, index.html, style.css, favicon.svg. Deterministic:
// the same sources give the same bytes (a test rebuilds and compares).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "..", "bridge", "web", "static");
mkdirSync(out, { recursive: true });
const common = { bundle: true, format: "esm", target: "es2022", minify: true, legalComments: "none",
                 platform: "browser", logLevel: "warning", define: { "process.env.NODE_ENV": '"production"' } };
await build({ ...common, entryPoints: [join(here, "src", "main.ts")], outfile: join(out, "app.js") });
await build({ ...common, entryPoints: [join(here, "src", "pow-worker.ts")], outfile: join(out, "pow-worker.js") });
for (const f of ["index.html", "style.css", "favicon.svg"]) copyFileSync(join(here, f), join(out, f));
console.log(`built the web app into ${out}`);
