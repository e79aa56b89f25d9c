/**
 * `wsload serve`: run the reference server in the foreground until SIGINT/SIGTERM (docs/serve.md).
 * Flags are validated here into numbers and file contents; the server library validates again for
 * library callers.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { usageError, WsloadError } from '../../errors.js';
import { CLUSTER_BALANCES, SERVER_DEFAULTS, type ClusterBalance, type ServerOptions } from '../../server/options.js';
import type { CliContext } from '../context.js';

/** Environment variable read for the token when --auth-token is not given (keeps it out of `ps`). */
export const AUTH_TOKEN_ENV = 'WSLOAD_AUTH_TOKEN';

/** The server library, imported when the command runs. */
type ServerModule = typeof import('../../server/index.js');

/** Raw flag values as commander hands them over; numbers are parsed in the action. */
interface ServeFlags {
  host: string;
  port: string;
  path: string;
  maxPayload: string;
  heartbeat: string;
  replyDelay: string;
  maxConnections: string;
  maxSubscriptions: string;
  maxChannelLength: string;
  rateLimit: string;
  maxBufferedBytes: string;
  handshakeTimeout: string;
  idleTimeout: string;
  authToken?: string;
  allowedOrigin: string[];
  tlsCert?: string;
  tlsKey?: string;
  metrics: boolean;
  quiet?: boolean;
  workers: string;
  balance: ClusterBalance;
}

const MAX_MS = 2_147_483_647;
/** Upper bound for --workers: a typo should not fork thousands of processes. */
const MAX_WORKERS = 256;

const EXAMPLES = `
Examples:
  $ wsload serve                                  listen on ws://127.0.0.1:8000/ws (health: /healthz, metrics: /metrics)
  $ wsload serve --port 0 --quiet                 a free port; the first line of output has the URL
  $ wsload serve --reply-delay 50 --heartbeat 0   answer every message 50 ms late, never ping
  $ wsload serve --rate-limit 0 --max-connections 50000
                                                  a benchmark target: no per-connection rate limit, more sockets
  $ wsload serve --workers auto --rate-limit 0 --max-connections 50000
                                                  one process per core on one port (each has its own open-file limit)
  $ wsload serve --workers 4 --balance kernel --rate-limit 0 --max-connections 76000
                                                  a connection-rate target: workers accept themselves (leave headroom)
  $ WSLOAD_AUTH_TOKEN=s3cret wsload serve --allowed-origin https://app.example.com
                                                  require "Authorization: Bearer s3cret" (or ?token=s3cret)
  $ wsload serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem
                                                  wss:// on every interface
  $ curl -s http://127.0.0.1:8000/metrics         Prometheus metrics

Limits answer with a code, never silently: handshake 401/403/408/503, error reply too_many_subscriptions,
channel_too_long or rate_limited, close 1008 (still over the rate limit after 2 s), 1009 (frame too big),
1013 (not reading: more than --max-buffered-bytes queued), 1001 'idle timeout'.
Stop it with Ctrl-C or SIGTERM: open connections are closed with 1001 and the command exits 0.
Protocol: docs/protocol.md   Command: docs/serve.md`;

export function register(program: Command, ctx: CliContext): void {
  const d = SERVER_DEFAULTS;
  program
    .command('serve')
    .description('run the reference WebSocket server: the wsload protocol, a target for demos and load tests')
    .option('--host <host>', 'interface to listen on', d.host)
    .option('--port <n>', 'port to listen on; 0 picks a free one', String(d.port))
    .option('--path <p>', 'WebSocket endpoint path', d.path)
    .option('--max-payload <bytes>', 'largest accepted frame; bigger ones close the connection with 1009', String(d.maxPayload))
    .option('--heartbeat <ms>', 'ping every N ms and drop peers that missed the last pong; 0 = off', String(d.heartbeatMs))
    .option('--reply-delay <ms>', 'wait this long before handling each message (simulated server latency)', String(d.replyDelayMs))
    .option('--max-connections <n>', 'open connections at once; further handshakes get HTTP 503', String(d.maxConnections))
    .option('--max-subscriptions <n>', 'channels per connection; more get error too_many_subscriptions', String(d.maxSubscriptions))
    .option('--max-channel-length <n>', 'longest channel name (UTF-16 code units); longer get error channel_too_long', String(d.maxChannelLength))
    .option('--rate-limit <msgs/s>', 'messages per second per connection (burst: one second\'s worth); over it error rate_limited, still over it after 2 s close 1008; 0 = off', String(d.rateLimit))
    .option('--max-buffered-bytes <bytes>', 'bytes queued for a peer that is not reading before it is closed with 1013', String(d.maxBufferedBytes))
    .option('--handshake-timeout <ms>', 'time to send the whole HTTP upgrade request (and the TLS handshake); then HTTP 408', String(d.handshakeTimeoutMs))
    .option('--idle-timeout <ms>', 'close connections that sent no message for N ms with 1001 "idle timeout"; 0 = off', String(d.idleTimeoutMs))
    .option('--auth-token <token>', `require "Authorization: Bearer <token>" or ?token=<token> on the handshake and /metrics, else HTTP 401 (env ${AUTH_TOKEN_ENV})`)
    .addOption(new Option('--allowed-origin <origin>', 'allow browser handshakes only from this Origin, else HTTP 403; repeat it or give a comma list')
      .argParser(collect).default([], 'any origin'))
    .option('--tls-cert <file>', 'PEM certificate: serve wss:// and https:// (needs --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--no-metrics', 'do not serve /metrics nor time replies')
    .option('--workers <n|auto>', 'worker processes sharing the port (node:cluster); auto = one per core; 1 = a single process', '1')
    .addOption(new Option('--balance <mode>', 'with --workers: who accepts connections — round-robin (the primary hands each to the next worker: even) or kernel (each worker accepts itself: ~40% less server CPU per new connection, uneven spread)').choices(CLUSTER_BALANCES).default(CLUSTER_BALANCES[0]))
    .option('--quiet', 'do not log connection errors, heartbeat terminations or shutdown details to stderr')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: ServeFlags) => {
      await runServe(flags, ctx);
    });
}

/** Commander accumulator for a repeatable, comma-separable flag. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter((s) => s !== '')];
}

/** Start the server, print where it listens, and close it on the first signal. */
async function runServe(flags: ServeFlags, ctx: CliContext): Promise<void> {
  // The server (ws, prom-client) is loaded when it starts; registering the command loads only its defaults.
  const { resolveWorkers, startClusterServer, startServer } = await import('../../server/index.js');
  const options = serverOptions(flags, ctx.env);
  const workers = workersFlag(flags.workers, resolveWorkers);
  const toStderr = (line: string): void => { ctx.stderr.write(`${line}\n`); };
  if (workers > 1) {
    await runCluster(startClusterServer, options, workers, flags, ctx, toStderr);
    return;
  }
  const server = await startServer({ ...options, ...(flags.quiet ? {} : { log: toStderr }) });
  // Always printed, --quiet or not: scripts read the URL from this line (with --port 0 it is the only way).
  ctx.stdout.write(`wsload reference server listening on ${server.url} (health: ${server.healthUrl})\n`);
  await ctx.interrupted;
  ctx.stdout.write('shutting down…\n');
  // Bounded: close() terminates stragglers after its shutdown timeout.
  await server.close();
}

/**
 * `--workers N` with N > 1: the cluster primary. Same two stdout lines as a single process (the first
 * names the worker count after the URLs). Worker deaths and restarts go to stderr even with --quiet.
 * Exits 1 if workers keep dying (the cluster gave up).
 */
async function runCluster(startClusterServer: ServerModule['startClusterServer'], options: ServerOptions, workers: number, flags: ServeFlags, ctx: CliContext, toStderr: (line: string) => void): Promise<void> {
  const maxConnections = options.maxConnections ?? SERVER_DEFAULTS.maxConnections;
  if (maxConnections < workers) {
    throw usageError(`--max-connections (${maxConnections}) must be at least --workers (${workers}): the limit is split between the workers`);
  }
  const server = await startClusterServer({ ...options, workers, balance: flags.balance, notice: toStderr, ...(flags.quiet ? {} : { log: toStderr }) });
  ctx.stdout.write(`wsload reference server listening on ${server.url} (health: ${server.healthUrl}) with ${workers} workers\n`);
  const outcome = await Promise.race([ctx.interrupted, server.failed]);
  ctx.stdout.write('shutting down…\n');
  await server.close();
  if (outcome instanceof WsloadError) {
    ctx.stderr.write(`${ctx.colors.red('error:')} ${outcome.toLine()}\n`);
    ctx.setExitCode(outcome.exitCode);
  }
}

/** `--workers`: 'auto' (the cores) or an integer 1-MAX_WORKERS. */
function workersFlag(raw: string, resolveWorkers: ServerModule['resolveWorkers']): number {
  if (raw.trim().toLowerCase() === 'auto') return resolveWorkers('auto');
  return intFlag('--workers', raw, 1, MAX_WORKERS, `an integer 1-${MAX_WORKERS} or "auto"`);
}

/** Turn the flags (and the token's environment variable) into server options; every problem is a usage error. */
function serverOptions(flags: ServeFlags, env: NodeJS.ProcessEnv): ServerOptions {
  const port = intFlag('--port', flags.port, 0, 65535, 'an integer 0-65535');
  const maxPayload = intFlag('--max-payload', flags.maxPayload, 1, Number.MAX_SAFE_INTEGER, 'a positive integer (bytes)');
  const heartbeatMs = intFlag('--heartbeat', flags.heartbeat, 0, MAX_MS, 'an integer >= 0 (ms; 0 = off)');
  const replyDelayMs = intFlag('--reply-delay', flags.replyDelay, 0, MAX_MS, 'an integer >= 0 (ms)');
  const maxConnections = intFlag('--max-connections', flags.maxConnections, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
  const maxSubscriptions = intFlag('--max-subscriptions', flags.maxSubscriptions, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
  const maxChannelLength = intFlag('--max-channel-length', flags.maxChannelLength, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
  const rateLimit = intFlag('--rate-limit', flags.rateLimit, 0, Number.MAX_SAFE_INTEGER, 'an integer >= 0 (messages/s; 0 = off)');
  const maxBufferedBytes = intFlag('--max-buffered-bytes', flags.maxBufferedBytes, 1, Number.MAX_SAFE_INTEGER, 'a positive integer (bytes)');
  const handshakeTimeoutMs = intFlag('--handshake-timeout', flags.handshakeTimeout, 1, MAX_MS, 'a positive integer (ms)');
  const idleTimeoutMs = intFlag('--idle-timeout', flags.idleTimeout, 0, MAX_MS, 'an integer >= 0 (ms; 0 = off)');
  if (!flags.path.startsWith('/')) throw usageError(`--path must start with "/", got "${flags.path}"`);

  const authToken = flags.authToken ?? (env[AUTH_TOKEN_ENV] === '' ? undefined : env[AUTH_TOKEN_ENV]);
  if (authToken !== undefined && authToken.trim() === '') throw usageError('--auth-token must not be empty');
  for (const origin of flags.allowedOrigin) {
    if (!/^https?:\/\/[^/?#\s]+$/i.test(origin)) {
      throw usageError(`--allowed-origin must be scheme://host[:port] with http or https, got "${origin}"`, 'e.g. --allowed-origin https://app.example.com');
    }
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw usageError(flags.tlsCert === undefined ? '--tls-key needs --tls-cert' : '--tls-cert needs --tls-key');
  }
  const tls = flags.tlsCert !== undefined && flags.tlsKey !== undefined
    ? { cert: readPem('--tls-cert', flags.tlsCert), key: readPem('--tls-key', flags.tlsKey) }
    : undefined;

  return {
    host: flags.host,
    port,
    path: flags.path,
    maxPayload,
    heartbeatMs,
    replyDelayMs,
    maxConnections,
    maxSubscriptions,
    maxChannelLength,
    rateLimit,
    maxBufferedBytes,
    handshakeTimeoutMs,
    idleTimeoutMs,
    ...(authToken === undefined ? {} : { authToken }),
    allowedOrigins: flags.allowedOrigin,
    ...(tls === undefined ? {} : { tls }),
    metrics: flags.metrics,
  };
}

/** Read a PEM file for a flag; a missing or unreadable file is a usage error naming the flag. */
function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usageError(`${flag}: cannot read "${file}"${code === undefined ? '' : ` (${code})`}`);
  }
}

/**
 * Parse a whole-number flag strictly: digits only, so "10ms", "1e3" and "" are errors rather than
 * silently becoming 10, 1000 or 0.
 */
function intFlag(name: string, raw: string, min: number, max: number, expected: string): number {
  const text = raw.trim();
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw usageError(`${name} must be ${expected}, got "${raw}"`);
  }
  return value;
}
