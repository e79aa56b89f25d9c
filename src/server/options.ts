/**
 * The reference server's options: the public shape, the defaults (shared with the CLI so flag defaults
 * cannot drift), and their validation into one immutable resolved plan. Every problem is reported at once.
 */
import { WsloadError } from '../errors.js';


/**
 * `serve --workers N --balance`: who accepts new connections (src/server/cluster.ts). Here, not there, so
 * that the CLI can list the choices without loading the cluster module.
 */
export type ClusterBalance = 'round-robin' | 'kernel';
export const CLUSTER_BALANCES: readonly ClusterBalance[] = ['round-robin', 'kernel'];

export interface ServerOptions {
  /** Interface to listen on; default '127.0.0.1'. */
  host?: string;
  /** Default 8000; 0 picks a free port (read it back from `RunningServer.port`). */
  port?: number;
  /** WebSocket endpoint path; default '/ws'. Upgrades on other paths get HTTP 404. */
  path?: string;
  /** Largest accepted frame in bytes, default 1 MiB; a bigger one closes the connection with 1009. */
  maxPayload?: number;
  /** Ping idle peers every N ms and terminate ones that did not pong since the last round; default 30000; 0 = off. */
  heartbeatMs?: number;
  /** How long `close()` waits for clients to finish the close handshake before terminating them; default 5000. */
  shutdownTimeoutMs?: number;
  /** Fixed delay before each frame is handled (and so before every reply), for demos and latency tests; default 0. */
  replyDelayMs?: number;
  /** Where diagnostics go (connection errors, heartbeat terminations, shutdown); default: nowhere. */
  log?: (line: string) => void;

  /** Open WebSocket connections accepted at once; further handshakes get HTTP 503. Default 10000. */
  maxConnections?: number;
  /** Channels one connection may be subscribed to; more → `too_many_subscriptions`. Default 1000. */
  maxSubscriptions?: number;
  /** Longest channel name in UTF-16 code units; longer → `channel_too_long`. Default 256. */
  maxChannelLength?: number;
  /**
   * Messages per second per connection (token bucket, burst = one second's worth). Over it a message is
   * dropped with a `rate_limited` error; still over it 2 s later, the connection is closed with 1008.
   * Default 10000; 0 = off.
   */
  rateLimit?: number;
  /** A peer with more than this many bytes queued for it is closed with 1013. Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Whole time a client has to send its HTTP request (upgrade or not), and the TLS handshake; default 10000 ms. */
  handshakeTimeoutMs?: number;
  /** Close a connection that sent no message for N ms with 1001 'idle timeout'; default 300000; 0 = off. */
  idleTimeoutMs?: number;
  /** When set, handshakes (and /metrics) need `Authorization: Bearer <token>` or `?token=<token>`; else 401. */
  authToken?: string;
  /** When non-empty, a handshake whose `Origin` header is not in the list gets 403 (no Origin header is allowed). */
  allowedOrigins?: readonly string[];
  /** PEM certificate and key: serve https/wss instead of http/ws. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Serve Prometheus metrics on /metrics and time every reply; default true. */
  metrics?: boolean;
}

/** The defaults, exported so the CLI's flag defaults cannot drift from the library's. */
export const SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8000,
  path: '/ws',
  maxPayload: 1_048_576,
  heartbeatMs: 30_000,
  shutdownTimeoutMs: 5_000,
  replyDelayMs: 0,
  maxConnections: 10_000,
  maxSubscriptions: 1_000,
  maxChannelLength: 256,
  rateLimit: 10_000,
  maxBufferedBytes: 4_194_304,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
} as const;

/** Options after defaults and validation; what the server runs on. */
export interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly maxPayload: number;
  readonly heartbeatMs: number;
  readonly shutdownTimeoutMs: number;
  readonly replyDelayMs: number;
  readonly log: ((line: string) => void) | undefined;
  readonly maxConnections: number;
  readonly maxSubscriptions: number;
  readonly maxChannelLength: number;
  readonly rateLimit: number;
  readonly maxBufferedBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly authToken: string | undefined;
  /** Normalized with `new URL(o).origin`. */
  readonly allowedOrigins: ReadonlySet<string>;
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
  readonly metrics: boolean;
}

/** Node clamps longer timer delays to 1 ms, which would turn a typo into a ping storm. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Apply defaults and validate. Throws one `WsloadError('WSLOAD_CONFIG')` naming every bad option,
 * separated by '; ', so a user fixes them in one go.
 */
export function resolveOptions(opts: ServerOptions): ResolvedOptions {
  const problems: string[] = [];
  const d = SERVER_DEFAULTS;
  const r = {
    host: opts.host ?? d.host,
    port: opts.port ?? d.port,
    path: opts.path ?? d.path,
    maxPayload: opts.maxPayload ?? d.maxPayload,
    heartbeatMs: opts.heartbeatMs ?? d.heartbeatMs,
    shutdownTimeoutMs: opts.shutdownTimeoutMs ?? d.shutdownTimeoutMs,
    replyDelayMs: opts.replyDelayMs ?? d.replyDelayMs,
    log: opts.log,
    maxConnections: opts.maxConnections ?? d.maxConnections,
    maxSubscriptions: opts.maxSubscriptions ?? d.maxSubscriptions,
    maxChannelLength: opts.maxChannelLength ?? d.maxChannelLength,
    rateLimit: opts.rateLimit ?? d.rateLimit,
    maxBufferedBytes: opts.maxBufferedBytes ?? d.maxBufferedBytes,
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? d.handshakeTimeoutMs,
    idleTimeoutMs: opts.idleTimeoutMs ?? d.idleTimeoutMs,
    authToken: opts.authToken,
    allowedOrigins: normalizeOrigins(opts.allowedOrigins ?? [], problems),
    tls: opts.tls,
    metrics: opts.metrics ?? true,
  };

  if (typeof r.host !== 'string' || r.host === '') problems.push(`host must be a non-empty string, got ${JSON.stringify(r.host)}`);
  if (!Number.isInteger(r.port) || r.port < 0 || r.port > 65535) problems.push(`port must be an integer 0-65535, got ${String(r.port)}`);
  if (typeof r.path !== 'string' || !r.path.startsWith('/') || r.path.includes('?') || r.path.includes('#')) {
    problems.push(`path must start with "/" and have no query or fragment, got ${JSON.stringify(r.path)}`);
  }
  for (const [name, value] of [
    ['maxPayload', r.maxPayload], ['maxConnections', r.maxConnections], ['maxSubscriptions', r.maxSubscriptions],
    ['maxChannelLength', r.maxChannelLength], ['maxBufferedBytes', r.maxBufferedBytes],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) problems.push(`${name} must be a positive integer, got ${String(value)}`);
  }
  if (!Number.isFinite(r.rateLimit) || r.rateLimit < 0) problems.push(`rateLimit must be a number of messages per second >= 0 (0 = off), got ${String(r.rateLimit)}`);
  for (const [name, value] of [
    ['heartbeatMs', r.heartbeatMs], ['shutdownTimeoutMs', r.shutdownTimeoutMs], ['replyDelayMs', r.replyDelayMs], ['idleTimeoutMs', r.idleTimeoutMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) problems.push(`${name} must be a number of ms between 0 and ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  if (!Number.isFinite(r.handshakeTimeoutMs) || r.handshakeTimeoutMs < 1 || r.handshakeTimeoutMs > MAX_TIMER_MS) {
    problems.push(`handshakeTimeoutMs must be a number of ms between 1 and ${MAX_TIMER_MS}, got ${String(r.handshakeTimeoutMs)}`);
  }
  if (r.authToken !== undefined && (typeof r.authToken !== 'string' || r.authToken === '')) {
    problems.push('authToken must be a non-empty string when set');
  }
  if (r.tls !== undefined && (!isPem(r.tls.cert) || !isPem(r.tls.key))) {
    problems.push('tls needs both cert and key as non-empty PEM strings or Buffers');
  }
  if (problems.length > 0) throw new WsloadError('WSLOAD_CONFIG', problems.join('; '));
  return r;
}

function isPem(value: unknown): boolean {
  return (typeof value === 'string' || Buffer.isBuffer(value)) && value.length > 0;
}

/**
 * Normalize each allowed origin to its serialization (`https://app.example.com`, default port dropped),
 * which is exactly what browsers send in the Origin header.
 */
function normalizeOrigins(origins: readonly string[], problems: string[]): ReadonlySet<string> {
  const set = new Set<string>();
  for (const raw of origins) {
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
      problems.push(`allowed origin must be scheme://host[:port] with http or https, got ${JSON.stringify(raw)}`);
      continue;
    }
    set.add(url.origin);
  }
  return set;
}
