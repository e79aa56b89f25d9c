// `npm run bench:stress` (also the last part of `npm run bench`): wsload stress, 200 connections × 500 messages against the reference server
// (server on core 0, client on core 1), several runs; prints messages/s, client CPU-s per 100k
// round trips and peak memory, and writes bench/RESULTS.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { bin, machine, median, runMeasured, startServer, tmp, writeSections } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const C = Number(process.env.BENCH_CONNECTIONS ?? 200);
const M = Number(process.env.BENCH_MESSAGES ?? 500);

const server = await startServer();
const rows = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const jsonFile = join(tmp, `stress-${i}.json`);
    const r = await runMeasured([bin, 'stress', '--url', server.url, '-c', String(C), '-m', String(M), '--quiet', '--json', jsonFile]);
    // Exit 3 = a default threshold (the seed's targets) crossed, e.g. on a loaded machine: still a measurement.
    if (r.code !== 0 && r.code !== 3) throw new Error(`stress exited ${r.code}: ${r.stderr}`);
    const report = JSON.parse(readFileSync(jsonFile, 'utf8'));
    const roundTrips = report.messages.received;
    rows.push({
      run: i + 1,
      roundTrips,
      msgPerSec: report.messages.perSecond,
      wallSec: r.wallSec,
      cpuSec: r.cpuSec,
      cpuPer100k: (r.cpuSec / roundTrips) * 1e5,
      maxRssMiB: r.maxRssMiB,
      p50: report.latency.p50,
      p99: report.latency.p99,
    });
    const row = rows.at(-1);
    console.log(`run ${row.run}: ${row.roundTrips} round trips, ${row.msgPerSec.toFixed(0)} msg/s, ${row.cpuSec.toFixed(2)} CPU-s (${row.cpuPer100k.toFixed(2)} per 100k), peak ${row.maxRssMiB.toFixed(0)} MiB, p50 ${row.p50} ms, p99 ${row.p99} ms`);
  }
} finally {
  await server.stop();
}

const med = (k) => median(rows.map((r) => r[k]));
const summary = `median of ${RUNS}: ${med('msgPerSec').toFixed(0)} msg/s · ${med('cpuPer100k').toFixed(2)} client CPU-s per 100k round trips · peak ${med('maxRssMiB').toFixed(0)} MiB`;
console.log(summary);

const cmd = `npm run bench:stress   # BENCH_RUNS=${RUNS} BENCH_CONNECTIONS=${C} BENCH_MESSAGES=${M}`;
const table = [
  '| run | round trips | msg/s | wall s | client CPU-s | CPU-s per 100k | peak MiB | p50 ms | p99 ms |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.run} | ${r.roundTrips} | ${r.msgPerSec.toFixed(0)} | ${r.wallSec.toFixed(2)} | ${r.cpuSec.toFixed(2)} | ${r.cpuPer100k.toFixed(2)} | ${r.maxRssMiB.toFixed(0)} | ${r.p50} | ${r.p99} |`),
].join('\n');

const section = `## stress: ${C} connections × ${M} messages against the reference server

Command: \`${cmd}\`
Machine: ${machine()}. Server (\`wsload serve\`) pinned to core 0, client (\`wsload stress\`) to core 1, separate processes.
Measured: ${new Date().toISOString()}; 1-minute load average ${loadavg()[0].toFixed(1)} at the end (≤ 2 is this bench alone). Client CPU is the whole client (start-up included; user + system from GNU time, with any process it starts), peak RSS the client process's own from \`process.resourceUsage()\` at exit (bench/lib.mjs \`runMeasured\`).

${table}

**${summary}**
`;
console.log(`wrote ${writeSections([{ marker: '## stress: ', text: section }])}`);
