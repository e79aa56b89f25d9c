// Client-side memory per open connection: opens N idle connections with wsload's own `Connection`
// (dist/engine/connection.js, the class `stress` and `run` use), 500 handshakes at a time, and once all
// are open and a forced GC has run, reads RSS and heap against the same readings taken just before the
// first one opened. Prints one JSON line: the deltas ÷ N. Run with --expose-gc.
//
//   node --expose-gc bench/conn-memory.mjs --url ws://127.0.0.1:8000/ws -n 5000
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '../dist/engine/connection.js';
import { realClock } from '../dist/clock.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'ws://127.0.0.1:8000/ws' },
    n: { type: 'string', short: 'n', default: '1000' },
    batch: { type: 'string', default: '500' },
  },
});
const N = Number(values.n);
const BATCH = Number(values.batch);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

const settle = async () => {
  for (let i = 0; i < 3; i++) { globalThis.gc(); await sleep(50); }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers };
};

let failed = 0;
let closedEarly = 0;
let counting = false;
function openOne(url) {
  return new Promise((resolve) => {
    const conn = new Connection(url, {
      onOpen: () => resolve(conn),
      onConnectFailed: () => { failed++; resolve(undefined); },
      onMessage: () => {},
      onClose: () => { if (counting) closedEarly++; },
    }, { connectTimeoutMs: 10_000, closeTimeoutMs: 1_000, clock: realClock });
    conn.open();
  });
}

// Warm-up: load and JIT the connection path once, so the baseline holds the code, not the sockets.
const warm = await openOne(values.url);
warm?.close();
await sleep(200);

const before = await settle();
counting = true;
const open = [];
for (let i = 0; i < N; i += BATCH) {
  const got = await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, () => openOne(values.url)));
  for (const c of got) if (c) open.push(c);
}
await sleep(500);
const after = await settle();
const n = open.length;
const kb = (bytes) => Math.round((bytes / n / 1024) * 100) / 100;
console.log(JSON.stringify({
  requested: N,
  open: n,
  failed,
  closedEarly,
  rssBeforeMiB: Math.round(before.rss / 1048576),
  rssAfterMiB: Math.round(after.rss / 1048576),
  rssKBPerConnection: kb(after.rss - before.rss),
  heapKBPerConnection: kb(after.heapUsed - before.heapUsed),
  externalKBPerConnection: kb(after.external - before.external),
}));
counting = false;
for (const c of open) c.terminate();
await sleep(100);
process.exit(0);
