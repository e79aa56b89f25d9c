#!/usr/bin/env node
// Thin launcher: the CLI is the esbuild bundle in dist/bundle/ (`npm run build`: tsc, then
// scripts/bundle.mjs; run it after changing src/), one CommonJS file run through V8's code cache
// (scripts/bundle-loader.mjs): a command starts in ~0.1 CPU-s instead of the ~0.3 of the ~150
// separate ES modules of dist/ (bench/RESULTS.md, Start-up).
//
// No node flags here on purpose: any V8 flag on node's command line makes V8 reject Node's built-in
// code cache (≈ 25 ms of every start-up), and the one we had (--max-semi-space-size=4) no longer
// lowers the peak RSS of the bundled CLI (100 × 1,000: 71–74 MiB with or without it).
import { main } from '../dist/bundle/wsload.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err?.stack ?? String(err)); process.exitCode = 1; },
);
