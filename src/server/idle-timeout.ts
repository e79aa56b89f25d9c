/**
 * Idle timeout: close connections that are alive (they may well answer pings) but have sent no message
 * for `idleTimeoutMs`. One sweep timer for the whole server instead of a timer per connection re-armed on
 * every message; the hot path only stores the arrival time it already took.
 */
import { WebSocket } from 'ws';
import { CloseCode } from '../protocol/messages.js';
import { closePeer, type Peer } from './peer.js';

/** Reason sent with the idle close (code 1001, going away, as e.g. AWS API Gateway does for idle clients). */
export const IDLE_REASON = 'idle timeout';

/**
 * Start sweeping `peers`; returns the function that stops it. `idleTimeoutMs <= 0` turns it off.
 * A silent peer is closed between `idleTimeoutMs` and `idleTimeoutMs` + one sweep interval (at most 1 s,
 * a quarter of the timeout when that is shorter).
 */
export function startIdleSweep(peers: Set<Peer>, idleTimeoutMs: number): () => void {
  if (idleTimeoutMs <= 0) return stopNothing;
  const interval = Math.max(10, Math.min(1_000, Math.floor(idleTimeoutMs / 4)));
  const timer = setInterval(idleSweep, interval, peers, idleTimeoutMs);
  return () => clearInterval(timer);
}

/** One sweep; module-level so no closure is kept per round. */
function idleSweep(peers: Set<Peer>, idleTimeoutMs: number): void {
  const now = performance.now();
  for (const peer of peers) {
    if (peer.readyState === WebSocket.OPEN && now - peer.lastMessageAt >= idleTimeoutMs) {
      closePeer(peer, CloseCode.GoingAway, IDLE_REASON);
    }
  }
}

function stopNothing(): void {}
