/**
 * The live terminal view: `renderFrame` draws one status area from a `LiveState` (pure, so tests
 * compare strings), `formatLiveLine` is its one-line form for logs, and two small views put them on
 * a stream — a TTY area redrawn in place with ANSI cursor codes, or a plain line every 10 s.
 */
import pc from 'picocolors';
import { countVerdicts, verdictLine } from '../thresholds/verdict-text.js';
import type { LiveState } from './feed.js';

export interface FrameOptions {
  /** Terminal columns; every line is cut to `width - 1` so none wraps. */
  width: number;
  color: boolean;
}

/** Threshold lines shown before "… N more". */
export const MAX_VERDICT_LINES = 8;
const BAR_WIDTH = 30;

/** `0:07`, `12:03`, `1:02:03`. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const rate = (n: number): string => (n >= 100 ? int(n) : n.toFixed(1));
/** Logs get digits only, as grep and awk want them. */
const plainRate = (n: number): string => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));
const ms = (n: number | undefined): string => (n === undefined ? '–' : `${n.toFixed(2)} ms`);

const ANSI = /\x1b\[[0-9;]*m/y;

/** Cut `line` to `max` visible characters, keeping (and closing) its colour codes. */
export function fitLine(line: string, max: number): string {
  let visible = 0;
  let out = '';
  let coloured = false;
  for (let i = 0; i < line.length;) {
    ANSI.lastIndex = i;
    const m = ANSI.exec(line);
    if (m) {
      out += m[0];
      coloured = true;
      i += m[0].length;
      continue;
    }
    const ch = String.fromCodePoint(line.codePointAt(i)!);
    if (visible === max) return coloured ? `${out}\x1b[0m` : out;
    out += ch;
    visible++;
    i += ch.length;
  }
  return out;
}

/** The progress part: bar, percentage, time (elapsed / planned, or time left), phase. */
function progressLine(s: LiveState, c: ReturnType<typeof pc.createColors>): string {
  const parts: string[] = [];
  if (s.progress !== undefined) {
    const filled = Math.round(s.progress * BAR_WIDTH);
    parts.push(`${c.cyan('█'.repeat(filled))}${c.dim('░'.repeat(BAR_WIDTH - filled))} ${`${Math.floor(s.progress * 100)}%`.padStart(4)}`);
  }
  let time = formatClock(s.elapsedMs);
  if (s.plannedMs !== undefined) time += ` / ${formatClock(s.plannedMs)}`;
  else if (s.remainingMs !== undefined) time += ` · ~${formatClock(s.remainingMs)} left`;
  parts.push(time);
  if (s.phase !== undefined) {
    const n = s.phaseNumber !== undefined && s.phaseCount !== undefined && s.phaseCount > 1 ? ` (${s.phaseNumber}/${s.phaseCount})` : '';
    parts.push(c.bold(`${s.phase}${n}`));
  }
  return parts.join('  ');
}

/**
 * One frame of the status area, lines ending in `\n`: header, progress, load, latency of the last
 * interval, errors, and the live verdict of each threshold.
 */
export function renderFrame(s: LiveState, opts: FrameOptions): string {
  const c = pc.createColors(opts.color);
  const lines: string[] = [];
  const status = s.status === 'stopping' ? `  ${c.yellow('stopping…')}` : s.status === 'ended' ? `  ${c.dim('ended')}` : '';
  lines.push(`${c.bold(`wsload ${s.command}`)} → ${s.target}${status}`);
  lines.push(progressLine(s, c));
  const load = [`arrivals ${rate(s.arrivalsPerSec)}/s`, `connections ${int(s.activeConnections)}`];
  if (s.activeVusers !== undefined) load.push(`VUs ${int(s.activeVusers)}`);
  lines.push(load.join(' · '));
  lines.push(`messages ${rate(s.sentPerSec)}/s sent · ${rate(s.receivedPerSec)}/s received`);
  lines.push(`latency  p50 ${ms(s.p50Ms)} · p99 ${ms(s.p99Ms)}  ${c.dim('(last interval)')}`);
  const errors = `errors   ${int(s.errorsTotal)}${s.errors > 0 ? ` (+${int(s.errors)})` : ''}`;
  lines.push(s.errorsTotal > 0 ? c.red(errors) : errors);
  if (s.verdicts.length > 0) {
    const n = countVerdicts(s.verdicts);
    const counts = [c.green(`${n.met} met`), c.yellow(`${n.warning} warning${n.warning === 1 ? '' : 's'}`), c.red(`${n.critical} critical`)];
    if (n.not_judged > 0) counts.push(c.dim(`${n.not_judged} not judged`));
    lines.push(`thresholds ${counts.join(' · ')}`);
    const shown = s.verdicts.length > MAX_VERDICT_LINES ? s.verdicts.slice(0, MAX_VERDICT_LINES - 1) : s.verdicts;
    const width = Math.max(...shown.map((v) => v.name.length));
    for (const v of shown) lines.push(verdictLine(v, width, c));
    if (shown.length < s.verdicts.length) lines.push(c.dim(`  … ${s.verdicts.length - shown.length} more`));
  }
  const max = Math.max(20, opts.width - 1);
  return lines.map((l) => `${fitLine(l, max)}\n`).join('');
}

/**
 * The frame as one plain line, for logs (CI): `[24s/60s 40%] Ramp up · arrivals 10.0/s · …`.
 * Totals rather than rates for messages, so lines from a log add up.
 */
export function formatLiveLine(s: LiveState): string {
  const sec = Math.round(s.elapsedMs / 1000);
  const pct = s.progress === undefined ? '' : ` ${Math.floor(s.progress * 100)}%`;
  const head = s.plannedMs !== undefined ? `[${sec}s/${Math.round(s.plannedMs / 1000)}s${pct}]` : `[${sec}s${pct}]`;
  const parts = [`${head}${s.phase !== undefined ? ` ${s.phase}` : ''}`];
  parts.push(`arrivals ${plainRate(s.arrivalsPerSec)}/s`);
  parts.push(`connections ${s.activeConnections} open`);
  if (s.activeVusers !== undefined) parts.push(`VUs ${s.activeVusers} active`);
  parts.push(`messages ${s.messagesSent} sent ${s.messagesReceived} received (${plainRate(s.receivedPerSec)}/s)`);
  if (s.p50Ms !== undefined) parts.push(`p50 ${s.p50Ms.toFixed(2)}ms p99 ${(s.p99Ms ?? 0).toFixed(2)}ms`);
  if (s.errorsTotal > 0) parts.push(`errors ${s.errorsTotal}`);
  if (s.verdicts.length > 0) {
    const n = countVerdicts(s.verdicts);
    const counts = [`${n.met} met`, `${n.warning} warning${n.warning === 1 ? '' : 's'}`, `${n.critical} critical`];
    if (n.not_judged > 0) counts.push(`${n.not_judged} not judged`);
    parts.push(`thresholds ${counts.join(', ')}`);
  }
  if (s.status === 'stopping') parts.push('stopping');
  return `${parts.join(' · ')}\n`;
}

/** Where the live view writes: a frame each interval, the command's own lines in between. */
export interface LiveView {
  update(state: LiveState): void;
  /**
   * Would `update` show a frame whose run time is `elapsedMs`? Lets the caller skip building the
   * state (the interval's percentiles, live verdicts) when nothing would be drawn. Absent: always.
   */
  due?(elapsedMs: number): boolean;
  /** A line of the command's own (a script's `log` step) that must not be drawn over. */
  log(text: string): void;
  /** Remove the status area (before the final summary prints); later calls draw nothing. */
  close(): void;
}

type Out = NodeJS.WritableStream & { columns?: number };

/** Cursor up `n` lines to the start of the first, and erase from there to the end of the screen. */
const erase = (n: number): string => (n > 0 ? `\x1b[${n}A\r\x1b[J` : '');

/** On a TTY: one status area, redrawn in place each time a frame comes. */
export function ttyView(out: Out, opts: { color: boolean; width?: () => number }): LiveView {
  // A pseudo-terminal without a size reports 0 columns.
  const width = opts.width ?? ((): number => (out.columns !== undefined && out.columns > 0 ? out.columns : 80));
  let drawn = 0;
  let last: LiveState | undefined;
  let open = true;
  const draw = (before = ''): void => {
    const frame = last === undefined ? '' : renderFrame(last, { width: width(), color: opts.color });
    // One write per redraw: no flicker between erasing and drawing.
    out.write(erase(drawn) + before + frame);
    drawn = frame === '' ? 0 : frame.split('\n').length - 1;
  };
  return {
    update(state) {
      if (!open) return;
      last = state;
      draw();
    },
    due: () => open,
    log(text) {
      if (!open) {
        out.write(text);
        return;
      }
      draw(text.endsWith('\n') ? text : `${text}\n`);
    },
    close() {
      if (!open) return;
      open = false;
      if (drawn > 0) out.write(erase(drawn));
      drawn = 0;
    },
  };
}

/** Not on a TTY (a CI log): one plain line each time `everyMs` more of the run has passed. */
export function lineView(out: Out, opts: { everyMs: number }): LiveView {
  let next = opts.everyMs;
  let open = true;
  return {
    update(state) {
      if (!open || state.elapsedMs < next) return;
      next = (Math.floor(state.elapsedMs / opts.everyMs) + 1) * opts.everyMs;
      out.write(formatLiveLine(state));
    },
    due: (elapsedMs) => open && elapsedMs >= next,
    log(text) {
      out.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    close() {
      open = false;
    },
  };
}
