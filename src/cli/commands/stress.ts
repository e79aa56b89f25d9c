/**
 * `wsload stress`: the seed's standalone stress test (docs/stress.md). Resolves flags, environment
 * and presets into one validated plan, optionally starts the reference server, runs the engine,
 * prints the summary block, writes the JSON report and decides the exit code.
 */
import type { Command } from 'commander';
import type { StressMix, StressOptions } from '../../engine/stress.js';
import type { DistributedStressResult } from '../../workers/coordinator.js';
import { parseWorkers } from '../workers-option.js';
import { usageError, WsloadError } from '../../errors.js';
import type { StressJsonOptions } from '../../report/stress-json.js';
import type { StressSummary } from '../../report/stress-summary.js';
import type { RunningServer } from '../../server/index.js';
import type { BaseReport } from '../../report/document.js';
import type { CliContext } from '../context.js';
import { resolveRateFlags } from '../rate-options.js';
import { parseMsFlag } from '../duration-option.js';
import { addGateOptions, gateFlagProblems, type GateFlags } from '../gate-options.js';
import { addLiveOptions, resolveLiveFlags, startLive, stressLiveMeta, type Live, type LiveFlags } from '../live.js';

/** The seed's test modes. */
export const PRESETS = {
  quick: { connections: 100, messages: 10 },
  medium: { connections: 500, messages: 20 },
  heavy: { connections: 1000, messages: 50 },
} as const;
export type PresetName = keyof typeof PRESETS;

export const STRESS_DEFAULTS = {
  url: 'ws://localhost:8000/ws',
  connections: 100,
  messages: 10,
  batch: 100,
  inflight: 1,
  replyTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
} as const;

/** What `--mix` accepts (the engine's StressMix; listed here so registering the command loads no engine code). */
const MIXES: readonly StressMix[] = ['mixed', 'ping', 'agent'];

/** Environment variables the seed's scripts read. */
export const STRESS_ENV = { url: 'WS_URL', connections: 'CONNECTIONS', messages: 'MESSAGES' } as const;

/** Raw flag values as commander hands them over (no defaults: absent means "not given"). */
export interface StressFlags extends GateFlags, LiveFlags {
  url?: string;
  connections?: string;
  messages?: string;
  batch?: string;
  inflight?: string;
  preset?: string;
  replyTimeout?: string;
  connectTimeout?: string;
  serve?: boolean;
  quiet?: boolean;
  /** What the requests are: mixed (default), ping, agent. */
  mix?: string;
  /** Worker processes (`--workers`); absent: decided by the size of the run (docs/workers.md). */
  workers?: string;
  /** Source addresses (`--local-address 127.0.0.1-127.0.0.8`). */
  localAddress?: string;
  /** Rate mode (src/cli/rate-options.ts): `500` in total or `50/conn` per connection, msg/s. */
  rate?: string;
  /** Rate mode: run this long (messages = rate × duration). */
  duration?: string;
}

/** Where a value came from, for messages. */
export type ValueSource = 'flag' | 'preset' | 'env' | 'default' | 'duration';

/** Everything the command needs, validated. */
export interface StressPlan {
  options: Required<Pick<StressOptions, 'url' | 'connections' | 'messages' | 'batch' | 'inflight' | 'replyTimeoutMs' | 'connectTimeoutMs'>>
    & Pick<StressOptions, 'rate' | 'ratePer' | 'mix'>;
  preset: PresetName | undefined;
  serve: boolean;
  /** True when a URL was given (flag or WS_URL), so `--serve` says it ignores it. */
  urlGiven: boolean;
  quiet: boolean;
  sources: { url: ValueSource; connections: ValueSource; messages: ValueSource };
}

const MAX_CONNECTIONS = 1_000_000;
const MAX_MESSAGES = 1_000_000_000;
const MAX_INFLIGHT = 1000;

const intIn = (raw: string, min: number, max: number): number | undefined => {
  const text = raw.trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
};

/**
 * Resolve flags and environment into a plan. Precedence, per value: an explicit flag, then the
 * preset, then the environment, then the default — a preset is a choice made on this command line,
 * the environment is ambient. Every problem is collected; one usage error reports them all.
 */
export function resolveStressOptions(flags: StressFlags, env: NodeJS.ProcessEnv): StressPlan {
  const problems: string[] = [];
  const envValue = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };

  let preset: PresetName | undefined;
  if (flags.preset !== undefined) {
    if (Object.hasOwn(PRESETS, flags.preset)) preset = flags.preset as PresetName;
    else problems.push(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got "${flags.preset}"`);
  }

  const count = (key: 'connections' | 'messages', flagName: string, min: number, max: number, expected: string): [number, ValueSource] => {
    const flag = flags[key];
    if (flag !== undefined) {
      const n = intIn(flag, min, max);
      if (n === undefined) problems.push(`${flagName} must be ${expected}, got "${flag}"`);
      return [n ?? STRESS_DEFAULTS[key], 'flag'];
    }
    if (preset !== undefined) return [PRESETS[preset][key], 'preset'];
    const envName = STRESS_ENV[key];
    const fromEnv = envValue(envName);
    if (fromEnv !== undefined) {
      const n = intIn(fromEnv, min, max);
      if (n === undefined) problems.push(`${envName} must be ${expected}, got "${fromEnv}"`);
      return [n ?? STRESS_DEFAULTS[key], 'env'];
    }
    return [STRESS_DEFAULTS[key], 'default'];
  };
  const [connections, connectionsSource] = count('connections', '-c/--connections', 1, MAX_CONNECTIONS, `an integer from 1 to ${MAX_CONNECTIONS}`);
  const [messages, messagesSource] = count('messages', '-m/--messages', 0, MAX_MESSAGES, `an integer from 0 to ${MAX_MESSAGES}`);

  const plainInt = (raw: string | undefined, flagName: string, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const n = intIn(raw, min, max);
    if (n === undefined) problems.push(`${flagName} must be an integer from ${min} to ${max}, got "${raw}"`);
    return n ?? fallback;
  };
  const batch = plainInt(flags.batch, '--batch', STRESS_DEFAULTS.batch, 1, MAX_CONNECTIONS);
  const inflight = plainInt(flags.inflight, '--inflight', STRESS_DEFAULTS.inflight, 1, MAX_INFLIGHT);

  const timeout = (raw: string | undefined, flagName: string, fallback: number): number => {
    if (raw === undefined) return fallback;
    const ms = parseMsFlag(raw, 1);
    if (ms === undefined) problems.push(`${flagName} must be a duration of at least 1 ms (e.g. 500, 500ms, 10s), got "${raw}"`);
    return ms ?? fallback;
  };
  const replyTimeoutMs = timeout(flags.replyTimeout, '--reply-timeout', STRESS_DEFAULTS.replyTimeoutMs);
  const connectTimeoutMs = timeout(flags.connectTimeout, '--connect-timeout', STRESS_DEFAULTS.connectTimeoutMs);
  // Rate mode: --rate/--duration may set the message count and the window.
  const rated = resolveRateFlags(flags, { connections, messages, inflight, replyTimeoutMs }, problems);
  let mix: StressMix | undefined;
  if (flags.mix !== undefined) {
    if ((MIXES as readonly string[]).includes(flags.mix)) mix = flags.mix as StressMix;
    else problems.push(`--mix must be one of ${MIXES.join(', ')}, got "${flags.mix}"`);
  }

  let url: string = STRESS_DEFAULTS.url;
  let urlSource: ValueSource = 'default';
  const rawUrl = flags.url ?? envValue(STRESS_ENV.url);
  if (rawUrl !== undefined) {
    urlSource = flags.url !== undefined ? 'flag' : 'env';
    const name = urlSource === 'flag' ? '--url' : STRESS_ENV.url;
    let parsed: URL | undefined;
    try {
      parsed = new URL(rawUrl.trim());
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')) {
      problems.push(`${name} must be a ws:// or wss:// URL, got "${rawUrl}"`);
    } else {
      url = rawUrl.trim();
    }
  }

  problems.push(...gateFlagProblems(flags));

  if (problems.length > 0) throw usageError(problems.join('; '));
  return {
    options: { url, connections, messages: rated.messages, batch, inflight: rated.inflight, replyTimeoutMs, connectTimeoutMs, ...rated.options, ...(mix !== undefined ? { mix } : {}) },
    preset,
    serve: flags.serve === true,
    urlGiven: urlSource !== 'default',
    quiet: flags.quiet === true,
    sources: { url: urlSource, connections: connectionsSource, messages: rated.messagesFromDuration ? 'duration' : messagesSource },
  };
}

const EXAMPLES = `
Examples:
  $ wsload stress --serve --preset quick          100 connections × 10 messages against the embedded server
  $ wsload stress --preset medium                 500 × 20 against ws://localhost:8000/ws
  $ wsload stress --preset heavy --url ws://127.0.0.1:8000/ws
                                                  1000 × 50
  $ CONNECTIONS=250 MESSAGES=30 WS_URL=ws://localhost:8000/ws wsload stress
                                                  a custom run from the environment, as the seed's scripts do
  $ wsload stress --serve -c 200 -m 100 --json report.json
                                                  the summary on stdout, every figure in report.json

Precedence: -c/-m flags, then --preset, then CONNECTIONS/MESSAGES, then the defaults.
Exit codes: 0 run completed (even if some connections failed), 1 target unreachable, no
connection succeeded or the target went away mid-run, 2 bad flag or more connections than
ulimit -n allows, 3 a critical threshold crossed, 130 interrupted (partial results written).
Docs: docs/stress.md`;

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('stress')
    .description('open many connections, send request/reply messages on each, and report throughput, latency and errors')
    .option('--url <url>', `target WebSocket URL (env ${STRESS_ENV.url}; default ${STRESS_DEFAULTS.url})`)
    .option('-c, --connections <n>', `connections to open (env ${STRESS_ENV.connections}; default ${STRESS_DEFAULTS.connections})`)
    .option('-m, --messages <n>', `messages per connection (env ${STRESS_ENV.messages}; default ${STRESS_DEFAULTS.messages})`)
    .option('--preset <name>', 'quick (100×10), medium (500×20) or heavy (1000×50); -c/-m override it')
    .option('--batch <n>', `connections opened concurrently per batch (default ${STRESS_DEFAULTS.batch})`)
    .option('--inflight <n>', `requests in flight per connection (default ${STRESS_DEFAULTS.inflight}: the next when the reply has come; with --rate: rate per connection × reply timeout, 64–1000)`)
    .option('--rate <r>', 'open loop: send on a fixed schedule of <r> messages/s in total (500) or per connection (50/conn), latency measured from each intended send time')
    .option('--duration <d>', 'with --rate: run this long (30s, 2m): messages per connection = rate × duration (an explicit -m caps it)')
    .option('--reply-timeout <ms>', `a reply later than this counts as reply_timeout (default ${STRESS_DEFAULTS.replyTimeoutMs}; units: 500ms, 10s)`)
    .option('--connect-timeout <ms>', `bound on each opening handshake (default ${STRESS_DEFAULTS.connectTimeoutMs})`)
    .option('--serve', 'start the embedded reference server on a free 127.0.0.1 port and test it (--url is ignored)')
    .option('-q, --quiet', 'no start line and no live progress on stderr, only the summary')
    .option('--mix <kind>', 'what each connection sends: mixed (pings and agent messages alternately, the default), ping or agent')
    .option('--workers <n>', 'worker processes to spread connections over (auto: one per core; default: decided by the size of the run, see docs/workers.md; 1 runs in this process)')
    .option('--local-address <list>', 'source addresses, a comma list or a range such as 127.0.0.1-127.0.0.8 (chosen automatically for loopback targets past 20,000 connections)');
  addLiveOptions(addGateOptions(cmd))
    .addHelpText('after', EXAMPLES)
    .action(async (flags: StressFlags) => {
      await stressCommand(resolveStressOptions(flags, ctx.env), flags, ctx, program.version() ?? '0.0.0');
    });
}

/**
 * Did the run do less than planned (docs/stress.md, "Partial runs")? Interrupted, or a connection
 * could not open or was lost, so fewer than C × M requests went out.
 */
export function isPartialStress(aborted: boolean, s: StressSummary, planned: { connections: number; messages: number }): boolean {
  return aborted || s.connections.successful < planned.connections || s.messages.sent < planned.connections * planned.messages;
}

async function stressCommand(plan: StressPlan, flags: StressFlags, ctx: CliContext, version: string): Promise<void> {
  // What a run needs, loaded when one runs (registering the command loads none of it); the
  // embedded server (gate.ts), the dashboard (live.ts) and the report writers load only when asked for.
  const [
    { offeredRate },
    { runStressDistributed },
    { parseLocalAddresses },
    { readOpenFileLimit },
    { checkFdBudget },
    { buildStressJson },
    { summarizeStress },
    { errorLabel, formatStressText },
    { concludeRun, prepareGate, startEmbeddedServer, watchAbort },
    { runOutcome },
  ] = await Promise.all([
    import('../../engine/stress.js'),
    import('../../workers/coordinator.js'),
    import('../../workers/plan.js'),
    import('../../workers/limits.js'),
    import('../diagnose.js'),
    import('../../report/stress-json.js'),
    import('../../report/stress-summary.js'),
    import('../../report/stress-text.js'),
    import('../gate.js'),
    import('../outcome.js'),
  ]);
  // Thresholds and report destinations are checked before anything is sent.
  const gate = await prepareGate(flags, ctx);
  // More connections than this process may open: one line with the fix now, not a storm of EMFILE.
  // (For this in-process run; a run spread over worker processes is sized by src/workers/plan.ts
  // planStress against the same limit, so there this check applies only when it stays in-process.)
  const workers = parseWorkers(flags.workers);
  const localAddresses = flags.localAddress === undefined ? undefined : parseLocalAddresses(flags.localAddress);
  const fdLimit = readOpenFileLimit()?.soft;
  // Spread over worker processes, the coordinator sizes the run against the limit itself
  // (src/workers/plan.ts); the embedded server's ends of the connections stay in this process.
  if (plan.serve || workers === 1) {
    const fdProblem = checkFdBudget(plan.options.connections, fdLimit, { serve: plan.serve });
    if (fdProblem !== undefined) throw new WsloadError('WSLOAD_CONFIG', fdProblem);
  }

  const dashboard = resolveLiveFlags(flags);

  let server: RunningServer | undefined;
  if (plan.serve) server = await startEmbeddedServer();
  const url = server?.url ?? plan.options.url;
  const o = plan.options;
  const abort = new AbortController();
  void ctx.interrupted.then(() => abort.abort());
  // Throughput is judged against what the load could offer: unbounded in the closed loop, the rate in rate mode.
  const offered = offeredRate({ rate: o.rate ?? 0, ratePer: o.ratePer ?? 'run', connections: o.connections });
  const view = offered === undefined ? {} : { offeredRatePerSec: offered };
  const abortOnFail = watchAbort(gate, abort, view);

  let result: DistributedStressResult;
  let live: Live | undefined;
  try {
    if (!plan.quiet) {
      const note = server === undefined ? '' : ` (embedded reference server${plan.urlGiven ? '; --url ignored' : ''})`;
      const rate = offered === undefined ? '' : ` at ${offered} msg/s`;
      ctx.stderr.write(`wsload stress: ${o.connections} connections × ${o.messages} messages${rate} → ${url}${note}\n`);
    }
    // The live view (terminal, --dashboard) reads the same interval samples as abort-on-fail.
    const watch = await startLive(ctx, dashboard, {
      meta: stressLiveMeta({ ...o, url }, { preset: plan.preset, serve: plan.serve }),
      thresholds: gate.set,
      view,
      quiet: plan.quiet,
      version,
    });
    live = watch;
    result = await runStressDistributed({ ...o, url }, {
      ...(workers !== undefined ? { workers } : {}),
      ...(localAddresses !== undefined ? { localAddresses } : {}),
      signal: abort.signal,
      onInterval: (sample) => {
        abortOnFail.onInterval?.(sample);
        watch.onInterval(sample);
      },
    });
  } catch (err) {
    await live?.close();
    throw err;
  } finally {
    live?.endRun();
    await server?.close();
  }

  const summary = summarizeStress(result.snapshot);
  const outcome = runOutcome(result.aborted, summary, result.snapshot);
  const { unreachable, targetLost } = outcome;
  // Unreachable: one clear line and no summary (main prints the error).
  if (!unreachable) gate.summaryStream.write(formatStressText(summary, { interrupted: result.aborted }));
  const options: StressJsonOptions = { ...o, url, preset: plan.preset ?? null, serve: plan.serve };
  const base = buildStressJson({
    version,
    aborted: result.aborted,
    partial: unreachable || targetLost || result.distribution.partial || isPartialStress(result.aborted, summary, o),
    options,
    summary,
    snapshot: result.snapshot,
  });
  await concludeRun(live!, gate, {
    base: base as unknown as BaseReport,
    snapshot: result.snapshot,
    view,
    interrupted: result.aborted,
    outcome,
    abort: abortOnFail.decision(),
  }, summary, {
    command: 'stress',
    url,
    targetName: url,
    served: server !== undefined,
    firstConnectError: result.firstConnectError,
    noneConnectedLine: 'no connection succeeded',
    errorLabel,
    fdLimit,
  }, ctx);
}
