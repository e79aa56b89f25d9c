/**
 * The figures of a stress run, computed once from its metrics snapshot, for the text and JSON
 * reporters. Pure: reads a snapshot, touches nothing else.
 */
import { summarizeSnapshot, type MetricsSnapshot, type SnapshotSummary } from '../metrics/index.js';
import { latencyFigures, type LatencyFigures } from './latency-figures.js';

export interface StressSummary {
  /** The whole run: from the first handshake started to the last connection closed. */
  durationSec: number;
  connections: {
    attempted: number;
    /** Handshake completed. */
    successful: number;
    /** Handshake failed (the kinds are in `errors`). */
    failed: number;
    /** Opened, then closed by the server or the network before the client was done. */
    dropped: number;
    /** Sent every request and got the `disconnect_ack`. */
    completed: number;
    /** successful / attempted × 100; 0 when nothing was attempted. */
    successRate: number;
  };
  messages: {
    sent: number;
    /** Replies matched by id to a request. */
    received: number;
    /** received / durationSec. */
    perSecond: number;
    /** No reply within the reply timeout (= errors.reply_timeout). */
    timedOut: number;
    /** In flight when the connection closed (dropped, or interrupted). */
    lost: number;
    /** timedOut + lost; sent = received + unanswered. */
    unanswered: number;
    /** Inbound messages that matched no pending request (includes `late`). */
    unsolicited: number;
    /** Replies to one of our ids that was no longer pending (after its timeout; duplicates). */
    late: number;
    bytesSent: number;
    bytesReceived: number;
  };
  /**
   * Latency of every matched reply (`ws.rtt`). In rate mode it is measured from each request's
   * intended send time (coordinated omission corrected); `latencyRaw` then has the raw figures.
   */
  latency: LatencyFigures;
  latencyByType: Record<string, LatencyFigures>;
  connect: LatencyFigures;
  errors: Record<string, number>;
  /** Rate mode only (absent in the closed loop): the schedule's target and how well it was kept. */
  rate?: RateFigures;
  /** Rate mode only: `ws.rtt.raw`, reply time − actual send time. */
  latencyRaw?: LatencyFigures;
}

/** How a rate-mode run kept its schedule. */
export interface RateFigures {
  /** Target, messages per second for the whole run. */
  target: number;
  /** Sends per second achieved: sends / (last send − schedule start + one send interval). */
  achieved: number;
  /** Sends that went out later than their intended time by more than 10 ms (`messages.behind`). */
  behind: number;
  /** Of `behind`, the sends that waited for a slot of a full window (`messages.behind_window`): raise --inflight. */
  behindWindow: number;
  /** The largest lag of a send behind its intended time, ms (`ws.send_lag` max). */
  maxLagMs: number;
}

/** Request types of the stress scenario, in report order. */
export const STRESS_MESSAGE_TYPES = ['ping', 'agent_message'] as const;

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Rate-mode figures when the snapshot is of a rate-mode run (it has `rate.target`), else undefined. */
function rateFigures(snapshot: MetricsSnapshot, s: SnapshotSummary): RateFigures | undefined {
  const target = snapshot.gauges['rate.target'];
  if (target === undefined) return undefined;
  return {
    target,
    achieved: snapshot.gauges['rate.achieved'] ?? 0,
    behind: s.counters['messages.behind'] ?? 0,
    behindWindow: s.counters['messages.behind_window'] ?? 0,
    maxLagMs: s.latency['ws.send_lag']?.max ?? 0,
  };
}

export function summarizeStress(snapshot: MetricsSnapshot): StressSummary {
  const s = summarizeSnapshot(snapshot);
  const c = (name: string): number => s.counters[name] ?? 0;
  const attempted = c('connections.attempted');
  const successful = c('connections.successful');
  const received = c('messages.received');
  const timedOut = s.errors.reply_timeout ?? 0;
  const lost = c('messages.lost');
  const latencyByType: Record<string, LatencyFigures> = {};
  for (const type of STRESS_MESSAGE_TYPES) latencyByType[type] = latencyFigures(s.latency[`ws.rtt.${type}`]);
  const rate = rateFigures(snapshot, s);
  return {
    durationSec: s.durationSec,
    connections: {
      attempted,
      successful,
      failed: c('connections.failed'),
      dropped: c('connections.dropped'),
      completed: c('connections.completed'),
      successRate: attempted > 0 ? round2((successful / attempted) * 100) : 0,
    },
    messages: {
      sent: c('messages.sent'),
      received,
      perSecond: s.durationSec > 0 ? round2(received / s.durationSec) : 0,
      timedOut,
      lost,
      unanswered: timedOut + lost,
      unsolicited: c('messages.unsolicited'),
      late: c('messages.late'),
      bytesSent: c('bytes.sent'),
      bytesReceived: c('bytes.received'),
    },
    latency: latencyFigures(s.latency['ws.rtt']),
    latencyByType,
    connect: latencyFigures(s.latency['ws.connect']),
    errors: s.errors,
    ...(rate === undefined ? {} : { rate, latencyRaw: latencyFigures(s.latency['ws.rtt.raw']) }),
  };
}
