// `npm run bench:connections`: 50,000 concurrent connections from this one machine against the
// reference server on loopback. wsload `stress` (through the coordinator, dist/workers/coordinator.js)
// opens them over worker processes and source addresses, holds them all open a few seconds, sends one
// round trip on each and closes them. Reports the achieved open rate, peak concurrent connections,
// failures by kind, client memory (RSS, KB per connection) and CPU, and rewrites its own section of
// bench/RESULTS.md. The target is one `wsload serve --workers N` (node cluster, one port: the client
// then needs several source addresses, chosen automatically) or, with BENCH_SERVER_MODE=processes or
// a server without --workers, N separate `wsload serve` processes on their own ports (worker i → server
// i mod N). Either way each server process stays under the per-process open-file limit. Every child is
// stopped by its own pid.
//
//   npm run bench:connections                       # BENCH_CONNECTIONS=50000
//   BENCH_CONNECTIONS=5000 npm run bench:connections
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { bin, machineInfo, procCpuSec, sourceState, startServer as startServeProcess, writeSections } from './lib.mjs';
import { runStressDistributed } from '../dist/workers/coordinator.js';
import { readEphemeralPorts, readOpenFileLimit } from '../dist/workers/limits.js';
import { summarizeStress } from '../dist/report/stress-summary.js';

const C = Number(process.env.BENCH_CONNECTIONS ?? 50_000);
const HOLD_MS = Number(process.env.BENCH_HOLD_MS ?? 3000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const WORKERS_GIVEN = process.env.BENCH_WORKERS === undefined ? undefined : Number(process.env.BENCH_WORKERS);
/** One server process holds at most its open-file limit: 15,000 connections each by default (a cluster's round robin is not exact). */
const SERVER_PROCESSES = Number(process.env.BENCH_SERVERS ?? Math.max(1, Math.ceil(C / 15_000)));
const clusterAvailable = /--workers/.test(execFileSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8' }));
const MODE = process.env.BENCH_SERVER_MODE ?? (clusterAvailable && SERVER_PROCESSES > 1 ? 'cluster' : 'processes');
/** Processes started by the bench: one cluster, or one per server process. */
const SERVERS = MODE === 'cluster' ? 1 : SERVER_PROCESSES;
/**
 * `serve --balance` for a cluster: kernel (default here: each worker accepts from the shared socket, no
 * handoff through the primary: the cheaper way to take a connection rate) or round-robin (Node's default).
 */
const BALANCE = process.env.BENCH_BALANCE ?? 'kernel';
/**
 * Client worker processes: the coordinator decides unless BENCH_WORKERS is set; with separate server
 * processes at least one client worker per server, since client worker i connects to server i mod N.
 */
const WORKERS = WORKERS_GIVEN ?? (MODE === 'processes' && SERVERS > 1 ? Math.max(SERVERS, cores) : undefined);
const INTERVAL_MS = 200;
const TIMEOUT_MS = 180_000;

const MiB = 1024 * 1024;
const fd = readOpenFileLimit();
const ports = readEphemeralPorts();
const cores = availableParallelism();

/** Start one unpinned `wsload serve --port 0` (several share the cores). */
const SERVER_FLAGS = ['--rate-limit', '0', '--heartbeat', '0', '--idle-timeout', '0', '--no-metrics'];
function startServer(maxConnections) {
  const cluster = MODE === 'cluster' ? ['--workers', String(SERVER_PROCESSES), '--balance', BALANCE] : [];
  return startServeProcess(['--quiet', '--max-connections', String(maxConnections), ...cluster, ...SERVER_FLAGS], { pin: false });
}

/** CPU seconds and peak RSS of a process and its children (a cluster's workers), from /proc. */
function processTree(pid) {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) pids.push(Number(entry));
    } catch { /* gone */ }
  }
  let cpuSec = 0;
  let peakRssMiB = 0;
  for (const p of pids) {
    cpuSec += procCpuSec(p);
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) peakRssMiB += Number(m[1]) / 1024;
    } catch { /* gone */ }
  }
  return { processes: pids.length, cpuSec, peakRssMiB };
}

const loadAtStart = loadavg()[0];
const perServer = Math.ceil(C / SERVER_PROCESSES);
// A cluster splits --max-connections evenly between its workers: leave room for an uneven spread (round
// robin: up to ~1.15× the mean measured here; the kernel's: up to ~1.35×), under the fd limit.
const fdRoom = (fd?.soft ?? 1e6) - 500;
const maxConnections = MODE === 'cluster' ? Math.min(Math.ceil(C * (BALANCE === 'kernel' ? 1.6 : 1.2)), SERVER_PROCESSES * fdRoom) : Math.min(perServer + 500, fdRoom);
console.log(`open-file limit ${fd ? `${fd.soft} (hard ${fd.hard})` : 'unknown'} per process · ephemeral ports ${ports.low}-${ports.high} · ${cores} cores`);
console.log(MODE === 'cluster'
  ? `starting wsload serve --workers ${SERVER_PROCESSES} (one port), up to ${perServer} connections per server process`
  : `starting ${SERVERS} reference server process(es), up to ${perServer} connections each`);
const started = await Promise.allSettled(Array.from({ length: SERVERS }, () => startServer(maxConnections)));
const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
if (servers.length < SERVERS) {
  await Promise.all(servers.map((s) => s.stop()));
  console.error(`bench:connections: a server did not start: ${started.find((r) => r.status === 'rejected').reason.message}`);
  process.exit(1);
}
const urls = servers.map((s) => s.url);

let result;
let failure;
const t0 = process.hrtime.bigint();
const abort = new AbortController();
const guard = setTimeout(() => abort.abort(), TIMEOUT_MS);
let lastPrinted = -1;
try {
  result = await runStressDistributed({
    url: urls[0],
    connections: C,
    messages: MESSAGES,
    batch: BATCH,
    replyTimeoutMs: 30_000,
    connectTimeoutMs: 30_000,
    // 50,000 disconnects at once: the server acknowledges them in turn; the defaults (2 s, 1 s) are for ordinary runs.
    disconnectTimeoutMs: 30_000,
    closeTimeoutMs: 10_000,
    holdMs: HOLD_MS,
    intervalMs: INTERVAL_MS,
  }, {
    targets: urls,
    ...(WORKERS !== undefined ? { workers: WORKERS } : {}),
    signal: abort.signal,
    onProgress: (p) => {
      const sec = Math.floor(p.elapsedMs / 1000);
      if (sec === lastPrinted) return;
      lastPrinted = sec;
      console.log(`[${sec}s] ${p.connectionsOpen} open · ${p.connectionsAttempted} attempted · ${p.messagesReceived} replies · ${p.errors} errors`);
    },
  });
} catch (err) {
  failure = err;
} finally {
  clearTimeout(guard);
}
const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
const serverFigures = servers.map((s) => processTree(s.pid));
await Promise.all(servers.map((s) => s.stop()));

const info = machineInfo();
const command = `npm run bench:connections   # BENCH_CONNECTIONS=${C} BENCH_HOLD_MS=${HOLD_MS} BENCH_MESSAGES=${MESSAGES} BENCH_BATCH=${BATCH} BENCH_SERVERS=${SERVER_PROCESSES} BENCH_SERVER_MODE=${MODE}${MODE === 'cluster' ? ` BENCH_BALANCE=${BALANCE}` : ''}${WORKERS_GIVEN !== undefined ? ` BENCH_WORKERS=${WORKERS_GIVEN}` : ''}`;
const target = MODE === 'cluster'
  ? `one \`wsload serve --workers ${SERVER_PROCESSES} --balance ${BALANCE} --max-connections ${maxConnections} ${SERVER_FLAGS.join(' ')}\` on 127.0.0.1 (node cluster: ${SERVER_PROCESSES} processes behind one port)`
  : `${SERVERS} \`wsload serve --max-connections ${maxConnections} ${SERVER_FLAGS.join(' ')}\` process(es) on 127.0.0.1, one port each, client worker i → server i mod ${SERVERS}`;
const head = `## Connections: ${C.toLocaleString('en-US')} concurrent connections from one machine

Command: \`${command}\`
Machine: ${info.model}, ${info.cores} cores, Node ${info.node}, ${info.platform}; ${sourceState()}.
Limits: open files ${fd ? `${fd.soft} soft / ${fd.hard} hard` : 'unknown'} per process; ephemeral ports ${ports.low}-${ports.high} (${ports.high - ports.low + 1} per source address towards one server address).
Measured: ${new Date().toISOString()}. Target: ${target}; a single server process cannot pass its open-file limit.
`;

let text;
if (failure !== undefined) {
  const line = failure?.message ?? String(failure);
  console.log(`wsload stopped: ${line}`);
  text = `${head}
**Not reached.** wsload stopped before opening a socket, with: \`${line}\`
`;
} else {
  const s = summarizeStress(result.snapshot);
  const iv = result.snapshot.intervals;
  // Open rate: successful handshakes over the time from the shared start to the interval in which the last one opened.
  let cum = 0;
  let openedBy = NaN;
  for (const i of iv) {
    cum += i.counters['connections.successful'] ?? 0;
    if (cum >= s.connections.successful && Number.isNaN(openedBy)) openedBy = (i.start - result.snapshot.startTime + i.durationMs) / 1000;
  }
  const peak = Math.max(0, ...iv.map((i) => i.gauges['connections.active'] ?? 0));
  const reports = result.distribution.reports;
  const clientRss = reports.reduce((n, r) => n + (r.usage?.maxRssBytes ?? 0), 0);
  const fixedRss = reports.reduce((n, r) => n + (r.usage?.readyRssBytes ?? 0), 0);
  const clientCpu = reports.reduce((n, r) => n + (r.usage?.cpuSec ?? 0), 0);
  const coordinator = process.resourceUsage();
  const coordinatorRssMiB = coordinator.maxRSS / 1024;
  const coordinatorCpu = (coordinator.userCPUTime + coordinator.systemCPUTime) / 1e6;
  const kbPerConn = peak > 0 ? (clientRss - fixedRss) / 1024 / peak : NaN;
  const rate = s.connections.successful / openedBy;
  const errors = Object.entries(s.errors).sort((a, b) => b[1] - a[1]);
  const reached = peak >= C;
  const serverCpu = serverFigures.reduce((n, f) => n + f.cpuSec, 0);
  // Where the open rate is bounded: CPU of both sides per connection (open, hold, one round trip, close).
  const cpuPerConnMs = ((clientCpu + serverCpu) / s.connections.successful) * 1000;
  console.log(`opened ${s.connections.successful}/${C} in ${openedBy.toFixed(1)} s (${rate.toFixed(0)}/s) · peak concurrent ${peak} · failures ${errors.length ? errors.map(([k, n]) => `${k} ${n}`).join(', ') : 'none'}`);
  console.log(`client: ${result.distribution.workers} workers, RSS ${(clientRss / MiB).toFixed(0)} MiB (+ coordinator ${coordinatorRssMiB.toFixed(0)} MiB), ${kbPerConn.toFixed(1)} KB per connection, ${clientCpu.toFixed(1)} CPU-s`);
  const workerRows = reports.map((r) => `| ${r.index} | ${r.outcome} | ${r.connections ?? ''} | ${r.usage ? (r.usage.readyRssBytes / MiB).toFixed(0) : ''} | ${r.usage ? (r.usage.maxRssBytes / MiB).toFixed(0) : ''} | ${r.usage ? r.usage.cpuSec.toFixed(1) : ''} |`);
  text = `${head}
Client workers: ${result.distribution.workers} (${result.distribution.reason}); source addresses: ${result.distribution.localAddresses.length > 0 ? `${result.distribution.localAddresses[0]}-${result.distribution.localAddresses.at(-1)} (${result.distribution.localAddresses.length}, chosen automatically for a loopback target)` : 'the OS\'s choice'}. Each connection: open; once every connection of every worker is open, all are held ${HOLD_MS} ms; then ${MESSAGES} round trip, \`disconnect\`, close.

| figure | value |
|---|---|
| connections opened / planned | ${s.connections.successful} / ${C}${reached ? '' : ' (**not reached**)'} |
| achieved open rate | **${rate.toFixed(0)} connections/s** (all open ${openedBy.toFixed(1)} s after the start; interval ${INTERVAL_MS} ms) |
| CPU per connection, client + server (open, hold, 1 round trip, close) | ${cpuPerConnMs.toFixed(2)} ms: ${cores} idle cores would fit ≈ ${Math.round((cores * 1000) / cpuPerConnMs)} whole cycles/s |
| handshake latency | p50 ${s.connect.p50} ms · p99 ${s.connect.p99} ms · max ${s.connect.max} ms |
| peak concurrent (sum of the workers' open connections at one interval boundary) | **${peak}** |
| failures by kind | ${errors.length ? errors.map(([k, n]) => `\`${k}\` ${n}`).join(', ') : 'none'} |
| round trips | ${s.messages.received} / ${s.messages.sent} sent |
| client RSS, workers' peaks summed | ${(clientRss / MiB).toFixed(0)} MiB (their fixed cost before any socket: ${(fixedRss / MiB).toFixed(0)} MiB) |
| client memory per connection | **${kbPerConn.toFixed(1)} KB** ((Σ peak RSS − Σ RSS when ready) ÷ peak concurrent) |
| coordinator | ${coordinatorRssMiB.toFixed(0)} MiB peak RSS, ${coordinatorCpu.toFixed(1)} CPU-s, no socket |
| client CPU (workers) | ${clientCpu.toFixed(1)} CPU-s |
| server processes (CPU, peak RSS summed) | ${serverFigures.map((f) => `${f.processes} process${f.processes === 1 ? '' : 'es'}: ${f.cpuSec.toFixed(1)} CPU-s, ${f.peakRssMiB.toFixed(0)} MiB`).join(' · ')} |
| wall time | ${wallSec.toFixed(1)} s (1-min load average before the run: ${loadAtStart.toFixed(1)} on ${cores} cores) |

| worker | outcome | connections | RSS ready MiB | peak RSS MiB | CPU-s |
|---|---|---|---|---|---|
${workerRows.join('\n')}
`;
}
const file = writeSections([{ marker: '## Connections', text }]);
console.log(`wrote ${file}`);
if (failure !== undefined) process.exitCode = 1;
