// The baseline of issue 5: a bare `ws` client, written the obvious way. C connections (all open
// before the first ping), then on each one M JSON pings in a closed loop — the next ping when the reply
// came. Every reply goes through JSON.parse (its id is checked); every round trip is a performance.now()
// difference pushed to one array; the percentiles come from the sorted array at the end.
// Prints one JSON line with its figures. With --ramp MS the connections open one by one over MS
// milliseconds instead (connection i at i × MS / C), each pinging as soon as it is open: the arrival
// pattern of an Artillery phase `{duration: MS / 1000, arrivalCount: C}`.
//
//   node bench/bare-client.mjs --url ws://127.0.0.1:8000/ws -c 100 -m 1000 [--ramp 1000]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'ws://127.0.0.1:8000/ws' },
    connections: { type: 'string', short: 'c', default: '100' },
    messages: { type: 'string', short: 'm', default: '1000' },
    ramp: { type: 'string', default: '0' },
  },
});
const C = Number(values.connections);
const M = Number(values.messages);
const url = values.url;
const RAMP_MS = Number(values.ramp);

const latencies = [];
let errors = 0;
let mismatched = 0;

function open() {
  return new Promise((resolve, reject) => {
    // No compression, as wsload's client (the reference server does not negotiate it either).
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function pingLoop(ws) {
  return new Promise((resolve) => {
    let id = 0;
    let sentAt = 0;
    const send = () => {
      id++;
      sentAt = performance.now();
      ws.send(JSON.stringify({ type: 'ping', id }));
    };
    ws.on('message', (data) => {
      const now = performance.now();
      const reply = JSON.parse(data.toString());
      if (reply.id !== id) { mismatched++; return; }
      latencies.push(now - sentAt);
      if (id < M) send();
      else { ws.close(1000); resolve(); }
    });
    ws.on('error', () => { errors++; resolve(); });
    ws.on('close', () => resolve());
    if (M > 0) send(); else { ws.close(1000); resolve(); }
  });
}

const t0 = performance.now();
let tOpen;
if (RAMP_MS > 0) {
  const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  await Promise.all(Array.from({ length: C }, (_, i) => delay((i * RAMP_MS) / C).then(open).then(pingLoop)));
  tOpen = t0;
} else {
  const sockets = await Promise.all(Array.from({ length: C }, open));
  tOpen = performance.now();
  await Promise.all(sockets.map(pingLoop));
}
const t1 = performance.now();

latencies.sort((a, b) => a - b);
const at = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] : 0);
const round = (x) => Math.round(x * 1000) / 1000;
const avg = latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0;
console.log(JSON.stringify({
  tool: 'bare-ws',
  connections: C,
  messages: M,
  roundTrips: latencies.length,
  errors,
  mismatched,
  durationSec: round((t1 - t0) / 1000),
  pingSec: round((t1 - tOpen) / 1000),
  perSecond: round(latencies.length / ((t1 - t0) / 1000)),
  latency: { avg: round(avg), p50: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)), max: round(at(1)) },
}));
