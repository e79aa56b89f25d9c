/**
 * The figures of a script run, computed once from its result (metrics snapshot, errors by step,
 * phases), for the text and JSON reporters. Pure: reads, touches nothing else.
 */
import type { ErrorSample, PhaseResult, RunResult } from '../engine/run.js';
import { RunMetric } from '../engine/vu.js';
import { summarizeSnapshot } from '../metrics/index.js';
import { latencyFigures, type LatencyFigures } from './latency-figures.js';

export interface RunSummary {
  /** From the first arrival to the last user closed. */
  durationSec: number;
  vusers: {
    /** Arrivals that started a user. */
    created: number;
    /** Ran their whole flow. */
    completed: number;
    /** Ended by an error (the kinds are in `errors`), the drain timeout included. */
    failed: number;
    /** Arrivals not started because `maxVusers` users were active. */
    skipped: number;
    /** Stopped by Ctrl-C (not an error). created = completed + failed + interrupted. */
    interrupted: number;
    /** Of the failed: stopped by the drain timeout. */
    drained: number;
  };
  connections: { attempted: number; successful: number; failed: number };
  messages: {
    /** Frames sent by send/sendBinary steps. */
    sent: number;
    /** Frames received, whatever they were. */
    received: number;
    /** received / durationSec. */
    perSecond: number;
    /** Sends that expected a timed reply: an id was added, or the step awaited a match. */
    correlated: number;
    /** Their replies that came (one round trip each in `latency`). */
    replied: number;
    /** No reply within the step's timeout. */
    timedOut: number;
    /** Still awaited when the flow ended and its grace ran out. */
    unanswered: number;
    /** Awaited when the connection closed or the user was stopped. correlated = replied + timedOut + unanswered + lost. */
    lost: number;
    /** Matched no pending id and no waiting step (broadcasts…); kept for `wait` steps. */
    unsolicited: number;
    /** Unsolicited messages pushed out of a user's full buffer. */
    dropped: number;
    /** Replies to an id that had already timed out (counted in unsolicited too). */
    late: number;
    bytesSent: number;
    bytesReceived: number;
  };
  /** ws.rtt: every timed round trip. */
  latency: LatencyFigures;
  /** ws.rtt.<type>, by type, in name order. */
  latencyByType: Record<string, LatencyFigures>;
  connect: LatencyFigures;
  sessionLength: LatencyFigures;
  errors: Record<string, number>;
  errorsByStep: Record<string, Record<string, number>>;
  errorSamples: Record<string, ErrorSample>;
  /** Metrics processor functions emitted (`events.emit('counter' | 'rate' | 'histogram', …)`). */
  custom: { counters: Record<string, number>; histograms: Record<string, LatencyFigures> };
  phases: PhaseResult[];
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

const OWN_COUNTERS: ReadonlySet<string> = new Set(Object.values(RunMetric));
const RTT_PREFIX = `${RunMetric.rtt}.`;

export function summarizeRun(result: RunResult): RunSummary {
  const s = summarizeSnapshot(result.snapshot);
  const c = (name: string): number => s.counters[name] ?? 0;
  const received = c(RunMetric.messagesReceived);
  const latencyByType: Record<string, LatencyFigures> = {};
  const customHistograms: Record<string, LatencyFigures> = {};
  for (const name of Object.keys(s.latency)) {
    if (name.startsWith(RTT_PREFIX)) latencyByType[name.slice(RTT_PREFIX.length)] = latencyFigures(s.latency[name]);
    else if (name !== RunMetric.rtt && name !== RunMetric.connect && name !== RunMetric.sessionLength) customHistograms[name] = latencyFigures(s.latency[name]);
  }
  const customCounters: Record<string, number> = {};
  for (const name of Object.keys(s.counters).sort()) if (!OWN_COUNTERS.has(name)) customCounters[name] = s.counters[name]!;
  return {
    durationSec: s.durationSec,
    vusers: {
      created: c(RunMetric.vusersCreated),
      completed: c(RunMetric.vusersCompleted),
      failed: c(RunMetric.vusersFailed),
      skipped: c(RunMetric.vusersSkipped),
      interrupted: c(RunMetric.vusersInterrupted),
      drained: result.drained,
    },
    connections: {
      attempted: c(RunMetric.connectionsAttempted),
      successful: c(RunMetric.connectionsSuccessful),
      failed: c(RunMetric.connectionsFailed),
    },
    messages: {
      sent: c(RunMetric.messagesSent),
      received,
      perSecond: s.durationSec > 0 ? round2(received / s.durationSec) : 0,
      correlated: c(RunMetric.messagesCorrelated),
      replied: c(RunMetric.messagesReplied),
      timedOut: c(RunMetric.messagesTimedOut),
      unanswered: c(RunMetric.messagesUnanswered),
      lost: c(RunMetric.messagesLost),
      unsolicited: c(RunMetric.messagesUnsolicited),
      dropped: c(RunMetric.messagesDropped),
      late: c(RunMetric.messagesLate),
      bytesSent: c(RunMetric.bytesSent),
      bytesReceived: c(RunMetric.bytesReceived),
    },
    latency: latencyFigures(s.latency[RunMetric.rtt]),
    latencyByType,
    connect: latencyFigures(s.latency[RunMetric.connect]),
    sessionLength: latencyFigures(s.latency[RunMetric.sessionLength]),
    errors: s.errors,
    errorsByStep: result.errorsByStep,
    errorSamples: result.errorSamples,
    custom: { counters: customCounters, histograms: customHistograms },
    phases: result.phases,
  };
}
