#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled dist/ (run `npm run build` after changing src/).
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err?.stack ?? String(err)); process.exitCode = 1; },
);
