// Shared helpers for the benchmarks: start the reference server in its own process pinned to one core,
// run a client pinned to the other, read CPU and memory of each. Loopback only; every child is killed
// by its own pid when the bench ends.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bin = join(root, 'bin', 'wsload.js');
/**
 * The node flags bin/wsload.js's shebang (`#!/usr/bin/env -S node …`) gives wsload when a user runs
 * it (`wsload …`, `npx wsload …`): `runMeasured` passes them to every wsload client it starts, so the
 * bench measures wsload as users run it, under the bench's own node (`process.execPath`).
 */
export const binNodeFlags = (/^#!\S*env -S \S*node\b(.*)$/.exec(readFileSync(bin, 'utf8').split('\n', 1)[0])?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
/** How the method lines name a wsload client's launch: `node bin/wsload.js`, with the shebang's node flags if it has any. */
export const wsloadCmd = ['node', ...binNodeFlags, 'bin/wsload.js'].join(' ');
export const measure = join(root, 'bench', 'measure.mjs');
export const tmp = mkdtempSync(join(tmpdir(), 'wsload-bench-'));
const twoCores = cpus().length >= 2;

/** Prefix a command with taskset when the machine has a core to spare. */
export function pinned(core, cmd, args) {
  return twoCores ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

/**
 * Start `wsload serve --port 0`, on core 0 unless `pin: false` (several servers sharing the cores);
 * resolves with its URL, pid and a stop function.
 */
export async function startServer(extra = [], { pin = true } = {}) {
  const serve = [bin, 'serve', '--port', '0', ...extra];
  const [cmd, args] = pin ? pinned(0, process.execPath, serve) : [process.execPath, serve];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 10 s')), 10_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /ws:\/\/[^\s]+/.exec(buf);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited early (${code})`)); });
  });
  return {
    url,
    pid: child.pid,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }),
  };
}

let seq = 0;
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/**
 * Run a node script on core 1 with the usage probe; resolves with wall time, CPU, memory and stdout.
 *
 * CPU is the whole client: under GNU time (when installed) the kernel's user + system time of the
 * client and every process it started and waited for (wait4), else the sum of the probe's lines.
 * The probe (bench/measure.mjs, preloaded through NODE_OPTIONS so that forked Node processes load it
 * too) gives peak RSS per process: `maxRssMiB` is the client process's own peak, `rssSumMiB` the sum
 * of every process's peak, `processes` how many Node processes reported.
 */
export async function runMeasured(scriptArgs, { env = {}, core = 1, timeoutMs = 120_000 } = {}) {
  const usageFile = join(tmp, `usage-${process.pid}-${seq}.json`);
  const timeFile = join(tmp, `time-${process.pid}-${seq++}.txt`);
  // A wsload client gets its launcher's node flags, placed before the script as the shebang does.
  const at = scriptArgs.indexOf(bin);
  const nodeArgs = at < 0 ? scriptArgs : [...scriptArgs.slice(0, at), ...binNodeFlags, ...scriptArgs.slice(at)];
  const [pcmd, pargs] = pinned(core, process.execPath, nodeArgs);
  const [cmd, args] = gnuTime ? [gnuTime, ['-f', '%e %U %S %M', '-o', timeFile, pcmd, ...pargs]] : [pcmd, pargs];
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --import=${measure}`.trim();
  const t0 = process.hrtime.bigint();
  // Its own process group, so that a run past its bound is killed with everything it started.
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, NODE_OPTIONS: nodeOptions, WSLOAD_BENCH_USAGE: usageFile } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  // Every run is bounded: past timeoutMs the child's process group is killed and the run reports it.
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
  }, timeoutMs);
  const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? sig)));
  clearTimeout(killer);
  if (timedOut) stderr += `\n[bench] killed after ${timeoutMs} ms`;
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
  let usage = { cpuSec: NaN, userSec: NaN, systemSec: NaN, maxRssMiB: NaN, rssSumMiB: NaN, processes: 0, probeCpuSec: NaN };
  try {
    const lines = readFileSync(usageFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const main = lines.find((l) => !lines.some((o) => o.pid === l.ppid)) ?? lines[0];
    const sum = (k) => lines.reduce((a, l) => a + l[k], 0);
    usage = { cpuSec: sum('cpuSec'), userSec: sum('userSec'), systemSec: sum('systemSec'), maxRssMiB: main.maxRssMiB, rssSumMiB: sum('maxRssMiB'), processes: lines.length, probeCpuSec: sum('cpuSec') };
  } catch { /* the client died before its exit hook */ }
  if (gnuTime) {
    try {
      // The last line: GNU time puts "Command exited with non-zero status N" before it.
      const [, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
      if (Number.isFinite(user) && Number.isFinite(sys)) Object.assign(usage, { userSec: user, systemSec: sys, cpuSec: user + sys });
    } catch { /* killed before GNU time wrote */ }
  }
  return { code, wallSec, ...usage, stdout, stderr };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function machine() {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? 'cpu'}, Node ${process.version}, ${process.platform} ${process.arch}`;
}

/** The machine as lscpu names it, its cores, and Node's version (for the results' headers). */
export function machineInfo() {
  let model = cpus()[0]?.model ?? 'unknown cpu';
  try {
    const out = execFileSync('lscpu', { encoding: 'utf8' });
    const m = /^Model name:\s*(.+)$/m.exec(out);
    if (m) model = m[1].trim();
  } catch { /* no lscpu: os.cpus() model */ }
  return { model, cores: cpus().length, node: process.version, platform: `${process.platform} ${process.arch}` };
}

/** `HEAD` and whether src/ has uncommitted changes (others edit it while the bench runs). */
export function sourceState() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return `commit ${head}${dirty ? ` + uncommitted changes in src/ (${dirty.split('\n').length} files), as built by \`npm run build\`` : ''}`;
  } catch {
    return 'unknown commit';
  }
}

/** Section order in bench/RESULTS.md, by the start of their heading. */
const SECTION_ORDER = ['## Reading', '## Comparison', '## Start-up', '## Memory', '## Connections', '## Arrival accuracy', '## Profile', '## stress: '];
const RESULTS_HEADER = '# Benchmark results\n\nFigures measured on this project\'s machine; the machine is noisy (runs drift up to ~2× over an hour), so read medians and ratios, not single numbers. Each section is rewritten by the command it names.\n\n';

/**
 * Replace (or add) sections of bench/RESULTS.md, each starting with `## <heading>`; `marker` is the
 * start of the heading that identifies it. Other sections are kept; sections are kept in SECTION_ORDER.
 */
export function writeSections(sections) {
  const file = join(root, 'bench', 'RESULTS.md');
  let existing = '';
  try { existing = readFileSync(file, 'utf8'); } catch { /* first run */ }
  const start = existing.indexOf('\n## ');
  const old = start < 0 ? [] : existing.slice(start + 1).split(/\n(?=## )/).filter((s) => s.trim());
  const kept = old.filter((s) => !sections.some(({ marker }) => s.startsWith(marker)));
  const all = [...kept, ...sections.map(({ text }) => text)];
  const rank = (s) => { const i = SECTION_ORDER.findIndex((m) => s.startsWith(m)); return i < 0 ? SECTION_ORDER.length : i; };
  all.sort((a, b) => rank(a) - rank(b));
  writeFileSync(file, RESULTS_HEADER + all.map((s) => s.trimEnd() + '\n').join('\n'));
  return file;
}

/** CPU seconds a running process has used so far, from /proc (NaN where there is no /proc). */
export function procCpuSec(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}
let CLK_TCK = 100;
try { CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { /* default */ }
