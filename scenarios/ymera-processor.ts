/**
 * Processor functions of scenarios/ymera.yml: the seed's websocket_processor.js in TypeScript, with
 * Artillery's signatures `(context, events, done)`, so Artillery and wsload both run it.
 *
 * wsload already times every message (ws.rtt.agent_message); measureLatency keeps the seed's own
 * measure (server timestamp echo, whole milliseconds) as the custom histogram `agent_message.latency`,
 * and printStats prints the processor's view at most every 10 s, never once per virtual user.
 */

/** The part of Artillery's context these functions use. */
interface Context {
  vars: Record<string, unknown>;
}

/** The part of Artillery's events emitter these functions use. */
interface Events {
  emit(event: 'histogram', name: string, value: number): unknown;
  emit(event: 'counter', name: string, value: number): unknown;
}

type Done = (err?: Error) => void;

/** Newest latencies (ms), at most this many: a long run must not grow memory. */
const KEEP = 10_000;
const latencies: number[] = [];
let next = 0;
let seen = 0;
const PRINT_EVERY_MS = 10_000;
let lastPrint = Date.now();

/** Random user and agent ids for this virtual user (`userId`, `agentId`). */
export function generateUserId(context: Context, _events: Events, done: Done): void {
  context.vars.userId = `user_${Math.floor(Math.random() * 100_000)}`;
  context.vars.agentId = `agent_${Math.floor(Math.random() * 1_000)}`;
  done();
}

/** The agent message the next `send` sends (`agentMessage`), stamped with the time it was built. */
export function sendAgentMessage(context: Context, _events: Events, done: Done): void {
  context.vars.agentMessage = {
    type: 'agent_message',
    from: context.vars.userId,
    to: context.vars.agentId,
    payload: {
      action: Math.random() < 0.5 ? 'execute' : 'status',
      timestamp: Date.now(),
      data: {},
    },
  };
  done();
}

/** The seed's latency: now minus the timestamp the server echoed (captured as `sentAt`). */
export function measureLatency(context: Context, events: Events, done: Done): void {
  const sentAt = Number(context.vars.sentAt);
  if (Number.isFinite(sentAt) && sentAt > 0) {
    const latency = Date.now() - sentAt;
    latencies[next] = latency;
    next = (next + 1) % KEEP;
    seen++;
    events.emit('histogram', 'agent_message.latency', latency);
  }
  done();
}

/** Average, P50, P95 and P99 of the latencies kept so far, at most once every 10 s (stderr). */
export function printStats(_context: Context, _events: Events, done: Done): void {
  const now = Date.now();
  if (now - lastPrint >= PRINT_EVERY_MS && latencies.length > 0) {
    lastPrint = now;
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    const avg = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    console.error(`[ymera] agent messages: ${seen} · latency avg ${avg.toFixed(2)}ms p50 ${at(0.5)}ms p95 ${at(0.95)}ms p99 ${at(0.99)}ms (processor view, last ${sorted.length})`);
  }
  done();
}
