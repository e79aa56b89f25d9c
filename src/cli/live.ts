/**
 * Watching a run, for `stress` and `run`: the flags (`--dashboard [port]`, `--dashboard-host`,
 * `--open`, `--dashboard-linger`) and `startLive`, which wires the engines' interval samples to the
 * terminal (a status area on a TTY, a line every 10 s otherwise, nothing with --quiet) and, with
 * --dashboard, through one `LiveFeed` to the web dashboard, which then shows the final report and
 * lingers. Without a dashboard no feed is kept: a `LiveTracker` computes only the frames shown, and
 * with --quiet nothing is done per interval. The dashboard's modules are loaded only when asked for.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import type { IntervalSample } from '../metrics/index.js';
import type { WsloadReport } from '../report/document.js';
import { formatDurationMs, parseDurationMs } from '../scenario/duration.js';
import type { ScriptPlan } from '../scenario/types.js';
import { compilePlan } from '../schedule/phases.js';
import type { ThresholdSet, ViewContext } from '../thresholds/index.js';
import type { Dashboard } from '../live/dashboard.js';
import type { LiveMeta } from '../live/feed.js';
import { lineView, ttyView, type LiveView } from '../live/terminal.js';
import type { CliContext } from './context.js';
import { MAX_TIMER_MS } from './duration-option.js';

/** Raw flag values as commander hands them over. */
export interface LiveFlags {
  /** `--dashboard` alone: true; with a port: the port as typed. */
  dashboard?: boolean | string;
  dashboardHost?: string;
  open?: boolean;
  dashboardLinger?: string;
}

/** The dashboard as asked for, validated; undefined: no dashboard. */
export interface DashboardSettings {
  host: string;
  port: number;
  open: boolean;
  /** ms after the run; undefined: the default (until Ctrl-C on a TTY, 0 otherwise). */
  lingerMs: number | undefined;
}

/** Seconds of run time between two progress lines when stderr is not a terminal. */
export const LINE_EVERY_MS = 10_000;

export function addLiveOptions(cmd: Command): Command {
  return cmd
    .option('--dashboard [port]', 'serve a live dashboard on 127.0.0.1 (a free port unless given); its URL is printed at start')
    .option('--dashboard-host <host>', 'listen on <host> instead of 127.0.0.1 (implies --dashboard; whoever reaches it can stop the run)')
    .option('--open', 'open the dashboard in a browser (implies --dashboard; $BROWSER, else xdg-open/open/start)')
    .option('--dashboard-linger <s>', 'keep the dashboard up this long after the run (implies --dashboard; default: until Ctrl-C on a terminal, 0 otherwise)');
}

/** Check the flags before anything starts: every problem in one usage error. */
export function resolveLiveFlags(flags: LiveFlags): DashboardSettings | undefined {
  const wanted = flags.dashboard !== undefined || flags.dashboardHost !== undefined || flags.open === true || flags.dashboardLinger !== undefined;
  if (!wanted) return undefined;
  const problems: string[] = [];
  let port = 0;
  if (typeof flags.dashboard === 'string') {
    const text = flags.dashboard.trim();
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isInteger(n) && n >= 0 && n <= 65_535) port = n;
    else problems.push(`--dashboard port must be an integer from 0 to 65535, got "${flags.dashboard}"`);
  }
  const host = flags.dashboardHost?.trim() ?? '127.0.0.1';
  if (host === '') problems.push('--dashboard-host needs a host name or address');
  let lingerMs: number | undefined;
  if (flags.dashboardLinger !== undefined) {
    // Bare digits are seconds here, as the flag's name says; units allowed ("90s", "5m").
    const ms = parseDurationMs(flags.dashboardLinger);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS) {
      problems.push(`--dashboard-linger must be a number of seconds or a duration (e.g. 0, 30, 5m), got "${flags.dashboardLinger}"`);
    } else {
      lingerMs = Math.round(ms);
    }
  }
  if (problems.length > 0) throw usageError(problems.join('; '));
  return { host, port, open: flags.open === true, lingerMs };
}

/** The command `--open` runs: $BROWSER when set, else the platform's opener. */
export function browserCommand(url: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): [string, string[]] {
  const browser = env.BROWSER?.trim();
  if (browser) return [browser, [url]];
  if (platform === 'darwin') return ['open', [url]];
  if (platform === 'win32') return ['cmd', ['/c', 'start', '""', url]];
  return ['xdg-open', [url]];
}

/** Launch a browser on `url`; a missing opener is one warning line, never a failed run. */
export function openBrowser(url: string, env: NodeJS.ProcessEnv, warn: (line: string) => void): void {
  const [command, args] = browserCommand(url, env, process.platform);
  const failed = (why: string): void => warn(`warning: could not open a browser (${command}: ${why}); open ${url} yourself\n`);
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true, windowsHide: true, env });
    child.on('error', (err: NodeJS.ErrnoException) => failed(err.code === 'ENOENT' ? 'not found' : err.message));
    child.unref();
  } catch (err) {
    failed((err as Error).message);
  }
}

export interface LiveInput {
  meta: LiveMeta;
  thresholds: ThresholdSet;
  /** As the command passes it to its final verdicts. */
  view?: ViewContext;
  quiet: boolean;
  version: string;
  /** Run time between lines off a TTY (default `LINE_EVERY_MS`; tests shorten it). */
  lineEveryMs?: number;
}

export interface Live {
  /** The engines' `onInterval`. */
  onInterval(sample: IntervalSample): void;
  /** A line of the command's own during the run (a script's `log` step): printed above the status area. */
  log(line: string): void;
  /** The run is over: the status area is removed before the summary prints. */
  endRun(): void;
  /**
   * Await the final verdict and reports (`finishGate`), then show them on the dashboard (the
   * verdict, /report.html), linger, and close everything. Closes everything on a rejection too.
   */
  finish<T extends { report: WsloadReport }>(pending: Promise<T>): Promise<T>;
  /** Close the dashboard and the terminal view now (idempotent). */
  close(): Promise<void>;
}

/**
 * Start watching a run: the terminal view and (when asked) the feed and the dashboard, whose URL is
 * printed at once — even with --quiet, since there is no other way to find a free port.
 */
export async function startLive(ctx: CliContext, dashboardSettings: DashboardSettings | undefined, input: LiveInput): Promise<Live> {
  const stderr = ctx.stderr as CliContext['stderr'] & { columns?: number };
  const view: LiveView | undefined = input.quiet ? undefined
    : stderr.isTTY ? ttyView(stderr, { color: ctx.color })
      : lineView(stderr, { everyMs: input.lineEveryMs ?? LINE_EVERY_MS });
  if (dashboardSettings === undefined) return watchInTerminal(ctx, view, input);

  const [{ LiveFeed }, { startDashboard }] = await Promise.all([import('../live/feed.js'), import('../live/dashboard.js')]);
  const feed = new LiveFeed(input.meta, { thresholds: input.thresholds, ...(input.view ? { view: input.view } : {}) });
  const unsubscribe = feed.subscribe((e) => {
    if (e.type !== 'end') view?.update(feed.state());
  });
  let bySignal = false;
  let dashboard: Dashboard | undefined;
  void ctx.interrupted.then(() => {
    if (feed.status === 'ended') return;
    if (!dashboard?.stoppedFromPage) bySignal = true;
    feed.stopping();
  });

  try {
    dashboard = await startDashboard({
      feed,
      host: dashboardSettings.host,
      port: dashboardSettings.port,
      version: input.version,
      onStop: () => ctx.interrupt('SIGINT'),
    });
  } catch (err) {
    unsubscribe();
    feed.close();
    const e = err as NodeJS.ErrnoException;
    const where = `${dashboardSettings.host}:${dashboardSettings.port}`;
    throw usageError(`--dashboard cannot listen on ${where}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message}`,
      e.code === 'EADDRINUSE' ? 'give another port, or none for a free one' : undefined);
  }
  stderr.write(`dashboard: ${dashboard.url}\n`);
  if (dashboardSettings.open) openBrowser(dashboard.url, ctx.env, (line) => stderr.write(line));
  view?.update(feed.state());

  let runEnded = false;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      view?.close();
      unsubscribe();
      await dashboard?.close();
      feed.close();
    })();
    return closing;
  };

  /** Until the linger time has passed, the page's Close button, or Ctrl-C. */
  const linger = async (d: Dashboard): Promise<void> => {
    const ms = dashboardSettings.lingerMs ?? (stderr.isTTY && !bySignal ? Infinity : 0);
    if (ms <= 0) return;
    const report = `${d.url}report.html`;
    stderr.write(ms === Infinity
      ? `dashboard: ${d.url} stays up until Ctrl-C (HTML report: ${report})\n`
      : `dashboard: ${d.url} stays up for ${formatDurationMs(ms)} (HTML report: ${report})\n`);
    let timer: NodeJS.Timeout | undefined;
    let onSignal: (() => void) | undefined;
    await Promise.race([
      d.closeRequested,
      new Promise<void>((resolve) => {
        if (ms !== Infinity) timer = setTimeout(resolve, ms);
        // Ctrl-C ends the wait (main's own handler also runs: a first signal only marks the run).
        onSignal = resolve;
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    if (onSignal !== undefined) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };

  const endRun = (): void => {
    runEnded = true;
    view?.close();
  };

  return {
    onInterval: (sample) => feed.add(sample),
    log(line) {
      if (view !== undefined && !runEnded) view.log(line);
      else stderr.write(line.endsWith('\n') ? line : `${line}\n`);
    },
    endRun,
    async finish(pending) {
      let result;
      try {
        result = await pending;
        endRun();
        if (dashboard !== undefined) {
          dashboard.setReport(result.report);
          feed.end(result.report);
          await linger(dashboard);
        }
      } finally {
        await close();
      }
      return result;
    },
    close,
  };
}

/**
 * No dashboard: the terminal view only, fed by a `LiveTracker` that builds a frame only when the
 * view will show it. With --quiet (no view) the engines' samples are not looked at.
 */
async function watchInTerminal(ctx: CliContext, view: LiveView | undefined, input: LiveInput): Promise<Live> {
  const stderr = ctx.stderr;
  let runEnded = false;
  let onInterval: (sample: IntervalSample) => void = () => {};
  let close = async (): Promise<void> => {};
  if (view !== undefined) {
    const { LiveTracker } = await import('../live/feed.js');
    const tracker = new LiveTracker(input.meta, { thresholds: input.thresholds, ...(input.view ? { view: input.view } : {}) });
    const show = (): void => {
      if (view.due?.(tracker.elapsedMs) ?? true) view.update(tracker.state());
    };
    onInterval = (sample) => {
      tracker.add(sample);
      show();
    };
    void ctx.interrupted.then(() => {
      if (runEnded || tracker.status !== 'running') return;
      tracker.stopping();
      show();
    });
    close = async () => {
      view.close();
      tracker.close();
    };
    view.update(tracker.state());
  }
  const endRun = (): void => {
    runEnded = true;
    view?.close();
  };
  return {
    onInterval: (sample) => onInterval(sample),
    log(line) {
      if (view !== undefined && !runEnded) view.log(line);
      else stderr.write(line.endsWith('\n') ? line : `${line}\n`);
    },
    endRun,
    async finish(pending) {
      try {
        const result = await pending;
        endRun();
        return result;
      } finally {
        await close();
      }
    },
    close,
  };
}

/** `stress`'s run, for the live view. */
export function stressLiveMeta(o: {
  url: string; connections: number; messages: number; batch: number; inflight: number;
  replyTimeoutMs: number; connectTimeoutMs: number; rate?: number; ratePer?: string;
}, extra: { preset: string | undefined; serve: boolean }): LiveMeta {
  const parameters: Array<[string, string]> = [
    ['command', 'wsload stress'],
    ['target', o.url],
    ['connections', String(o.connections)],
    ['messages per connection', String(o.messages)],
  ];
  if (o.rate !== undefined && o.rate > 0) parameters.push(['rate', `${o.rate} msg/s ${o.ratePer === 'connection' ? 'per connection' : 'in total'}`]);
  parameters.push(
    ['batch', String(o.batch)],
    ['in flight per connection', String(o.inflight)],
    ['reply timeout', formatDurationMs(o.replyTimeoutMs)],
    ['connect timeout', formatDurationMs(o.connectTimeoutMs)],
    ['preset', extra.preset ?? '—'],
    ['embedded server', extra.serve ? 'yes' : 'no'],
  );
  return {
    command: 'stress',
    target: o.url,
    plan: { kind: 'work', connections: o.connections, messages: o.messages },
    parameters,
    vusers: false,
  };
}

/** `run`'s script, for the live view: the phases on the time axis. */
export function runLiveMeta(plan: ScriptPlan, script: string, opts: { target: string | undefined; serve: boolean; drainTimeoutMs: number }): LiveMeta {
  const arrival = compilePlan(plan.phases);
  const phases = arrival.phases.map((p) => ({
    name: p.name ?? `phase ${p.index + 1}`,
    startSec: p.startMs / 1000,
    endSec: (p.startMs + p.durationMs) / 1000,
  }));
  const target = opts.target ?? 'each scenario\'s connect target';
  return {
    command: 'run',
    target,
    script,
    plan: { kind: 'phases', durationMs: arrival.durationMs, phases },
    parameters: [
      ['command', 'wsload run'],
      ['script', script],
      ['environment', plan.environment ?? '—'],
      ['target', target],
      ['scenarios', plan.scenarios.map((s) => `${s.name} (weight ${s.weight})`).join(', ')],
      ['phases', phases.map((p) => `${p.name} ${formatDurationMs((p.endSec - p.startSec) * 1000)}`).join(', ')],
      ['planned arrivals', String(arrival.arrivals)],
      ['drain timeout', formatDurationMs(opts.drainTimeoutMs)],
      ['embedded server', opts.serve ? 'yes' : 'no'],
    ],
    vusers: true,
  };
}
