/**
 * How a load run ended, as `stress` and `run` both judge it once the engine returns: the target
 * could not be reached, nothing connected, or the target went away mid-run (docs/exit-codes.md);
 * and the one line the command then ends with, in that command's words.
 */
import { UNREACHABLE_KINDS } from '../engine/connection.js';
import { TARGET_LOST_METRIC } from '../engine/target-watch.js';
import { WsloadError } from '../errors.js';
import type { MetricsSnapshot } from '../metrics/index.js';
import type { CliContext } from './context.js';
import { diagnoseConnectFailure, fdLimitNote, targetLostLine } from './diagnose.js';

/** The figures the outcome is decided from (a `StressSummary` or a `RunSummary`). */
export interface OutcomeSummary {
  connections: { attempted: number; successful: number; failed: number };
  errors: Record<string, number>;
}

export interface RunOutcome {
  /** Nothing connected and every handshake failure says the target could not be reached. */
  unreachable: boolean;
  /** Handshakes were tried and none succeeded, for other reasons (rejected, timed out…). */
  noneConnected: boolean;
  /** The target went away mid-run (src/engine/target-watch.ts): partial, and exit 1. */
  targetLost: boolean;
}

/** True when no connection opened and every handshake failure says the target could not be reached. */
function isUnreachable(s: OutcomeSummary): boolean {
  const c = s.connections;
  if (c.attempted === 0 || c.successful > 0) return false;
  let unreachable = 0;
  for (const kind of UNREACHABLE_KINDS) unreachable += s.errors[kind] ?? 0;
  return unreachable === c.failed;
}

/** How the run ended. An interrupted run is none of these: its figures are what it got. */
export function runOutcome(aborted: boolean, summary: OutcomeSummary, snapshot: MetricsSnapshot): RunOutcome {
  const unreachable = !aborted && isUnreachable(summary);
  const judged = !aborted && !unreachable;
  return {
    unreachable,
    noneConnected: judged && summary.connections.attempted > 0 && summary.connections.successful === 0,
    targetLost: judged && (snapshot.counters[TARGET_LOST_METRIC] ?? 0) > 0,
  };
}

/** What the command's closing line needs: its own words and what it connected to. */
export interface OutcomeContext {
  command: 'stress' | 'run';
  /** The URL connected to, for the diagnosis; undefined when no user rendered one. */
  url: string | undefined;
  /** Names the target in "cannot connect to …". */
  targetName: string;
  /** The embedded reference server was the target (`--serve`): no "try --serve" hint. */
  served: boolean;
  firstConnectError: { kind: string; message: string } | undefined;
  /** The start of the line when nothing connected: "no connection succeeded". */
  noneConnectedLine: string;
  /** The command's words for an error kind. */
  errorLabel: (kind: string) => string;
  /** `ulimit -n`, for the file-descriptor warning. */
  fdLimit: number | undefined;
}

/**
 * End the command on its outcome: throw the one clear line for an unreachable target, no
 * connection, or a lost target (exit 1), with the fix when the first handshake failure says it;
 * warn when connections ran out of file descriptors. Returns when the run ended as it should.
 */
export function endOnOutcome(outcome: RunOutcome, summary: OutcomeSummary, o: OutcomeContext, ctx: CliContext): void {
  // One clear line for why connections failed (DNS, TLS, wrong path, subprotocol…), with the fix.
  const first = o.firstConnectError;
  const diagnosis = first === undefined ? undefined : diagnoseConnectFailure(first.kind, first.message, { command: o.command, url: o.url });
  if (outcome.unreachable) {
    const reason = diagnosis?.message ?? first?.message ?? 'no connection could be opened';
    const hint = diagnosis?.hint ?? (o.served ? undefined : 'is the server running? try --serve');
    throw new WsloadError('WSLOAD_UNREACHABLE', `cannot connect to ${o.targetName}: ${reason}`, hint === undefined ? {} : { hint });
  }
  if (outcome.noneConnected) {
    const kinds = Object.entries(summary.errors).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${o.errorLabel(k)}: ${n}`);
    // With a diagnosis, the line says what and how to fix it (the counts are in the summary above).
    throw new WsloadError('WSLOAD_RUN_FAILED', diagnosis ? `${o.noneConnectedLine}: ${diagnosis.message}` : `${o.noneConnectedLine} (${kinds.join(', ')})`,
      diagnosis?.hint === undefined ? {} : { hint: diagnosis.hint });
  }
  const fdFailed = summary.errors.fd_limit ?? 0;
  if (fdFailed > 0) ctx.stderr.write(`warning: ${fdLimitNote(fdFailed, o.fdLimit)}\n`);
  if (outcome.targetLost) throw new WsloadError('WSLOAD_RUN_FAILED', targetLostLine(summary.errors, o.errorLabel));
}
