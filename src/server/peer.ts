/**
 * Per-connection state of the reference server, kept as plain fields on a `WebSocket` subclass so the
 * module-level event handlers can reach it through `this` — no closure and no map lookup per message.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { ChannelIndex } from './channels.js';
import type { ServerStats } from './metrics.js';

/** State shared by every connection of one server: what a handler needs beyond its own socket. */
export interface Hub {
  readonly channels: ChannelIndex;
  readonly stats: ServerStats;
  /** Fixed delay before a frame is handled (0 = handle at once). */
  readonly replyDelayMs: number;
  /** Time every reply into the latency histogram (metrics on). */
  readonly timeReplies: boolean;
  readonly maxSubscriptions: number;
  readonly maxChannelLength: number;
  /** Messages per second per connection; 0 = off. Also the bucket's capacity (one second of burst). */
  readonly rateLimit: number;
  /** `rateLimit` per millisecond: what the bucket refills by. */
  readonly rateLimitPerMs: number;
  /** The `rate_limited` error reply, serialized once. */
  readonly rateLimitedReply: string;
  readonly maxBufferedBytes: number;
  readonly log: ((line: string) => void) | undefined;
  /** Called when the last connection closes while the server is shutting down. */
  onDrained: (() => void) | undefined;
  /** The live connections: a peer joins when upgraded and leaves first thing in its 'close' handler. */
  readonly peers: Set<Peer>;
  /** The heartbeat is on (only then is a pong listened for). */
  readonly heartbeat: boolean;
  /**
   * Cluster mode only (`wsload serve --workers N`, N > 1): carries a publish to the other workers and sends
   * the `published` receipt once they answered. undefined in a single process: no IPC, no extra work.
   */
  readonly cluster: ClusterPublisher | undefined;
}

/** Forwards a publish to the subscribers on the other workers, then answers the publisher. */
export interface ClusterPublisher {
  /**
   * `json` was already delivered to this worker's `localRecipients`; deliver it on the other workers and
   * send the publisher its `published` receipt with the total.
   */
  publish(peer: Peer, id: unknown, channel: string, timestamp: unknown, localRecipients: number, json: string): void;
}

/** A frame waiting out `replyDelayMs`; kept so a closing peer can cancel it. */
export interface DelayedFrame {
  readonly peer: Peer;
  readonly data: Buffer;
  readonly isBinary: boolean;
  /** `performance.now()` when it arrived, for the reply-latency histogram. */
  readonly receivedAt: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One accepted connection. `ws` constructs it (the server's `WebSocket` option), so the constructor
 * signature is ws' own; the server fills `hub` in its 'connection' handler before any message arrives.
 */
export class Peer extends WebSocket {
  /** Cleared by each heartbeat round, set again by a pong or any message (the ws "isAlive" pattern). */
  alive = true;
  /** Channels this connection is subscribed to, for cleanup on close; allocated by the first subscribe. */
  subscriptions: Set<string> | undefined = undefined;
  /**
   * The upgraded socket ws writes to (the upgrade request's `req.socket`): corked around a reply and the
   * close frame that follows it so both leave in one write (protocol-handler.ts, `disconnect`).
   */
  socket: Duplex | undefined = undefined;
  /** Frames delayed by `replyDelayMs`; allocated only when a delay is configured. */
  delayed: Set<DelayedFrame> | undefined = undefined;
  hub!: Hub;
  /** `performance.now()` of the last message from the peer (idle timeout). */
  lastMessageAt = 0;
  /** `performance.now()` of the frame being handled (reply latency). */
  receivedAt = 0;
  /** Rate-limit token bucket: tokens left, and when it was last refilled. */
  tokens = 0;
  bucketAt = 0;
  /** Start and latest drop of the current over-the-limit episode; -Infinity when there is none. */
  limitedSince = Number.NEGATIVE_INFINITY;
  lastLimitedAt = Number.NEGATIVE_INFINITY;
  /** The code the server closed with, when it closed first (counted instead of what the peer echoes). */
  closeCodeSent = 0;
  /** Terminates a peer that did not finish the close handshake after a backpressure close. */
  closeTimer: NodeJS.Timeout | undefined = undefined;
}

/** Close `peer` with `code`, remembering that the server chose it. A no-op unless the peer is open. */
export function closePeer(peer: Peer, code: number, reason: string): void {
  if (peer.readyState !== WebSocket.OPEN) return;
  peer.closeCodeSent = code;
  peer.close(code, reason);
}
