/**
 * Per-connection state of the reference server, kept as plain fields on a `WebSocket` subclass so the
 * module-level event handlers can reach it through `this` — no closure and no map lookup per message.
 */
import { WebSocket } from 'ws';
import type { ChannelIndex } from './channels.js';

/** State shared by every connection of one server: what a handler needs beyond its own socket. */
export interface Hub {
  readonly channels: ChannelIndex;
  /** Fixed delay before a frame is handled (0 = handle at once). */
  readonly replyDelayMs: number;
  /** Frames received since start, text and binary; reported by /healthz. */
  messagesReceived: number;
  readonly log: ((line: string) => void) | undefined;
  /** Called when the last connection closes while the server is shutting down. */
  onDrained: (() => void) | undefined;
  /** The live connections (ws' client set: a socket leaves it before our 'close' handler runs). */
  readonly peers: Set<Peer>;
}

/** A frame waiting out `replyDelayMs`; kept so a closing peer can cancel it. */
export interface DelayedFrame {
  readonly peer: Peer;
  readonly data: Buffer;
  readonly isBinary: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One accepted connection. `ws` constructs it (the server's `WebSocket` option), so the constructor
 * signature is ws' own; the server fills `hub` in its 'connection' handler before any message arrives.
 */
export class Peer extends WebSocket {
  /** Cleared by each heartbeat round, set again by a pong or any message (the ws "isAlive" pattern). */
  alive = true;
  /** Channels this connection is subscribed to, for cleanup on close. */
  readonly subscriptions = new Set<string>();
  /** Frames delayed by `replyDelayMs`; allocated only when a delay is configured. */
  delayed: Set<DelayedFrame> | undefined = undefined;
  hub!: Hub;
}
