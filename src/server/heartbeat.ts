/**
 * Heartbeat: find peers that vanished without a close (pulled cable, frozen process) so they do not hold
 * sockets and subscriptions forever. The classic ws pattern: each round pings every peer and terminates
 * the ones that have not shown life — a pong or any message — since the previous round.
 */
import { WebSocket } from 'ws';
import type { Peer } from './peer.js';

/**
 * Start pinging `peers` every `intervalMs`; returns the function that stops it. `intervalMs <= 0` turns
 * the heartbeat off. A silent peer lives between one and two intervals before it is terminated.
 */
export function startHeartbeat(peers: Set<Peer>, intervalMs: number, onTerminate: (peer: Peer) => void): () => void {
  if (intervalMs <= 0) return stopNothing;
  const timer = setInterval(heartbeatRound, intervalMs, peers, onTerminate);
  return () => clearInterval(timer);
}

/** One round: terminate the silent, ping the rest. Module-level so no closure is kept per round. */
function heartbeatRound(peers: Set<Peer>, onTerminate: (peer: Peer) => void): void {
  for (const peer of peers) {
    if (peer.readyState !== WebSocket.OPEN) continue;
    if (!peer.alive) {
      onTerminate(peer);
      peer.terminate();
      continue;
    }
    peer.alive = false;
    peer.ping();
  }
}

function stopNothing(): void {}
