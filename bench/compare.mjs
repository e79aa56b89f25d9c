// `npm run bench:compare` (the first part of `npm run bench`): issue 5's side-by-side benchmark.
// One reference server (`wsload serve`, core 0) for everything; every client on core 1, one process per
// run, CPU and peak RSS read by bench/measure.mjs at the client's exit.
//
//   1. Start-up: empty runs of each tool (wall, CPU-s; median), also what "after start-up" subtracts.
//   2. Comparison: BENCH_ROUNDS rounds; in each, every tool once (the order rotates each round):
//      the bare `ws` client, `wsload stress`, `wsload run` (ping script), `wsload run` (the seed
//      scenario with fixed work), Artillery 2.0.21 (the ping script), 100 connections × 1,000 round
//      trips each. Ratios against the bare client of the same round; medians over rounds.
//   3. Memory: peak RSS of the comparison runs; KB per open connection client-side.
// Writes the "Comparison", "Start-up" and "Memory" sections of bench/RESULTS.md.
//
// Environment: BENCH_ROUNDS (5), BENCH_STARTUP_RUNS (5), BENCH_ARTILLERY_EMPTY_RUNS (3),
// BENCH_SKIP_ARTILLERY=1, ARTILLERY_DIR (default: <tmpdir>/wsload-bench-artillery-2.0.21, reused).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { bin, machineInfo, median, procCpuSec, root, runMeasured, sourceState, startServer, tmp, writeSections, wsloadCmd } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 5);
const ART_EMPTY_RUNS = Number(process.env.BENCH_ARTILLERY_EMPTY_RUNS ?? 3);
const C = 100;
const M = 1000;
const ART_VERSION = '2.0.21';
const SERVER_ARGS = ['--quiet', '--rate-limit', '0', '--heartbeat', '0', '--max-connections', '50000'];
const started = Date.now();
const log = (s) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${s}`);

// ---------------------------------------------------------------------------------------------
// Scripts
const pingYml = join(root, 'bench', 'scripts', 'ping.yml');
const pingAtOnceYml = join(root, 'bench', 'scripts', 'ping-at-once.yml');
const emptyYml = join(root, 'bench', 'scripts', 'empty.yml');
const emptyArtYml = join(root, 'bench', 'scripts', 'empty-artillery.yml');
const bareClient = join(root, 'bench', 'bare-client.mjs');
const YMERA_LOOP = 500; // 2 + 500 × 2 + 2 = 1,004 round trips per user: the same work as 1,000 pings

/** scenarios/ymera.yml with fixed work: its flow and processor unchanged, the loop count and the phase set. */
function ymeraScript(arrivals, loopCount, file) {
  const doc = YAML.parse(readFileSync(join(root, 'scenarios', 'ymera.yml'), 'utf8'));
  doc.config.phases = [{ duration: arrivals > 1 ? 1 : 0.001, arrivalCount: arrivals, name: 'bench' }];
  delete doc.config.environments;
  doc.config.processor = join(root, 'scenarios', 'ymera-processor.ts');
  const loop = doc.scenarios[0].flow.find((s) => s.loop);
  if (!loop) throw new Error('scenarios/ymera.yml: no loop step found');
  loop.count = loopCount;
  writeFileSync(file, YAML.stringify(doc));
  const perUser = doc.scenarios[0].flow.filter((s) => s.send).length + loopCount * loop.loop.filter((s) => s.send).length;
  return { file, perUser };
}
const ymera = ymeraScript(C, YMERA_LOOP, join(tmp, 'ymera-fixed.yml'));
const ymeraEmpty = ymeraScript(1, 1, join(tmp, 'ymera-empty.yml'));

// ---------------------------------------------------------------------------------------------
// Artillery, on demand, into a temporary folder (never a dependency of the project)
const artDir = process.env.ARTILLERY_DIR ?? join(tmpdir(), `wsload-bench-artillery-${ART_VERSION}`);
const artBin = join(artDir, 'node_modules', 'artillery', 'bin', 'run');
let artStatus;
async function ensureArtillery() {
  if (process.env.BENCH_SKIP_ARTILLERY) return `skipped (BENCH_SKIP_ARTILLERY set)`;
  try {
    const v = JSON.parse(readFileSync(join(artDir, 'node_modules', 'artillery', 'package.json'), 'utf8')).version;
    if (v === ART_VERSION && existsSync(artBin)) return `artillery@${ART_VERSION} reused from ${artDir}`;
  } catch { /* not installed yet */ }
  const t0 = Date.now();
  const cmd = `npm install --prefix ${artDir} artillery@${ART_VERSION}`;
  log(`installing Artillery: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 ${cmd}`);
  return new Promise((resolve, reject) => {
    execFile('npm', ['install', '--prefix', artDir, `artillery@${ART_VERSION}`, '--no-audit', '--no-fund', '--loglevel=error'],
      { env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' }, timeout: 300_000, maxBuffer: 16 << 20 },
      (err, _out, stderr) => {
        if (err || !existsSync(artBin)) reject(new Error(`\`${cmd}\` failed: ${(stderr || String(err)).trim().split('\n').slice(-3).join(' / ')}`));
        else resolve(`artillery@${ART_VERSION} installed into ${artDir} in ${((Date.now() - t0) / 1000).toFixed(0)} s (\`PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 ${cmd}\`)`);
      });
  });
}
let haveArtillery = false;
try {
  artStatus = await ensureArtillery();
  haveArtillery = !process.env.BENCH_SKIP_ARTILLERY;
} catch (err) {
  artStatus = `NOT MEASURED: ${err.message}`;
}
log(`Artillery: ${artStatus}`);
const ART_ENV = { ARTILLERY_DISABLE_TELEMETRY: 'true' }; // loopback only: no telemetry calls

// ---------------------------------------------------------------------------------------------
// The tools
const jsonOut = (name) => join(tmp, `${name}-${process.hrtime.bigint()}.json`);
const ms = (x) => Number(x).toFixed(2);

/** The bare client's JSON line: every round trip done, no error, every reply carrying its id. */
function parseBare(r, f, want) {
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return { roundTrips: j.roundTrips, expected: j.roundTrips === want && j.errors === 0 && j.mismatched === 0, perSecond: j.perSecond, p50: j.latency.p50, p99: j.latency.p99 };
}

/** A `wsload run` report: every reply timed, no user failed. */
function parseRun(r, f, want) {
  const j = JSON.parse(readFileSync(f, 'utf8'));
  return { roundTrips: j.messages.replied, expected: j.messages.replied === want && j.vusers.failed === 0, perSecond: j.messages.replied / j.durationSec, p50: j.latency.p50, p99: j.latency.p99 };
}

const TOOLS = [
  {
    key: 'bare', label: 'bare `ws` client', cmd: `node bench/bare-client.mjs --url URL -c ${C} -m ${M}`,
    run: (url) => ({ args: [bareClient, '--url', url, '-c', String(C), '-m', String(M)] }),
    empty: (url) => ({ args: [bareClient, '--url', url, '-c', '1', '-m', '1'] }),
    emptyCmd: 'node bench/bare-client.mjs --url URL -c 1 -m 1',
    parse: parseBare,
    reports: 'its own percentiles (sorted array)',
  },
  {
    key: 'bareRamp', label: 'bare `ws` client, 1 s ramp', cmd: `node bench/bare-client.mjs --url URL -c ${C} -m ${M} --ramp 1000`,
    run: (url) => ({ args: [bareClient, '--url', url, '-c', String(C), '-m', String(M), '--ramp', '1000'] }),
    parse: parseBare,
    reports: 'its own percentiles (sorted array)',
    note: 'connection i opens at i × 10 ms and pings as soon as it is open: the arrivals of Artillery\'s phase `{duration: 1, arrivalCount: 100}`, the baseline of the rows that ramp',
    baseline: 'bare',
    emptyAs: 'bare', // start-up: the bare row's empty run (this row has none of its own)
  },
  {
    key: 'stress', label: 'wsload stress', cmd: `${wsloadCmd} stress --url URL -c ${C} -m ${M} --mix ping --quiet --json FILE`,
    run: (url, f) => ({ args: [bin, 'stress', '--url', url, '-c', String(C), '-m', String(M), '--mix', 'ping', '--quiet', '--json', f] }),
    empty: (url, f) => ({ args: [bin, 'stress', '--url', url, '-c', '1', '-m', '1', '--mix', 'ping', '--quiet', '--json', f] }),
    emptyCmd: `${wsloadCmd} stress --url URL -c 1 -m 1 --mix ping --quiet --json FILE`,
    parse(r, f, want) {
      const j = JSON.parse(readFileSync(f, 'utf8'));
      return { roundTrips: j.messages.received, expected: j.messages.received === want, perSecond: j.messages.perSecond, p50: j.latency.p50, p99: j.latency.p99 };
    },
    reports: 'HDR `ws.rtt` per message (p50…p99.9, per type, per second)',
    note: 'with `--mix ping` sends pings only (ids 1…M), the workload of issue 5 and of the other clients (the default mix alternates pings and agent messages), then a disconnect per connection',
  },
  {
    key: 'run', label: 'wsload run (ping script, users at once)', cmd: `${wsloadCmd} run bench/scripts/ping-at-once.yml -t URL --quiet --json FILE`,
    run: (url, f) => ({ args: [bin, 'run', pingAtOnceYml, '-t', url, '--quiet', '--json', f] }),
    empty: (url, f) => ({ args: [bin, 'run', emptyYml, '-t', url, '--quiet', '--json', f] }),
    emptyCmd: `${wsloadCmd} run bench/scripts/empty.yml -t URL --quiet --json FILE`,
    parse: parseRun,
    reports: 'HDR `ws.rtt.ping` per message',
    note: 'the 100 users arrive within 10 ms, as the bare client and `stress` open their connections: the like-for-like run for the efficiency target',
  },
  {
    key: 'runRamp', label: 'wsload run (ping script, 1 s ramp)', cmd: `${wsloadCmd} run bench/scripts/ping.yml -t URL --quiet --json FILE`,
    run: (url, f) => ({ args: [bin, 'run', pingYml, '-t', url, '--quiet', '--json', f] }),
    parse: parseRun,
    reports: 'HDR `ws.rtt.ping` per message',
    note: 'Artillery\'s script: the 100 users arrive over 1 s (one every 10 ms): the like-for-like run for the Artillery comparison; its "× bare" is against the bare client with the same ramp',
    baseline: 'bareRamp',
    emptyAs: 'run', // start-up: the run row's empty run (this row has none of its own)
  },
  {
    key: 'ymera', label: 'wsload run (seed scenario)', cmd: `${wsloadCmd} run ymera-fixed.yml -t URL --quiet --json FILE`,
    run: (url, f) => ({ args: [bin, 'run', ymera.file, '-t', url, '--quiet', '--json', f] }),
    empty: (url, f) => ({ args: [bin, 'run', ymeraEmpty.file, '-t', url, '--quiet', '--json', f] }),
    emptyCmd: `${wsloadCmd} run ymera-empty.yml -t URL --quiet --json FILE`,
    parse(r, f, want) {
      const j = JSON.parse(readFileSync(f, 'utf8'));
      return { roundTrips: j.messages.replied, expected: j.messages.replied === want && j.vusers.failed === 0, perSecond: j.messages.replied / j.durationSec, p50: j.latency.p50, p99: j.latency.p99 };
    },
    reports: 'HDR per type (`ws.rtt.ping`, `ws.rtt.agent_message`, …) + the processor\'s histogram',
    baseline: 'bareRamp',
  },
  {
    key: 'artillery', label: `Artillery ${ART_VERSION} (ping script)`, cmd: `artillery run bench/scripts/ping.yml -t URL --output FILE`,
    run: (url, f) => ({ args: [artBin, 'run', pingYml, '-t', url, '--output', f], env: ART_ENV, timeoutMs: 240_000 }),
    empty: (url, f) => ({ args: [artBin, 'run', emptyArtYml, '-t', url, '--output', f], env: ART_ENV, timeoutMs: 240_000 }),
    emptyCmd: 'artillery run bench/scripts/empty-artillery.yml -t URL --output FILE',
    parse(r, f, want) {
      const a = JSON.parse(readFileSync(f, 'utf8')).aggregate;
      const rt = a.counters['websocket.messages_received'] ?? 0;
      const spanSec = (a.lastMetricAt - a.firstMetricAt) / 1000;
      return { roundTrips: rt, expected: rt === want && (a.counters['vusers.failed'] ?? 0) === 0, perSecond: rt / spanSec, p50: NaN, p99: NaN };
    },
    reports: 'none per message (counters, `vusers.session_length`)',
  },
].filter((t) => t.key !== 'artillery' || haveArtillery);

// ---------------------------------------------------------------------------------------------
const server = await startServer(SERVER_ARGS);
log(`server ${server.url} (pid ${server.pid}, core 0): wsload serve ${SERVER_ARGS.join(' ')}`);

async function measureRun(tool, kind) {
  const f = jsonOut(`${tool.key}-${kind}`);
  const spec = (kind === 'empty' ? tool.empty : tool.run)(server.url, f);
  const load1 = loadavg()[0];
  const s0 = procCpuSec(server.pid);
  const r = await runMeasured(spec.args, { env: spec.env ?? {}, timeoutMs: spec.timeoutMs ?? 120_000 });
  const serverCpuSec = procCpuSec(server.pid) - s0;
  let parsed;
  try {
    // Exit 3 = a default threshold (the seed's targets) was crossed, e.g. on a loaded machine: the run
    // itself completed, and the count check below decides whether it did all its work.
    if (r.code !== 0 && r.code !== 3) throw new Error(`exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    parsed = tool.parse(r, f, kind === 'empty' ? (tool.key === 'ymera' ? ymeraEmpty.perUser : 1) : (tool.key === 'ymera' ? C * ymera.perUser : C * M));
  } catch (err) {
    parsed = { roundTrips: 0, expected: false, perSecond: NaN, p50: NaN, p99: NaN, error: err.message };
  }
  return { tool: tool.key, kind, wallSec: r.wallSec, cpuSec: r.cpuSec, userSec: r.userSec, systemSec: r.systemSec, maxRssMiB: r.maxRssMiB, processes: r.processes, rssSumMiB: r.rssSumMiB, exitCode: r.code, load1, serverCpuSec, ...parsed };
}

const fmtRun = (x) => `${x.tool.padEnd(9)} ${x.kind.padEnd(5)} ${x.roundTrips} rt, wall ${x.wallSec.toFixed(2)} s, CPU ${x.cpuSec.toFixed(2)} s (user ${x.userSec.toFixed(2)}, sys ${x.systemSec.toFixed(2)}), peak ${x.maxRssMiB.toFixed(0)} MiB, server CPU ${x.serverCpuSec.toFixed(2)} s, load ${x.load1.toFixed(1)}${x.exitCode ? `, exit ${x.exitCode}` : ''}${x.processes > 1 ? `, ${x.processes} client processes` : ''}${x.expected ? '' : ' INCOMPLETE ' + (x.error ?? '')}`;

// 1. Start-up: empty runs, alternating tools run by run.
const empties = Object.fromEntries(TOOLS.map((t) => [t.key, []]));
try {
  // The first run of a wsload command after a build compiles its bundle and saves V8's code cache
  // (scripts/bundle-loader.mjs); users pay that once per command per build. Not measured here.
  for (const t of TOOLS) {
    if (t.emptyAs || !t.cmd.includes('bin/wsload.js')) continue;
    const x = await measureRun(t, 'empty');
    log(`warm-up (code cache): ${fmtRun(x)}`);
  }

  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const t of TOOLS) {
      if (t.key === 'artillery' && i >= ART_EMPTY_RUNS) continue;
      if (t.emptyAs) continue; // the same empty run as another row's
      const x = await measureRun(t, 'empty');
      empties[t.key].push(x);
      log(`empty ${i + 1}: ${fmtRun(x)}`);
    }
  }

  for (const t of TOOLS) if (t.emptyAs) empties[t.key] = empties[t.emptyAs];

  // 2. The comparison, in rounds; the order rotates so that no tool always runs first or after Artillery.
  var rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const order = TOOLS.map((_, k) => TOOLS[(k + i) % TOOLS.length]);
    const round = {};
    for (const t of order) {
      const x = await measureRun(t, 'load');
      round[t.key] = x;
      log(`round ${i + 1}: ${fmtRun(x)}`);
    }
    round.order = order.map((t) => t.key);
    rounds.push(round);
  }

  // 3. Memory per open connection (client side).
  var memHarness = { 1000: [], 5000: [] };
  var memStress = { 1000: [], 5000: [] };
  for (let i = 0; i < 3; i++) {
    for (const n of [1000, 5000]) {
      const r = await runMeasured(['--expose-gc', join(root, 'bench', 'conn-memory.mjs'), '--url', server.url, '-n', String(n)]);
      const j = JSON.parse(r.stdout.trim().split('\n').at(-1));
      memHarness[n].push(j);
      log(`conn-memory N=${n}: ${JSON.stringify(j)}`);
      const f = jsonOut(`stress-m0-${n}`);
      const s = await runMeasured([bin, 'stress', '--url', server.url, '-c', String(n), '-m', '0', '--quiet', '--json', f]);
      const rep = JSON.parse(readFileSync(f, 'utf8'));
      memStress[n].push({ maxRssMiB: s.maxRssMiB, successful: rep.connections.successful });
      log(`stress -c ${n} -m 0: peak ${s.maxRssMiB.toFixed(1)} MiB, ${rep.connections.successful} opened`);
    }
  }
} finally {
  await server.stop();
}

// ---------------------------------------------------------------------------------------------
// Figures
const per100k = (cpu, rt) => (rt > 0 ? (cpu / rt) * 1e5 : NaN);
const okEmpty = (key) => empties[key].filter((x) => x.expected);
const medOrNaN = (xs) => (xs.length ? median(xs) : NaN);
const emptyCpu = Object.fromEntries(TOOLS.map((t) => [t.key, medOrNaN(okEmpty(t.key).map((x) => x.cpuSec))]));
const emptyWall = Object.fromEntries(TOOLS.map((t) => [t.key, medOrNaN(okEmpty(t.key).map((x) => x.wallSec))]));
for (const round of rounds) {
  for (const t of TOOLS) {
    const x = round[t.key];
    x.cpu100k = x.expected ? per100k(x.cpuSec, x.roundTrips) : NaN;
    x.cpu100kAfter = x.expected ? per100k(x.cpuSec - emptyCpu[t.key], x.roundTrips) : NaN;
  }
  for (const t of TOOLS) {
    const x = round[t.key];
    // Against the bare client with the same arrivals (all at once, or the 1 s ramp).
    const base = round[t.baseline ?? 'bare'] ?? round.bare;
    x.ratio = x.cpu100k / base.cpu100k;
    x.ratioAfter = x.cpu100kAfter / base.cpu100kAfter;
    if (round.artillery) x.artOver = round.artillery.cpu100k / x.cpu100k;
  }
}
const okRuns = (key) => rounds.map((r) => r[key]).filter((x) => x.expected);
const medOf = (key, f) => { const xs = okRuns(key).map(f).filter(Number.isFinite); return xs.length ? median(xs) : NaN; };
const S = Object.fromEntries(TOOLS.map((t) => [t.key, {
  n: okRuns(t.key).length,
  cpu100k: medOf(t.key, (x) => x.cpu100k),
  cpu100kAfter: medOf(t.key, (x) => x.cpu100kAfter),
  ratio: medOf(t.key, (x) => x.ratio),
  ratioAfter: medOf(t.key, (x) => x.ratioAfter),
  artOver: medOf(t.key, (x) => x.artOver),
  perSecond: medOf(t.key, (x) => x.perSecond),
  rss: medOf(t.key, (x) => x.maxRssMiB),
  rssMax: Math.max(...okRuns(t.key).map((x) => x.maxRssMiB)),
  p50: medOf(t.key, (x) => x.p50),
  p99: medOf(t.key, (x) => x.p99),
  user: medOf(t.key, (x) => x.userSec),
  sys: medOf(t.key, (x) => x.systemSec),
  serverBusy: medOf(t.key, (x) => x.serverCpuSec / x.wallSec),
  ratioRange: (() => { const xs = okRuns(t.key).map((x) => x.ratio).filter(Number.isFinite); return xs.length ? `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}` : 'n/a'; })(),
}]));
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const m = machineInfo();
const machineLine = `${m.model}, ${m.cores} cores (lscpu), Node ${m.node}, ${m.platform}`;
const when = new Date().toISOString();
const src = sourceState();

const loads = [...TOOLS.filter((t) => !t.emptyAs).flatMap((t) => empties[t.key]), ...rounds.flatMap((r) => TOOLS.map((t) => r[t.key]))].map((x) => x.load1);
const loadRange = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)})`;

// Comparison section
const has = (k) => TOOLS.some((t) => t.key === k);
const latencyCell = (t) => (t.key === 'artillery' ? t.reports : `${t.reports}: p50 ${f2(S[t.key].p50)} ms, p99 ${f2(S[t.key].p99)} ms`);
const mainTable = [
  '| client | CPU-s per 100k round trips (whole process) | after start-up | × bare client, same arrivals (whole) | × bare (after start-up) | Artillery ÷ this | round trips/s | peak RSS MiB | latency it reports |',
  '|---|---|---|---|---|---|---|---|---|',
  ...TOOLS.map((t) => {
    const s = S[t.key];
    return `| ${t.label} | ${f2(s.cpu100k)} | ${f2(s.cpu100kAfter)} | ${t.key === 'bare' ? '1' : `**${f2(s.ratio)}** (${s.ratioRange})${t.baseline === 'bareRamp' ? ' vs the 1 s ramp' : ''}`} | ${t.key === 'bare' ? '1' : f2(s.ratioAfter)} | ${has('artillery') ? f2(s.artOver) : 'n/a'} | ${f0(s.perSecond)} | ${f0(s.rss)} | ${latencyCell(t)} |`;
  }),
].join('\n');
const roundTable = [
  '| round | order | ' + TOOLS.map((t) => `${t.key}: CPU-s (user+sys) · per 100k · × bare · rt/s · MiB`).join(' | ') + ' |',
  '|---|---|' + TOOLS.map(() => '---').join('|') + '|',
  ...rounds.map((r, i) => `| ${i + 1} | ${r.order.join(' → ')} | ` + TOOLS.map((t) => {
    const x = r[t.key];
    if (!x.expected) return `INCOMPLETE (${x.roundTrips} rt${x.error ? `; ${x.error.slice(0, 80)}` : ''})`;
    return `${x.cpuSec.toFixed(2)} (${x.userSec.toFixed(2)}+${x.systemSec.toFixed(2)}) · ${x.cpu100k.toFixed(2)} · ${t.key === 'bare' ? '1' : x.ratio.toFixed(2)} · ${f0(x.perSecond)} · ${x.maxRssMiB.toFixed(0)}`;
  }).join(' | ') + ' |'),
].join('\n');
const verdict = (ok) => (ok ? 'met' : '**missed**');
const eff = ['stress', 'run'].filter(has).map((k) => `\`${k}\` ${f2(S[k].ratio)}× (${verdict(S[k].ratio <= 1.0)})`).join(', ');
const artLine = has('artillery')
  ? `Artillery's whole process ÷ wsload's on the same work (median of per-round ratios): \`stress\` ${f2(S.stress.artOver)}× (${verdict(S.stress.artOver >= 3)}), \`run\` on Artillery's own script (1 s ramp) ${f2(S.runRamp.artOver)}× (${verdict(S.runRamp.artOver >= 3)}) and with the users at once ${f2(S.run.artOver)}×, seed scenario ${f2(S.ymera.artOver)}×. Target ≥ 3×.`
  : `Artillery: ${artStatus} — the ≥ 3× target could not be checked in this run.`;
const compareText = `## Comparison: ${C} connections × ${M.toLocaleString('en-US')} round trips, bare client vs wsload vs Artillery

Command: \`npm run bench\` (this section: \`npm run bench:compare\`; BENCH_ROUNDS=${ROUNDS})
Machine: ${machineLine}. Source: ${src}. Measured: ${when}.
Server: one \`wsload serve ${SERVER_ARGS.join(' ')}\` for every run, pinned to core 0. Clients: one process per run, pinned to core 1 (\`taskset\`); wsload started as \`${wsloadCmd}\`, as \`wsload\` and \`npx wsload\` start it (the launcher's shebang is \`#!/usr/bin/env node\`, no node flags; it runs the esbuild bundle in dist/bundle/). CPU = user + system time of the client and everything it started, from the kernel via GNU time (\`/usr/bin/time\`, wait4; Artillery's worker thread is inside its process); peak RSS = the client process's own, from \`process.resourceUsage()\` at its exit (bench/measure.mjs, preloaded through NODE_OPTIONS). Node processes per client run: ${[...new Set(rounds.flatMap((r) => TOOLS.map((t) => `${t.key} ${r[t.key].processes}`)))].join(', ')}. Exit 3 (a default threshold crossed) is accepted when the report shows all the work done. Artillery: ${artStatus}; telemetry off (\`ARTILLERY_DISABLE_TELEMETRY=true\`).
**Machine load:** the 1-minute load average before each run was ${loadRange} (this bench's own server + client account for ≤ 2 on ${m.cores} cores; more means other work shared the cores, and absolute times and rates suffer; ratios within a round much less).
Rounds: ${ROUNDS}; in each, every client runs once, in an order that rotates round by round; ratios are taken within a round, then the median over rounds. A run that did not complete all its round trips is marked and left out.

The clients (all: ${C} connections/users, each a closed loop, the next message when the reply came):
${TOOLS.map((t) => `- **${t.label}**: \`${t.cmd}\`${t.note ? ` — ${t.note}` : ''}`).join('\n')}
- The seed scenario is \`scenarios/ymera.yml\` rewritten by the bench with fixed work: its flow and TypeScript processor unchanged, phases \`{duration: 1, arrivalCount: ${C}}\` and the loop count ${YMERA_LOOP} (not 20), so each user does ${ymera.perUser} round trips (subscribe ×2, ${YMERA_LOOP} × ping + agent message, unsubscribe, disconnect).
- \`bench/scripts/ping.yml\`: \`arrivalCount: ${C}\` over 1 s, each user a \`loop\` of ${M} \`send: {payload: {type: ping}, match: {json: "$.type", value: pong}}\`. Artillery sends \`{"type":"ping"}\` and takes the next message; wsload adds an \`id\` and matches the reply carrying it. \`bench/scripts/ping-at-once.yml\` is the same with the ${C} arrivals within 10 ms (Artillery refuses a phase under 1 s): a ramp costs any client more CPU per round trip (fewer connections busy at once, fewer messages per wake-up), so the efficiency target compares like with like — every connection open first, as the bare client does — and the Artillery ratio is taken on Artillery's own script.

"After start-up" subtracts the median CPU of the same tool's empty run (Start-up section). "Round trips/s": round trips ÷ the tool's own span (bare client: first handshake to last reply; wsload: its \`durationSec\`; Artillery: \`lastMetricAt − firstMetricAt\`); \`run\` on ping.yml, the seed scenario and Artillery spread the ${C} arrivals over 1 s; \`stress\`, the bare client and \`run\` on ping-at-once.yml open every connection first.

${mainTable}

Per round (client CPU-s, CPU-s per 100k, × the bare client of the same round, round trips/s, peak RSS):

${roundTable}

Median server CPU ÷ client wall time during the runs (1.0 = the one-core server saturated): ${TOOLS.map((t) => `${t.key} ${f2(S[t.key].serverBusy)}`).join(', ')}.

**Targets (issue 5).** Efficiency, \`stress\` and \`run\` ≤ 1.0× the bare client's CPU-s per 100k (whole process, medians of per-round ratios): ${eff}. After start-up: \`stress\` ${f2(S.stress.ratioAfter)}×, \`run\` ${f2(S.run.ratioAfter)}×. On Artillery's 1 s ramp, \`run\` costs ${f2(S.runRamp.ratio)}× the bare client on the same ramp (the ramped bare client itself: ${f2(S.bareRamp.ratio)}× its all-at-once loop). ${artLine}
`;

// Start-up section
const stTable = [
  '| empty run | command | runs | wall s (median) | wall min–max | CPU-s (median) | CPU-s min–max | peak RSS MiB |',
  '|---|---|---|---|---|---|---|---|',
  ...TOOLS.filter((t) => !t.emptyAs).map((t) => {
    const xs = okEmpty(t.key);
    const bad = empties[t.key].length - xs.length;
    const w = xs.map((x) => x.wallSec);
    const c = xs.map((x) => x.cpuSec);
    return `| ${t.label} | \`${t.emptyCmd}\` | ${xs.length}${bad ? ` (+${bad} incomplete)` : ''} | ${f2(median(w))} | ${f2(Math.min(...w))}–${f2(Math.max(...w))} | ${f2(median(c))} | ${f2(Math.min(...c))}–${f2(Math.max(...c))} | ${f0(medOrNaN(xs.map((x) => x.maxRssMiB)))} |`;
  }),
].join('\n');
const stOk = (k) => emptyWall[k] <= 0.5 && emptyCpu[k] <= 0.4;
const startupText = `## Start-up: an empty run (1 connection, 1 message)

Command: \`npm run bench\` (this section: \`npm run bench:compare\`; BENCH_STARTUP_RUNS=${STARTUP_RUNS}, BENCH_ARTILLERY_EMPTY_RUNS=${ART_EMPTY_RUNS})
Machine: ${machineLine}. Source: ${src}. Measured: ${when}. Same server and pinning as the comparison; the empty runs alternate tool by tool. Wall time is the parent's spawn-to-exit of the client process; CPU is the client's user + system. Each wsload command ran once before these (unmeasured): its first run after a build compiles the bundle and saves V8's code cache next to it (dist/bundle/*.cache), which every later run starts from. \`bench/scripts/empty.yml\` is one arrival in a 1 ms phase and one \`send\` + \`match\` ping (a 1 s phase would put a second of waiting into the wall time). The seed-scenario empty run is the same rewrite with 1 user and loop count 1 (6 round trips; it loads the TypeScript processor through tsx). Artillery refuses a fractional phase duration, so its empty run (\`bench/scripts/empty-artillery.yml\`) has a 1 s phase: about 1 s of its wall time is the phase.

${stTable}

**Target (issue 5): ≤ 0.5 s wall and ≤ 0.4 CPU-s.** \`stress\`: ${f2(emptyWall.stress)} s / ${f2(emptyCpu.stress)} CPU-s (${verdict(stOk('stress'))}); \`run\`: ${f2(emptyWall.run)} s / ${f2(emptyCpu.run)} CPU-s (${verdict(stOk('run'))}); seed scenario: ${f2(emptyWall.ymera)} s / ${f2(emptyCpu.ymera)} CPU-s.${has('artillery') ? ` Artillery: ${f2(emptyWall.artillery)} s / ${f2(emptyCpu.artillery)} CPU-s.` : ''} The bare client's own start-up: ${f2(emptyWall.bare)} s / ${f2(emptyCpu.bare)} CPU-s.
`;

// Memory section
const mh = (n, f) => median(memHarness[n].map(f));
const marginalKB = ((mh(5000, (j) => j.rssAfterMiB) - mh(1000, (j) => j.rssAfterMiB)) * 1024) / 4000;
const ms1 = median(memStress[1000].map((x) => x.maxRssMiB));
const ms5 = median(memStress[5000].map((x) => x.maxRssMiB));
const memText = `## Memory: peak RSS for ${C} × ${M.toLocaleString('en-US')}, and client memory per open connection

Command: \`npm run bench\` (this section: \`npm run bench:compare\`). Machine: ${machineLine}. Source: ${src}. Measured: ${when}.

**Peak RSS for ${C} connections × ${M.toLocaleString('en-US')} messages** (the comparison runs; median, max over rounds; target ≤ 80 MiB): ${TOOLS.map((t) => `${t.label} ${f0(S[t.key].rss)} MiB (max ${f0(S[t.key].rssMax)})`).join(' · ')}. \`stress\`: ${verdict(S.stress.rss <= 80)}; \`run\`: ${verdict(S.run.rss <= 80)}. For scale: an empty run already peaks at ${f0(median(empties.stress.map((x) => x.maxRssMiB)))} MiB (\`stress\`) and ${f0(median(empties.run.map((x) => x.maxRssMiB)))} MiB (\`run\`), the bare client's at ${f0(median(empties.bare.map((x) => x.maxRssMiB)))} MiB.

**Per open connection, client side.** \`bench/conn-memory.mjs\` (\`node --expose-gc bench/conn-memory.mjs --url URL -n N\`, core 1) opens N idle connections with wsload's own \`Connection\` class (dist/engine/connection.js: the \`ws\` socket, its handshake bookkeeping; no session state), 500 handshakes at a time, then after a forced GC reads RSS and heap against the same readings taken just before the first one opened (after one warm-up connection, so the code is already loaded). 3 runs per N, alternating; medians:

| N | opened | RSS before → after (MiB) | RSS delta ÷ N (KB) | JS heap delta ÷ N (KB) |
|---|---|---|---|---|
${[1000, 5000].map((n) => `| ${n.toLocaleString('en-US')} | ${mh(n, (j) => j.open)} | ${mh(n, (j) => j.rssBeforeMiB)} → ${mh(n, (j) => j.rssAfterMiB)} | ${f2(mh(n, (j) => j.rssKBPerConnection))} | ${f2(mh(n, (j) => j.heapKBPerConnection))} |`).join('\n')}

Marginal cost between 1,000 and 5,000 (the fixed part of the heap's growth cancels out): **${f2(marginalKB)} KB of RSS per open connection** (client side; the kernel's socket buffers are not in RSS).
Cross-check with the whole command: \`${wsloadCmd} stress -c N -m 0\` (every connection open at once, then the disconnects) peaks at ${f2(ms1)} MiB for 1,000 and ${f2(ms5)} MiB for 5,000: ${f2(((ms5 - ms1) * 1024) / 4000)} KB per connection of peak RSS, session state and handshake garbage included (medians of 3).
`;

const file = writeSections([
  { marker: '## Comparison', text: compareText },
  { marker: '## Start-up', text: startupText },
  { marker: '## Memory', text: memText },
]);
writeFileSync(join(tmp, 'compare-raw.json'), JSON.stringify({ empties, rounds, memHarness, memStress }, null, 1));
log(`raw figures: ${join(tmp, 'compare-raw.json')}`);
console.log('\n' + mainTable + '\n');
log(`wrote ${file}`);
