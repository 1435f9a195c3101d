#!/usr/bin/env node
// Serves the npm `solc` package (solc-js) with the two entry points py-solc-x uses:
//   --version        prints "solc, the solidity compiler commandline interface\nVersion: X"
//   --standard-json  reads compiler JSON input on stdin, writes JSON output on stdout
// Imports of `@openzeppelin/...` (and any other package path) are resolved from the
// repository's node_modules/; other paths are resolved relative to the repository root.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const solc = require(path.join(root, 'node_modules', 'solc'));

function findImports(importPath) {
  const candidates = [
    path.join(root, 'node_modules', importPath),
    path.join(root, importPath),
  ];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    }
  }
  return { error: `File not found: ${importPath}` };
}

function main(argv) {
  if (argv.includes('--version')) {
    process.stdout.write(
      `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return 0;
  }
  if (argv.includes('--standard-json')) {
    const input = fs.readFileSync(0, 'utf8');
    let output = solc.compile(input, { import: findImports });
    // solc-js may print diagnostics (">>> Cannot retry compilation with SMT ...") before the JSON.
    const start = output.indexOf('{');
    if (start > 0) output = output.slice(start);
    process.stdout.write(output);
    return 0;
  }
  process.stderr.write('usage: solcjs.js --version | --standard-json < input.json\n');
  return 2;
}

process.exitCode = main(process.argv.slice(2));
