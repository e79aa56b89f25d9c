/**
 * The operating-system limits that cap how many connections one machine can hold, read once before a
 * run, and the one-line messages that say which limit a plan would hit and how to raise it
 * (docs/workers.md#limits). Readers are Linux-first and return undefined where they cannot tell.
 */
import { readFileSync } from 'node:fs';
import { WsloadError } from '../errors.js';

/** File descriptors a process keeps for itself beside its sockets (stdio, IPC, epoll, libuv, modules). */
export const FD_RESERVE = 100;

/** Linux's default ephemeral range 32768–60999: 28,232 ports per source address towards one server address. */
export const DEFAULT_EPHEMERAL_PORTS = { low: 32768, high: 60999 } as const;

export interface OpenFileLimit {
  soft: number;
  /** `Infinity` for "unlimited". */
  hard: number;
}

export interface PortRange {
  low: number;
  high: number;
}

/** Ports in a range, both ends included. */
export const portCount = (r: PortRange): number => r.high - r.low + 1;

/**
 * The open-file limit of this process ("Max open files" in /proc/self/limits). Node raises its soft
 * limit to the hard one at start-up, so on Linux both are usually the same. Undefined off Linux.
 */
export function readOpenFileLimit(limitsText?: string): OpenFileLimit | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!m) return undefined;
  const num = (s: string): number => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: num(m[1]!), hard: num(m[2]!) };
}

/** The ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range), else Linux's default. */
export function readEphemeralPorts(rangeText?: string): PortRange {
  let text = rangeText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    } catch {
      return { ...DEFAULT_EPHEMERAL_PORTS };
    }
  }
  const m = /^\s*(\d+)\s+(\d+)/.exec(text);
  if (!m) return { ...DEFAULT_EPHEMERAL_PORTS };
  const low = Number(m[1]);
  const high = Number(m[2]);
  return high >= low ? { low, high } : { ...DEFAULT_EPHEMERAL_PORTS };
}

/** Connections one process can hold under an open-file limit. */
export function connectionsPerProcess(fdLimit: number): number {
  return Math.max(0, fdLimit - FD_RESERVE);
}

/**
 * The plan needs more processes than it may use. One line: what limit, the figures, how to raise it.
 * `allowed` is the number of processes the plan may use; `byFlag` says the user chose it (--workers).
 */
export function fdLimitMessage(connections: number, fdLimit: number, allowed: number, byFlag: boolean): string {
  const perProcess = connectionsPerProcess(fdLimit);
  const needed = perProcess > 0 ? Math.ceil(connections / perProcess) : Number.POSITIVE_INFINITY;
  const who = byFlag ? `--workers ${allowed} allows` : `${allowed} worker processes (the most wsload starts on its own) allow`;
  const more = byFlag && Number.isFinite(needed) ? `, use --workers ${needed} or more` : '';
  return (
    `cannot hold ${connections} connections: the open-file limit is ${fdLimit} per process (ulimit -n) ` +
    `and ${who} at most ${perProcess * allowed} — raise the limit (ulimit -n 65536)${more}, or open fewer connections`
  );
}

export function fdLimitError(connections: number, fdLimit: number, allowed: number, byFlag: boolean): WsloadError {
  return new WsloadError('WSLOAD_CONFIG', fdLimitMessage(connections, fdLimit, allowed, byFlag));
}

/** Too many connections from too few source addresses towards one server address. */
export function sourcePortMessage(connections: number, destination: string, sources: number, ports: PortRange): string {
  const perSource = portCount(ports);
  const needed = Math.ceil(connections / perSource);
  const from = sources === 1 ? '1 source address' : `${sources} source addresses`;
  return (
    `cannot open ${connections} connections to ${destination} from ${from}: each source address has ` +
    `${perSource} ephemeral ports (${ports.low}-${ports.high}) towards one server address — give ${needed} or more ` +
    `addresses of this machine with --local-address, or open fewer connections`
  );
}

export function sourcePortError(connections: number, destination: string, sources: number, ports: PortRange): WsloadError {
  return new WsloadError('WSLOAD_CONFIG', sourcePortMessage(connections, destination, sources, ports));
}
