#!/usr/bin/env -S node --max-semi-space-size=4
// Thin launcher: the CLI lives in the compiled dist/ (run `npm run build` after changing src/).
//
// --max-semi-space-size=4 (MiB, V8's default here is 8): a smaller young generation takes ~10 MiB
// (`stress`) to ~20 MiB (`run`) off the peak RSS of 100 connections × 1,000 messages at the same
// CPU; 2 made `stress` worse (objects promoted early grew the old generation). V8 reads it only
// from node's command line, hence the shebang (`env -S`: GNU coreutils ≥ 8.30, macOS; npm's
// Windows shim, cmd-shim, reads it too). `node bin/wsload.js …` runs without it; worker processes
// inherit it from this process (src/workers/coordinator.ts passes it on).
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err?.stack ?? String(err)); process.exitCode = 1; },
);
