/**
 * One clear line for what went wrong on the load side, with the fix: a connection that could not be
 * opened (DNS, TLS, a wrong path, a refused subprotocol…), a plan that needs more file descriptors
 * than the process may open, a target that went away mid-run. Pure (the limit is passed in).
 */
import { FD_RESERVE } from '../workers/limits.js';
import { TARGET_GONE_CLOSE_KINDS } from '../engine/target-watch.js';
import { UNREACHABLE_KINDS } from '../engine/connection.js';

export interface Diagnosis {
  /** What happened, for a human ("the host name x.invalid does not resolve"). */
  message: string;
  /** What to do about it. */
  hint?: string;
}

export interface DiagnoseContext {
  command: 'stress' | 'run';
  /** The URL the run connected to (or the first one a user rendered). */
  url: string | undefined;
}

function urlPart(url: string | undefined, part: 'pathname' | 'hostname' | 'protocol'): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url)[part];
  } catch {
    return undefined;
  }
}

/** OpenSSL's wording, made shorter where it is cryptic. */
function tlsReason(message: string): { reason: string; plainServer: boolean } {
  if (/wrong version number|packet length too long|unknown protocol/i.test(message)) {
    return { reason: 'the server does not speak TLS on this port', plainServer: true };
  }
  return { reason: message.replace(/^.*?:error:[0-9A-F]+:SSL routines:[^:]*:/i, '').trim() || message, plainServer: false };
}

/**
 * The first handshake failure of a run as one line. Undefined for kinds whose own label says
 * enough (a 503, a timeout), so callers keep their plain wording for them.
 */
export function diagnoseConnectFailure(kind: string, message: string, ctx: DiagnoseContext): Diagnosis | undefined {
  if (kind === 'dns_failure') {
    const host = urlPart(ctx.url, 'hostname');
    return { message: `the host name ${host ?? 'in the URL'} does not resolve (${message})`, hint: 'check the host name in the URL' };
  }
  if (kind === 'tls_error') {
    const { reason, plainServer } = tlsReason(message);
    if (plainServer) return { message: `TLS handshake failed: ${reason}`, hint: 'use ws:// instead of wss://' };
    const fix = ctx.command === 'run'
      ? 'use a trusted certificate or config.tls.rejectUnauthorized: false'
      : 'use a trusted certificate (NODE_EXTRA_CA_CERTS=ca.pem trusts your own CA)';
    return { message: `TLS handshake failed: ${reason}`, hint: fix };
  }
  if (kind === 'subprotocol_mismatch') {
    const fix = ctx.command === 'run'
      ? "offer one the server supports (config.ws.subprotocols, or the connect step's subprotocols)"
      : 'offer one the server supports';
    return { message: `the server did not accept the subprotocol offered (${message})`, hint: fix };
  }
  const status = /^handshake_rejected_(\d+)$/.exec(kind);
  if (status !== null) {
    const path = urlPart(ctx.url, 'pathname') ?? '/';
    switch (status[1]) {
      case '404':
        return { message: `the server answered 404 for ${path}`, hint: 'check the path (the reference server listens on /ws)' };
      case '401':
        return {
          message: `the server answered 401 (unauthorized) for ${path}`,
          hint: ctx.command === 'run' ? 'send its token: config.ws.headers Authorization: "Bearer …", or ?token= in the URL' : 'send its token: ?token=… in the URL',
        };
      case '403':
        return { message: `the server answered 403 (forbidden) for ${path}`, hint: 'is the Origin allowed, or the token right?' };
      default:
        return undefined;
    }
  }
  if (kind === 'connection_reset' && urlPart(ctx.url, 'protocol') === 'ws:') {
    return { message: `the connection was reset during the handshake (${message})`, hint: 'if the server expects TLS, use wss://' };
  }
  return undefined;
}

/** File descriptors a stress run of `connections` needs in one process (a socket each, plus the reserve). */
export function fdNeeded(connections: number): number {
  return connections + FD_RESERVE;
}

/**
 * Undefined when `connections` fit under the open-file limit `fdLimit` (soft, per process); else the
 * line refusing the run before a socket is opened. `workersFlag`: the command has `--workers`.
 */
export function checkFdBudget(connections: number, fdLimit: number | undefined, opts: { workersFlag?: boolean; serve?: boolean } = {}): string | undefined {
  if (fdLimit === undefined || !Number.isFinite(fdLimit)) return undefined;
  // With --serve the embedded server's end of each connection is a descriptor of this process too.
  const need = fdNeeded(opts.serve === true ? 2 * connections : connections);
  const workersFlag = opts.workersFlag === true;
  if (need <= fdLimit) return undefined;
  const most = Math.max(0, Math.floor((fdLimit - FD_RESERVE) / (opts.serve === true ? 2 : 1)));
  const alt = workersFlag ? ' or use --workers N to spread them over processes' : ` or open at most ${most} connections`;
  return `${connections} connections need about ${need} file descriptors but this process may open ${fdLimit} (ulimit -n): raise it with 'ulimit -n ${Math.max(65536, need)}'${alt}`;
}

/** The line after a run where connections failed for lack of file descriptors (EMFILE/ENFILE). */
export function fdLimitNote(failed: number, fdLimit: number | undefined): string {
  const limit = fdLimit !== undefined && Number.isFinite(fdLimit) ? ` (ulimit -n is ${fdLimit})` : '';
  return `${failed} connection${failed === 1 ? '' : 's'} failed: this process ran out of file descriptors${limit} — raise the limit with 'ulimit -n 65536', or open fewer connections per process`;
}

/** The kinds that say the target went away, with their counts, most frequent first ("connection_closed_1006: 8"). */
export function targetLostLine(errors: Readonly<Record<string, number>>, label: (kind: string) => string): string {
  const kinds = Object.entries(errors)
    .filter(([k]) => TARGET_GONE_CLOSE_KINDS.has(k) || UNREACHABLE_KINDS.has(k))
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${label(k)}: ${n}`);
  return `the target went away during the run${kinds.length > 0 ? ` (${kinds.join(', ')})` : ''}: the figures cover only the part before it, the report is marked partial`;
}
