/**
 * Per-connection message rate limit: a token bucket holding one second's worth of messages, refilled
 * continuously. A message that finds the bucket empty is dropped unparsed and answered `rate_limited`;
 * a connection that is still being limited 2 s into an episode is closed with 1008 (issue 7: "error
 * reply, then close 1008 if it goes on").
 */
import { CloseCode } from '../protocol/messages.js';
import { deliver } from './backpressure.js';
import { Received } from './metrics.js';
import { closePeer, type Peer } from './peer.js';

/** A connection still dropping messages this long after its episode began is closed with 1008. */
export const RATE_LIMIT_CLOSE_AFTER_MS = 2_000;
/** An episode ends after this long without a drop; a client only slightly over the limit is not closed. */
export const RATE_LIMIT_EPISODE_GAP_MS = 1_000;
/** Reason sent with the 1008 close. */
export const RATE_LIMIT_REASON = 'rate limit exceeded';

/** Fill a new connection's bucket: a fresh client may burst one second's worth at once. */
export function startBucket(peer: Peer, now: number): void {
  peer.tokens = peer.hub.rateLimit;
  peer.bucketAt = now;
}

/**
 * Take one token for a message arriving at `now` (ms, monotonic). Returns true if the message may be
 * handled; false if it was dropped, in which case the error reply has been sent, or the peer closed.
 */
export function takeToken(peer: Peer, now: number): boolean {
  const hub = peer.hub;
  let tokens = peer.tokens + (now - peer.bucketAt) * hub.rateLimitPerMs;
  if (tokens > hub.rateLimit) tokens = hub.rateLimit;
  peer.bucketAt = now;
  if (tokens >= 1) {
    peer.tokens = tokens - 1;
    return true;
  }
  peer.tokens = tokens;
  hub.stats.received[Received.dropped]++;
  if (now - peer.lastLimitedAt > RATE_LIMIT_EPISODE_GAP_MS) peer.limitedSince = now;
  peer.lastLimitedAt = now;
  if (now - peer.limitedSince >= RATE_LIMIT_CLOSE_AFTER_MS) {
    hub.log?.(`closing a connection with 1008: over ${hub.rateLimit} messages/s for ${RATE_LIMIT_CLOSE_AFTER_MS} ms`);
    closePeer(peer, CloseCode.PolicyViolation, RATE_LIMIT_REASON);
    return false;
  }
  hub.stats.countError('rate_limited');
  if (deliver(peer, hub.rateLimitedReply, undefined)) hub.stats.repliesSent++;
  return false;
}

/** The `rate_limited` error reply, serialized once per server: a dropped message costs no JSON work. */
export function rateLimitedReply(rateLimit: number): string {
  return JSON.stringify({
    type: 'error',
    code: 'rate_limited',
    message: `rate limit exceeded: at most ${rateLimit} messages/s per connection; this message was dropped`,
  });
}
