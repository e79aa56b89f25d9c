/**
 * `wsload serve`: run the reference server in the foreground until SIGINT/SIGTERM (docs/serve.md).
 * Flags are validated here into numbers; the server library validates again for library callers.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { SERVER_DEFAULTS, startServer } from '../../server/index.js';
import type { CliContext } from '../context.js';

/** Raw flag values as commander hands them over; numbers are parsed in the action. */
interface ServeFlags {
  host: string;
  port: string;
  path: string;
  maxPayload: string;
  heartbeat: string;
  replyDelay: string;
  quiet?: boolean;
}

const EXAMPLES = `
Examples:
  $ wsload serve                                  listen on ws://127.0.0.1:8000/ws (health: /healthz)
  $ wsload serve --port 0 --quiet                 a free port; the first line of output has the URL
  $ wsload serve --reply-delay 50 --heartbeat 0   answer every message 50 ms late, never ping

Stop it with Ctrl-C or SIGTERM: open connections are closed with 1001 and the command exits 0.
Protocol: docs/protocol.md   Command: docs/serve.md`;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the reference WebSocket server: the wsload protocol, a target for demos and load tests')
    .option('--host <host>', 'interface to listen on', SERVER_DEFAULTS.host)
    .option('--port <n>', 'port to listen on; 0 picks a free one', String(SERVER_DEFAULTS.port))
    .option('--path <p>', 'WebSocket endpoint path', SERVER_DEFAULTS.path)
    .option('--max-payload <bytes>', 'largest accepted frame; bigger ones close the connection with 1009', String(SERVER_DEFAULTS.maxPayload))
    .option('--heartbeat <ms>', 'ping every N ms and drop peers that missed the last pong; 0 = off', String(SERVER_DEFAULTS.heartbeatMs))
    .option('--reply-delay <ms>', 'wait this long before handling each message (simulated server latency)', String(SERVER_DEFAULTS.replyDelayMs))
    .option('--quiet', 'do not log connection errors, heartbeat terminations or shutdown details to stderr')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: ServeFlags) => {
      await runServe(flags, ctx);
    });
}

/** Start the server, print where it listens, and close it on the first signal. */
async function runServe(flags: ServeFlags, ctx: CliContext): Promise<void> {
  const port = intFlag('--port', flags.port, 0, 65535, 'an integer 0-65535');
  const maxPayload = intFlag('--max-payload', flags.maxPayload, 1, Number.MAX_SAFE_INTEGER, 'a positive integer (bytes)');
  const heartbeatMs = intFlag('--heartbeat', flags.heartbeat, 0, 2_147_483_647, 'an integer >= 0 (ms; 0 = off)');
  const replyDelayMs = intFlag('--reply-delay', flags.replyDelay, 0, 2_147_483_647, 'an integer >= 0 (ms)');
  if (!flags.path.startsWith('/')) throw usageError(`--path must start with "/", got "${flags.path}"`);

  const server = await startServer({
    host: flags.host,
    port,
    path: flags.path,
    maxPayload,
    heartbeatMs,
    replyDelayMs,
    ...(flags.quiet ? {} : { log: (line: string) => { ctx.stderr.write(`${line}\n`); } }),
  });
  // Always printed, --quiet or not: scripts read the URL from this line (with --port 0 it is the only way).
  ctx.stdout.write(`wsload reference server listening on ${server.url} (health: ${server.healthUrl})\n`);
  await ctx.interrupted;
  ctx.stdout.write('shutting down…\n');
  // Bounded: close() terminates stragglers after its shutdown timeout.
  await server.close();
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
