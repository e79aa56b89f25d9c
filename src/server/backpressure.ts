/**
 * Backpressure: every frame the server sends goes through `deliver`, which refuses to queue more for a
 * peer that is not reading. A client that never reads could otherwise grow the server's memory without
 * bound (issue 7): past `maxBufferedBytes` it is closed with 1013 and counted.
 */
import { WebSocket } from 'ws';
import { CloseCode } from '../protocol/messages.js';
import { closePeer, type Peer } from './peer.js';

/** Reason sent with the 1013 close. */
export const SLOW_READER_REASON = 'slow reader: too much data buffered';

/**
 * How long a slow reader has to finish the close handshake before it is terminated. Its close frame is
 * queued behind everything it did not read, so one that really stopped reading never sees it; waiting
 * ws' default 30 s would hold its buffer that long.
 */
export const SLOW_READER_CLOSE_GRACE_MS = 1_000;

/**
 * Send one frame unless the peer is gone or has more than `maxBufferedBytes` queued, in which case it is
 * closed with 1013. So a peer never holds more than the limit plus one message. Returns whether it was sent.
 * `bufferedAmount` is ws' count of bytes in the socket's write queue plus its sender's: two field reads.
 */
export function deliver(peer: Peer, data: string | Buffer, options: { binary: boolean } | undefined): boolean {
  if (peer.readyState !== WebSocket.OPEN) return false;
  if (peer.bufferedAmount > peer.hub.maxBufferedBytes) {
    closeSlowReader(peer);
    return false;
  }
  if (options === undefined) peer.send(data);
  else peer.send(data, options);
  return true;
}

/** Close with 1013, count it, and terminate if the close handshake has not finished after the grace. */
function closeSlowReader(peer: Peer): void {
  const hub = peer.hub;
  hub.stats.backpressureCloses++;
  hub.log?.(`closing a slow reader with 1013: ${peer.bufferedAmount} bytes buffered, limit ${hub.maxBufferedBytes}`);
  closePeer(peer, CloseCode.TryAgainLater, SLOW_READER_REASON);
  peer.closeTimer = setTimeout(terminateSlowReader, SLOW_READER_CLOSE_GRACE_MS, peer);
}

function terminateSlowReader(peer: Peer): void {
  peer.closeTimer = undefined;
  if (peer.readyState !== WebSocket.CLOSED) peer.terminate();
}
