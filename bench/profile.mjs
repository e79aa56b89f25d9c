// `npm run bench:profile` (also part of `npm run bench`): where the client's CPU goes. One run each of
// the bare client, `wsload stress` and `wsload run` (ping script), 100 × 1,000 against the reference
// server (core 0), the client on core 1 under `node --cpu-prof`; plus an empty `stress` run (start-up).
// Summarises each .cpuprofile: self time by function and by module/package. Writes the "Profile"
// section of bench/RESULTS.md. The profiles stay in the printed temporary folder for DevTools.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { bin, machineInfo, root, runMeasured, sourceState, startServer, tmp, writeSections } from './lib.mjs';

const C = 100;
const M = 1000;
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 12);
const SERVER_ARGS = ['--quiet', '--rate-limit', '0', '--heartbeat', '0', '--max-connections', '50000'];
const profDir = join(tmp, 'profiles');

const CASES = [
  { key: 'bare', label: 'bare `ws` client, 100 × 1,000', args: (url) => [join(root, 'bench', 'bare-client.mjs'), '--url', url, '-c', String(C), '-m', String(M)] },
  { key: 'stress', label: '`wsload stress -c 100 -m 1000 --mix ping`', args: (url) => [bin, 'stress', '--url', url, '-c', String(C), '-m', String(M), '--mix', 'ping', '--quiet', '--json', join(tmp, 'p-stress.json')] },
  { key: 'run', label: '`wsload run bench/scripts/ping.yml` (100 × 1,000)', args: (url) => [bin, 'run', join(root, 'bench', 'scripts', 'ping.yml'), '-t', url, '--quiet', '--json', join(tmp, 'p-run.json')] },
  { key: 'startup', label: 'empty `wsload stress -c 1 -m 1` (start-up)', args: (url) => [bin, 'stress', '--url', url, '-c', '1', '-m', '1', '--quiet', '--json', join(tmp, 'p-empty.json')] },
];

/** Self time per node id, from the sample stream (µs), and the nodes by id. */
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the gap after a sample to that sample.
    const dt = timeDeltas[i + 1] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  return { byId, self };
}

/** Where a frame's code lives: wsload's dist file, a package, a Node module, or V8's own buckets. */
function groupOf(frame) {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : `native ${functionName || '(anonymous)'}`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').replace(/\/.*$/, (s) => (s.split('/').length > 2 ? s.split('/').slice(0, 2).join('/') : s));
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return `pkg ${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const d = url.indexOf('/dist/');
  if (d >= 0) return `wsload dist/${url.slice(d + 6)}`;
  const b = url.indexOf('/bench/');
  if (b >= 0) return `bench/${url.slice(b + 7)}`;
  return url.replace(/^file:\/\//, '');
}
const shortUrl = (url) => {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 14);
  for (const p of ['/dist/', '/bench/']) { const i = url.indexOf(p); if (i >= 0) return url.slice(i + 1); }
  return url.replace(/^file:\/\//, '');
};

function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const { byId, self } = selfTimes(profile);
  const fn = new Map();
  const grp = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const f = byId.get(id).callFrame;
    if (f.functionName === '(idle)') { idle += us; continue; }
    total += us;
    const k = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fn.set(k, (fn.get(k) ?? 0) + us);
    const g = groupOf(f);
    grp.set(g, (grp.get(g) ?? 0) + us);
  }
  const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k, us]) => ({ k, ms: us / 1000, pct: (100 * us) / total }));
  // Inclusive time of the project's own functions (dist/ and bench/): each sample counts once for every
  // distinct project function on its stack.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const own = (url) => url.startsWith(`file://${root}/dist/`) || url.startsWith(`file://${root}/bench/`);
  const incl = new Map();
  for (const [id, us] of self) {
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    const seen = new Set();
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x).callFrame;
      if (!own(f.url)) continue;
      const k = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  return { totalMs: total / 1000, idleMs: idle / 1000, functions: top(fn), groups: top(grp), inclusive: top(incl) };
}

const server = await startServer(SERVER_ARGS);
const results = [];
try {
  for (const c of CASES) {
    const name = `${c.key}.cpuprofile`;
    const r = await runMeasured(['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', name, ...c.args(server.url)]);
    if (r.code !== 0) throw new Error(`${c.key} exited ${r.code}: ${r.stderr}`);
    const s = summarise(join(profDir, name));
    results.push({ ...c, r, s });
    console.log(`${c.key}: CPU ${r.cpuSec.toFixed(2)} s (user ${r.userSec.toFixed(2)}, sys ${r.systemSec.toFixed(2)}), main-thread samples ${s.totalMs.toFixed(0)} ms busy`);
    for (const g of s.groups.slice(0, 6)) console.log(`   ${g.pct.toFixed(1).padStart(5)}%  ${g.k}`);
  }
} finally {
  await server.stop();
}
console.log(`profiles: ${profDir} (${readdirSync(profDir).join(', ')})`);

const m = machineInfo();
const table = (rows) => ['| self ms | % of busy | where |', '|---|---|---|', ...rows.map((x) => `| ${x.ms.toFixed(0)} | ${x.pct.toFixed(1)} | \`${x.k.replace(/\|/g, '\\|')}\` |`)].join('\n');
const text = `## Profile: where the client's CPU goes (\`node --cpu-prof\`, one run each)

Command: \`npm run bench:profile\` (also run by \`npm run bench\`). Machine: ${m.model}, ${m.cores} cores, Node ${m.node}; ${sourceState()}. Measured: ${new Date().toISOString()}; 1-minute load average ${loadavg()[0].toFixed(1)} at the end.
Server \`wsload serve ${SERVER_ARGS.join(' ')}\` on core 0; each client on core 1 as \`node --cpu-prof --cpu-prof-dir DIR <client>\`. Self time is summed from the profile's samples on the main thread (V8's sampler, ~1 ms); "busy" excludes \`(idle)\`. System time spent inside a syscall is charged to the JS or native frame that made it; \`(program)\` is native code outside JS (libuv, the syscalls' surroundings), \`(garbage collector)\` is GC on the main thread. The profiler itself adds some CPU: compare shares, not totals, with the Comparison section.

${results.map(({ label, r, s }) => `### ${label}

Process CPU ${r.cpuSec.toFixed(2)} s (user ${r.userSec.toFixed(2)}, system ${r.systemSec.toFixed(2)}); main thread busy ${s.totalMs.toFixed(0)} ms in the samples.

By module / package:

${table(s.groups)}

Top functions by self time:

${table(s.functions)}

The project's own functions by inclusive time (self + what they call):

${table(s.inclusive)}
`).join('\n')}`;
console.log(`wrote ${writeSections([{ marker: '## Profile', text }])}`);
