/**
 * The stress run's text summary: the seed's "Expected Output" block, figure for figure. Pure.
 */
import type { LatencyFigures } from './latency-figures.js';
import type { StressSummary } from './stress-summary.js';

/** The rule above and below a summary block (the run summary's too). */
export const RULE = '='.repeat(40);

/** Names of WebSocket close codes (RFC 6455 §7.4.1) for error labels. */
const CLOSE_CODE_NAMES: Readonly<Record<number, string>> = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status',
  1006: 'abnormal closure',
  1007: 'invalid payload',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'missing extension',
  1011: 'internal error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
};

const FIXED_LABELS: Readonly<Record<string, string>> = {
  connect_refused: 'Connection refused',
  connect_timeout: 'Connection timeout',
  dns_failure: 'DNS lookup failed',
  host_unreachable: 'Host unreachable',
  connection_reset: 'Connection reset',
  connect_aborted: 'Connection attempt abandoned (interrupted)',
  handshake_invalid: 'Invalid handshake response',
  protocol_error: 'WebSocket protocol error',
  reply_timeout: 'Reply timeout',
  send_failed: 'Send failed',
  disconnect_timeout: 'Disconnect not acknowledged',
  unknown_error: 'Unknown error',
  fd_limit: 'Open-file limit reached (EMFILE/ENFILE)',
  no_source_port: 'No free source port (EADDRNOTAVAIL)',
  worker_crashed: 'Worker process crashed (its share is missing)',
  tls_error: 'TLS handshake failed',
  subprotocol_mismatch: 'Subprotocol not accepted',
  connection_stalled: 'Connection stalled (no reply to several requests in a row)',
};

/** A human label for an error kind ("handshake_rejected_503" → "Handshake rejected (HTTP 503)"). */
export function errorLabel(kind: string): string {
  const fixed = FIXED_LABELS[kind];
  if (fixed !== undefined) return fixed;
  let m = /^handshake_rejected_(\d+)$/.exec(kind);
  if (m) return `Handshake rejected (HTTP ${m[1]})`;
  m = /^connection_closed_(\d+)$/.exec(kind);
  if (m) {
    const code = Number(m[1]);
    const name = CLOSE_CODE_NAMES[code];
    return `Connection closed mid-run (${code}${name ? ` ${name}` : ''})`;
  }
  m = /^server_error_(.+)$/.exec(kind);
  if (m) return `Server error reply (${m[1]})`;
  m = /^error_(.+)$/.exec(kind);
  if (m) return `Socket error (${m[1]!.toUpperCase()})`;
  return kind;
}

const ms = (x: number): string => `${x.toFixed(2)}ms`;

/** The seed's four latency lines (the run summary's too). */
export function latencyLines(l: LatencyFigures): string[] {
  if (l.count === 0) return ['  Average: n/a', '  P50: n/a', '  P95: n/a', '  P99: n/a'];
  return [`  Average: ${ms(l.avg)}`, `  P50: ${ms(l.p50)}`, `  P95: ${ms(l.p95)}`, `  P99: ${ms(l.p99)}`];
}

/** Rate mode: the corrected figures with the raw ones beside, plus P99.9 and Max (the tail it is about). */
function rateLatencyLines(l: LatencyFigures, raw: LatencyFigures): string[] {
  if (l.count === 0) return ['  Average: n/a', '  P50: n/a', '  P95: n/a', '  P99: n/a', '  P99.9: n/a', '  Max: n/a'];
  const line = (label: string, key: 'avg' | 'p50' | 'p95' | 'p99' | 'p999' | 'max'): string =>
    `  ${label}: ${ms(l[key])} (raw ${raw.count === 0 ? 'n/a' : ms(raw[key])})`;
  return [line('Average', 'avg'), line('P50', 'p50'), line('P95', 'p95'), line('P99', 'p99'), line('P99.9', 'p999'), line('Max', 'max')];
}

/** The error kinds that happened, most frequent first, ties by kind: the order every report lists them in. */
export function errorKindsByCount(errors: Record<string, number>): string[] {
  return Object.keys(errors).filter((k) => errors[k]! > 0)
    .sort((a, b) => errors[b]! - errors[a]! || (a < b ? -1 : a > b ? 1 : 0));
}

/** Errors, most frequent first, ties by kind. */
function errorLines(errors: Record<string, number>): string[] {
  const kinds = errorKindsByCount(errors);
  if (kinds.length === 0) return ['Errors encountered: none'];
  return ['Errors encountered:', ...kinds.map((k) => `  ${errorLabel(k)}: ${errors[k]}`)];
}

export interface StressTextOptions {
  /** Adds `(interrupted: partial results)` under the title. */
  interrupted?: boolean;
}

/** The summary block, ending with a newline. */
export function formatStressText(s: StressSummary, opts: StressTextOptions = {}): string {
  const c = s.connections;
  const m = s.messages;
  const lines = [
    RULE,
    'WEBSOCKET STRESS TEST RESULTS',
    RULE,
    ...(opts.interrupted ? ['(interrupted: partial results)'] : []),
    `Duration: ${s.durationSec.toFixed(2)}s`,
    `Connections attempted: ${c.attempted}`,
    `Connections successful: ${c.successful}`,
    `Connections failed: ${c.failed}`,
    `Success rate: ${c.attempted > 0 ? ((c.successful / c.attempted) * 100).toFixed(2) : '0.00'}%`,
    `Messages sent: ${m.sent}`,
    `Messages received: ${m.received}`,
    `Messages/sec: ${m.perSecond.toFixed(2)}`,
    ...(s.rate === undefined ? [
      '',
      'Latency Statistics:',
      ...latencyLines(s.latency),
    ] : [
      `Rate: target ${s.rate.target.toFixed(2)} msg/s, achieved ${s.rate.achieved.toFixed(2)} msg/s`,
      `Sends behind schedule: ${s.rate.behind} (max lag ${ms(s.rate.maxLagMs)}${s.rate.behindWindow > 0 ? `; ${s.rate.behindWindow} waited for a full window: raise --inflight` : ''})`,
      '',
      'Latency Statistics (corrected: from each message\'s intended send time; raw: from its actual send):',
      ...rateLatencyLines(s.latency, s.latencyRaw ?? s.latency),
    ]),
    '',
    ...errorLines(s.errors),
    RULE,
  ];
  return `${lines.join('\n')}\n`;
}
