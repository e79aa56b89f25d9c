/**
 * Pure decisions of a distributed run, made before any process is started: how many worker
 * processes (docs/workers.md#how-many-workers), which source addresses, and each worker's share.
 * Every function here is deterministic and takes the machine's figures as arguments.
 */
import { isIPv4, isIP } from 'node:net';
import { usageError } from '../errors.js';
import { connectionsPerProcess, fdLimitError, portCount, sourcePortError, type PortRange } from './limits.js';

/** Below both of these a stress run stays in-process: forking costs more than it brings. */
export const STRESS_MIN_CONNECTIONS_FOR_WORKERS = 1000;
/** A script run whose busiest second plans fewer arrivals than this stays in-process. */
export const RUN_MIN_ARRIVALS_PER_SEC_FOR_WORKERS = 50;
/** The most processes wsload starts on its own to stay under the open-file limit. */
export const MAX_AUTO_WORKERS = 64;
/** Loopback targets: above this many connections towards one server address, source addresses are spread automatically. */
export const AUTO_LOCAL_ADDRESS_THRESHOLD = 20_000;
/**
 * Connections per automatic source address. Far below the ~28k ephemeral ports on purpose: a socket
 * bound to an address before connecting gets its port from a kernel search that slows down as that
 * address's ports fill up (TIME_WAIT from an earlier run included) — measured here: 5,000 connections
 * cost 9.3 CPU-s instead of 2.4 from two addresses holding 8,000 TIME_WAIT ports each.
 */
export const CONNECTIONS_PER_AUTO_ADDRESS = 2_000;
/** Longest address range `--local-address` accepts. */
export const MAX_LOCAL_ADDRESSES = 4096;

/** `total` split into `parts` whole shares differing by at most one, larger shares first. */
export function splitEvenly(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  const extra = total % parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

const ipv4ToInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const intToIpv4 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/**
 * `--local-address`: a comma list of addresses and IPv4 ranges (`127.0.0.1-127.0.0.8`, or
 * `127.0.0.1-8` for the last octet). Returns the addresses in order, duplicates removed.
 */
export function parseLocalAddresses(spec: string): string[] {
  const out: string[] = [];
  const problems: string[] = [];
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const dash = item.indexOf('-');
    if (dash < 0) {
      if (isIP(item) === 0) problems.push(`"${item}" is not an IP address`);
      else out.push(item);
      continue;
    }
    const from = item.slice(0, dash).trim();
    let to = item.slice(dash + 1).trim();
    if (/^\d{1,3}$/.test(to) && isIPv4(from)) to = `${from.slice(0, from.lastIndexOf('.'))}.${to}`;
    if (!isIPv4(from) || !isIPv4(to)) {
      problems.push(`"${item}" is not an IPv4 range (e.g. 127.0.0.1-127.0.0.8)`);
      continue;
    }
    const a = ipv4ToInt(from);
    const b = ipv4ToInt(to);
    if (b < a) problems.push(`"${item}": the range ends before it starts`);
    else if (b - a + 1 > MAX_LOCAL_ADDRESSES) problems.push(`"${item}": ${b - a + 1} addresses, at most ${MAX_LOCAL_ADDRESSES}`);
    else for (let n = a; n <= b; n++) out.push(intToIpv4(n));
  }
  if (problems.length === 0 && out.length === 0) problems.push('no address given');
  if (problems.length > 0) throw usageError(`--local-address: ${problems.join('; ')}`, 'give addresses or ranges, e.g. --local-address 127.0.0.1-127.0.0.8');
  return [...new Set(out)];
}

/** True for a `ws://`/`wss://` URL whose host is an IPv4 loopback literal (127.0.0.0/8). */
export function isLoopbackTarget(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return isIPv4(host) && host.startsWith('127.');
}

/** `host:port` of a URL, for messages. */
function destinationOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'wss:' ? '443' : '80')}`;
  } catch {
    return url;
  }
}

export interface StressPlanInput {
  connections: number;
  messages: number;
  batch: number;
  /** Targets: worker i connects to `targets[i % n]`. */
  targets: readonly string[];
  /** `--workers N` when given (honoured exactly); undefined: decide (docs/workers.md). */
  workers: number | undefined;
  /** Cores of this machine (`os.availableParallelism()`). */
  cores: number;
  /** Soft open-file limit per process; undefined when unknown (no check). */
  fdLimit: number | undefined;
  ports: PortRange;
  /** `--local-address` when given (an empty list counts as none). */
  localAddresses: readonly string[] | undefined;
  /** Whether 127.0.0.2… may be chosen for loopback targets (Linux routes all of 127/8 to lo; macOS does not). */
  autoLocalAddresses: boolean;
}

export interface WorkerShare {
  url: string;
  connections: number;
  batch: number;
  localAddresses: string[];
}

export interface StressPlan {
  /** 1 means in-process: no fork. */
  workers: number;
  shares: WorkerShare[];
  /** Source addresses used, [] for the OS's choice. */
  localAddresses: string[];
  /** Why this many workers, in a few words (for the start line and docs). */
  reason: string;
}

/**
 * Decide workers and shares for a stress run, or throw one WsloadError naming the limit that cannot
 * be met: the open-file limit per process, or the ephemeral ports per source address.
 */
export function planStress(input: StressPlanInput): StressPlan {
  const c = input.connections;
  const perProcess = input.fdLimit === undefined ? Number.POSITIVE_INFINITY : connectionsPerProcess(input.fdLimit);
  const needed = Math.max(1, Math.ceil(c / perProcess));
  let workers: number;
  let reason: string;
  if (input.workers !== undefined) {
    if (!Number.isInteger(input.workers) || input.workers < 1) throw usageError(`--workers must be an integer >= 1, got ${String(input.workers)}`);
    if (needed > input.workers) throw fdLimitError(c, input.fdLimit!, input.workers, true);
    workers = input.workers;
    reason = '--workers';
  } else {
    // Few connections: one process keeps up with them (the server is the bottleneck first), and a
    // fork costs start-up time and memory; messages per connection do not change that.
    const small = c < STRESS_MIN_CONNECTIONS_FOR_WORKERS;
    const base = small ? 1 : Math.max(1, input.cores);
    if (needed > MAX_AUTO_WORKERS) throw fdLimitError(c, input.fdLimit!, MAX_AUTO_WORKERS, false);
    workers = Math.max(base, needed);
    reason = needed > base ? `open-file limit ${input.fdLimit} per process` : small ? 'small run: in-process' : 'one per core';
  }
  workers = Math.max(1, Math.min(workers, c));

  const counts = splitEvenly(c, workers);
  const perDestination = new Map<string, number>();
  counts.forEach((n, i) => {
    const dest = destinationOf(input.targets[i % input.targets.length]!);
    perDestination.set(dest, (perDestination.get(dest) ?? 0) + n);
  });

  // Source addresses: given, or chosen for loopback targets when one address could run short.
  const addresses = sourceAddresses(input.localAddresses, input.autoLocalAddresses, Math.max(...perDestination.values()), c, workers,
    () => input.targets.every(isLoopbackTarget));

  const shares: WorkerShare[] = counts.map((n, i) => ({
    url: input.targets[i % input.targets.length]!,
    connections: n,
    batch: Math.max(1, Math.round((input.batch * n) / c)),
    localAddresses: addressSlice(addresses, i, workers),
  }));

  // Each (source address, server address) pair has one ephemeral range of ports.
  const ports = portCount(input.ports);
  const load = new Map<string, number>();
  for (const s of shares) {
    const dest = destinationOf(s.url);
    const sources = s.localAddresses.length > 0 ? s.localAddresses : ['(default)'];
    const each = splitEvenly(s.connections, sources.length);
    sources.forEach((src, j) => load.set(`${src} ${dest}`, (load.get(`${src} ${dest}`) ?? 0) + each[j]!));
  }
  for (const [key, n] of load) {
    if (n <= ports) continue;
    const dest = key.slice(key.indexOf(' ') + 1);
    const toDest = shares.filter((s) => destinationOf(s.url) === dest).reduce((sum, s) => sum + s.connections, 0);
    throw sourcePortError(toDest, dest, Math.max(1, addresses.length), input.ports);
  }
  return { workers, shares, localAddresses: addresses, reason };
}

/**
 * The source addresses of a run (stress or script): the given ones (an empty list is none); else, when
 * `auto` allows it, more than AUTO_LOCAL_ADDRESS_THRESHOLD connections go to one server address and the
 * targets are loopback, 127.0.0.1… one per CONNECTIONS_PER_AUTO_ADDRESS of `connections`, rounded up to a
 * whole slice per worker, at most 254; else [] (the OS's choice).
 */
function sourceAddresses(
  given: readonly string[] | undefined,
  auto: boolean | undefined,
  busiest: number,
  connections: number,
  workers: number,
  loopback: () => boolean,
): string[] {
  if (given !== undefined && given.length > 0) return [...given];
  if (auto !== true || busiest <= AUTO_LOCAL_ADDRESS_THRESHOLD || !loopback()) return [];
  let n = Math.ceil(connections / CONNECTIONS_PER_AUTO_ADDRESS);
  if (n > workers) n = Math.ceil(n / workers) * workers;
  n = Math.min(n, 254);
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}

/**
 * Worker i's source addresses: its own slice (every workers-th address) when there are enough,
 * else all of them starting at a different one, so the load stays even.
 */
export function addressSlice(addresses: readonly string[], worker: number, workers: number): string[] {
  const n = addresses.length;
  if (n === 0) return [];
  if (n >= workers) return addresses.filter((_, j) => j % workers === worker);
  const k = worker % n;
  return [...addresses.slice(k), ...addresses.slice(0, k)];
}

/**
 * How many users of a script run could be open at once: every arrival, unless phases set `maxVusers`.
 * A user of a capped phase starts only while fewer than its cap are active, so at any time at most
 * the largest cap plus the arrivals of uncapped phases are open.
 */
export function usersOpenAtOnce(phases: readonly { arrivals: number; maxVusers?: number | undefined }[]): number {
  let total = 0;
  let uncapped = 0;
  let largestCap = 0;
  for (const p of phases) {
    if (p.arrivals <= 0) continue;
    total += p.arrivals;
    if (p.maxVusers === undefined) uncapped += p.arrivals;
    else largestCap = Math.max(largestCap, p.maxVusers);
  }
  return Math.min(total, uncapped + largestCap);
}

export interface RunPlanInput {
  /** Planned arrivals in the busiest second (`max(plannedCounts(phases))`). */
  peakArrivalsPerSec: number;
  /** Planned arrivals in the whole plan. */
  arrivals: number;
  workers: number | undefined;
  cores: number;
  /** Users that could be open at once (`usersOpenAtOnce(compiled phases)`); default `arrivals`. */
  openAtOnce?: number;
  /** The plan's resolved `config.target` (undefined: each scenario's connect target, no automatic addresses). */
  target?: string | undefined;
  /** `--local-address` when given (an empty list counts as none). */
  localAddresses?: readonly string[] | undefined;
  /** Whether 127.0.0.2… may be chosen for a loopback target (Linux); default false. */
  autoLocalAddresses?: boolean;
}

export interface RunPlan {
  /** 1 means in-process: no fork. */
  workers: number;
  reason: string;
  /** Source addresses used, [] for the OS's choice; worker i binds `addressSlice(localAddresses, i, workers)`. */
  localAddresses: string[];
}

/**
 * Workers for a script run (the plan is split into execution segments, one per worker), and its
 * source addresses: given, or, for a loopback target on Linux with more than
 * AUTO_LOCAL_ADDRESS_THRESHOLD users open at once, 127.0.0.1… as a stress run chooses them.
 */
export function planRun(input: RunPlanInput): RunPlan {
  const { workers, reason } = runWorkers(input);
  const open = input.openAtOnce ?? input.arrivals;
  const target = input.target;
  const localAddresses = sourceAddresses(input.localAddresses, input.autoLocalAddresses, open, open, workers,
    () => target !== undefined && isLoopbackTarget(target));
  return { workers, reason, localAddresses };
}

function runWorkers(input: RunPlanInput): { workers: number; reason: string } {
  if (input.workers !== undefined) {
    if (!Number.isInteger(input.workers) || input.workers < 1) throw usageError(`--workers must be an integer >= 1, got ${String(input.workers)}`);
    return { workers: Math.max(1, Math.min(input.workers, input.arrivals)), reason: '--workers' };
  }
  if (input.peakArrivalsPerSec < RUN_MIN_ARRIVALS_PER_SEC_FOR_WORKERS) return { workers: 1, reason: 'small run: in-process' };
  return { workers: Math.max(1, Math.min(input.cores, input.arrivals)), reason: 'one per core' };
}
