/**
 * The reference protocol, server side (docs/protocol.md): one JSON object per text frame, dispatched on
 * `type`, answered with one JSON reply. Bad input is answered with an `error` reply and the connection
 * stays open — a load test must be able to see, and count, what it got wrong.
 *
 * This is the benchmark target's hot path: a switch on `type`, one object literal, one JSON.stringify.
 * Replies list `type` first and `id` second; undefined fields (no id, no timestamp) vanish in stringify.
 */
import { WebSocket, type RawData } from 'ws';
import { CloseCode } from '../protocol/messages.js';
import { deliver } from './backpressure.js';
import { Received, type ServerErrorCode } from './metrics.js';
import { closePeer, type Peer } from './peer.js';

/** Every request type, in the order the docs list them; named in `unknown_type` errors. */
export const REQUEST_TYPES = ['ping', 'subscribe', 'unsubscribe', 'publish', 'agent_message', 'disconnect'] as const;

const KNOWN_TYPES = REQUEST_TYPES.join(', ');

/** Reason sent with the close that follows `disconnect_ack`. */
export const DISCONNECT_REASON = 'client requested disconnect';

/** A parsed request: any JSON object. Fields are checked where they are used. */
type Request = Record<string, unknown>;

/** Sent when a request cannot be serialized back: V8 parses any depth, but stringify recurses. */
const TOO_DEEP_MESSAGE = 'message is nested too deeply to handle; keep JSON nesting to a few hundred levels';

/**
 * Handle one frame from `peer`. Never throws: every problem becomes an error reply.
 * @param data the frame payload (a Buffer: the server keeps ws' default `binaryType`)
 */
export function handleFrame(peer: Peer, data: RawData, isBinary: boolean): void {
  const stats = peer.hub.stats;
  if (isBinary) {
    stats.received[Received.binary]++;
    sendError(peer, undefined, 'binary_not_supported', 'binary frames are not supported; send one JSON object per text frame');
    return;
  }
  // ws has already checked the frame is valid UTF-8 (or closed the connection with 1007).
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    stats.received[Received.invalid]++;
    if (err instanceof RangeError) {
      sendError(peer, undefined, 'nesting_too_deep', TOO_DEEP_MESSAGE);
    } else {
      // Fixed wording: V8's parse messages change between Node versions and tests assert this text.
      sendError(peer, undefined, 'invalid_json', 'frame is not valid JSON; send one JSON object per text frame');
    }
    return;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    stats.received[Received.invalid]++;
    sendError(peer, undefined, 'not_an_object', `expected a JSON object, got ${describe(parsed)}`);
    return;
  }
  const req = parsed as Request;
  const timestamp = req.timestamp;
  if (typeof timestamp === 'object' && timestamp !== null && !serializable(timestamp)) {
    // It is echoed on every reply; reject it before any subscription or fan-out happens. The error
    // echoes the id only (sendError keeps it when it is a string or a number).
    stats.received[Received.invalid]++;
    sendError(peer, { id: req.id }, 'nesting_too_deep', TOO_DEEP_MESSAGE);
    return;
  }
  try {
    handleRequest(peer, req);
  } catch (err) {
    // A thrown handler would otherwise escape through ws' socket 'data' handler and kill the process.
    // The usual cause: JSON.stringify hitting the stack limit on deeply nested `data`. Every reply and
    // fan-out message is serialized before the state change or send it goes with, so a request that
    // fails here has changed nothing.
    if (err instanceof RangeError) {
      sendError(peer, { id: req.id }, 'nesting_too_deep', TOO_DEEP_MESSAGE);
    } else {
      peer.hub.log?.(`internal error handling a ${typeof req.type === 'string' ? quote(req.type) : 'message'}: ${err instanceof Error ? err.message : String(err)}`);
      sendError(peer, { id: req.id }, 'internal_error', 'the server failed to handle this message');
    }
  }
}

/** Dispatch a request object on its `type`. */
function handleRequest(peer: Peer, req: Request): void {
  const received = peer.hub.stats.received;
  const id = req.id;
  const type = req.type;
  if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') {
    received[typeof type === 'string' ? receivedSlot(type) : Received.unknown]++;
    // An id we cannot echo would break the client's correlation silently; say so instead.
    sendError(peer, req, 'invalid_field', `"id" must be a string or a number, got ${describe(id)}`, 'id');
    return;
  }
  if (typeof type !== 'string') {
    received[Received.unknown]++;
    sendError(peer, req, 'missing_type', type === undefined
      ? 'message has no "type" field'
      : `"type" must be a string, got ${describe(type)}`);
    return;
  }
  switch (type) {
    case 'ping':
      received[Received.ping]++;
      reply(peer, JSON.stringify({ type: 'pong', id, timestamp: req.timestamp }));
      return;
    case 'subscribe': {
      received[Received.subscribe]++;
      const channel = channelOf(peer, req);
      if (channel === undefined) return;
      const subscriptions = peer.subscriptions;
      const subscribed = subscriptions === undefined ? 0 : subscriptions.size;
      if (subscribed >= peer.hub.maxSubscriptions && subscriptions?.has(channel) !== true) {
        sendError(peer, req, 'too_many_subscriptions',
          `this connection is subscribed to ${subscribed} channels, the most allowed; unsubscribe from one first`, 'channel');
        return;
      }
      const text = JSON.stringify({ type: 'subscribed', id, channel, timestamp: req.timestamp });
      peer.hub.channels.subscribe(peer, channel);
      reply(peer, text);
      return;
    }
    case 'unsubscribe': {
      received[Received.unsubscribe]++;
      const channel = channelOf(peer, req);
      if (channel === undefined) return;
      const text = JSON.stringify({ type: 'unsubscribed', id, channel, timestamp: req.timestamp });
      peer.hub.channels.unsubscribe(peer, channel);
      reply(peer, text);
      return;
    }
    case 'publish': {
      received[Received.publish]++;
      const channel = channelOf(peer, req);
      if (channel === undefined) return;
      const message = JSON.stringify({ type: 'message', channel, data: req.data === undefined ? null : req.data });
      // The receipt needs the recipient count, so it is serialized after the fan-out; a `timestamp` that
      // could make that throw was already rejected at the top. A subscribed publisher sees its own
      // message before the `published` receipt.
      const hub = peer.hub;
      const recipients = hub.channels.publish(channel, message);
      hub.stats.fanoutSent += recipients;
      // Cluster mode: the other workers' subscribers are reached over IPC and the receipt follows later.
      if (hub.cluster !== undefined) hub.cluster.publish(peer, id, channel, req.timestamp, recipients, message);
      else reply(peer, JSON.stringify({ type: 'published', id, channel, recipients, timestamp: req.timestamp }));
      return;
    }
    case 'agent_message':
      received[Received.agent_message]++;
      handleAgentMessage(peer, req);
      return;
    case 'disconnect': {
      received[Received.disconnect]++;
      // The ack and the close frame behind it leave in one write (one segment, one read on the client's
      // side) instead of two: the socket is corked around both. Same bytes, same order.
      const socket = peer.socket;
      socket?.cork();
      try {
        reply(peer, JSON.stringify({ type: 'disconnect_ack', id, timestamp: req.timestamp }));
        // Queued behind the ack, so the client always reads the ack before the close frame.
        closePeer(peer, CloseCode.Normal, DISCONNECT_REASON);
      } finally {
        socket?.uncork();
      }
      return;
    }
    default:
      received[Received.unknown]++;
      sendError(peer, req, 'unknown_type', `unknown type ${quote(type)}; known types: ${KNOWN_TYPES}`);
  }
}

/** Slot in `received` for a request type string (only used on the rare invalid-id path). */
function receivedSlot(type: string): number {
  return (REQUEST_TYPES as readonly string[]).includes(type) ? Received[type as (typeof REQUEST_TYPES)[number]] : Received.unknown;
}

/**
 * Answer an agent message as the agent would: from/to swapped, `status: processed`, the action and data
 * echoed. The top-level timestamp is the request's, or else the payload's, so a client can time the
 * round trip from either.
 */
function handleAgentMessage(peer: Peer, req: Request): void {
  const from = req.from;
  const to = req.to;
  const payload = req.payload;
  if (from === undefined) return sendError(peer, req, 'missing_field', 'agent_message requires "from" (a string)', 'from');
  if (typeof from !== 'string') return sendError(peer, req, 'invalid_field', `"from" must be a string, got ${describe(from)}`, 'from');
  if (to === undefined) return sendError(peer, req, 'missing_field', 'agent_message requires "to" (a string)', 'to');
  if (typeof to !== 'string') return sendError(peer, req, 'invalid_field', `"to" must be a string, got ${describe(to)}`, 'to');
  if (payload === undefined) return sendError(peer, req, 'missing_field', 'agent_message requires "payload" (an object with a string "action")', 'payload');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return sendError(peer, req, 'invalid_field', `"payload" must be an object, got ${describe(payload)}`, 'payload');
  }
  const body = payload as Request;
  const action = body.action;
  if (action === undefined) return sendError(peer, req, 'missing_field', 'agent_message requires "payload.action" (a string)', 'payload.action');
  if (typeof action !== 'string') return sendError(peer, req, 'invalid_field', `"payload.action" must be a string, got ${describe(action)}`, 'payload.action');
  reply(peer, JSON.stringify({
    type: 'agent_response',
    id: req.id,
    from: to,
    to: from,
    payload: { status: 'processed', action, data: body.data === undefined ? {} : body.data },
    timestamp: req.timestamp !== undefined ? req.timestamp : body.timestamp,
  }));
}

/**
 * The request's `channel` if it is a non-empty string within `maxChannelLength`; otherwise send the error
 * and return undefined.
 */
function channelOf(peer: Peer, req: Request): string | undefined {
  const channel = req.channel;
  if (typeof channel === 'string' && channel !== '') {
    const max = peer.hub.maxChannelLength;
    if (channel.length <= max) return channel;
    sendError(peer, req, 'channel_too_long', `"channel" is ${channel.length} characters long; at most ${max} are allowed`, 'channel');
    return undefined;
  }
  if (channel === undefined) {
    sendError(peer, req, 'missing_field', `${req.type as string} requires "channel" (a non-empty string)`, 'channel');
  } else {
    sendError(peer, req, 'invalid_field', `"channel" must be a non-empty string, got ${describe(channel)}`, 'channel');
  }
  return undefined;
}

/**
 * The `published` receipt sent after the other workers answered (cluster mode), timed from the publish
 * frame's arrival. Dropped if the publisher has gone meanwhile.
 */
export function replyPublished(peer: Peer, id: unknown, channel: string, recipients: number, timestamp: unknown, receivedAt: number): void {
  if (peer.readyState !== WebSocket.OPEN) return;
  // Only the reply timing reads it, and every frame sets it again before it is handled.
  peer.receivedAt = receivedAt;
  reply(peer, JSON.stringify({ type: 'published', id, channel, recipients, timestamp }));
}

/**
 * Send one serialized reply (through the backpressure check), count it, and time it from the frame's
 * arrival when metrics are on.
 */
function reply(peer: Peer, text: string): void {
  const hub = peer.hub;
  if (!deliver(peer, text, undefined)) return;
  hub.stats.repliesSent++;
  if (hub.timeReplies) hub.stats.observeLatency((performance.now() - peer.receivedAt) / 1000);
}

/**
 * Send an `error` reply. The request's id and timestamp are echoed when the request was an object with
 * a usable id; `field` names the offending field for missing_field / invalid_field.
 */
function sendError(peer: Peer, req: Request | undefined, code: ServerErrorCode, message: string, field?: string): void {
  peer.hub.stats.countError(code);
  const id = req?.id;
  let text: string;
  try {
    text = JSON.stringify({
      type: 'error',
      id: typeof id === 'string' || typeof id === 'number' ? id : undefined,
      code,
      message,
      field,
      timestamp: req?.timestamp,
    });
  } catch {
    // A `timestamp` too deep to serialize: answer without echoing it.
    text = JSON.stringify({ type: 'error', id: typeof id === 'string' || typeof id === 'number' ? id : undefined, code, message, field });
  }
  reply(peer, text);
}

/** Whether JSON.stringify can serialize `value` (it recurses, so very deep values overflow the stack). */
function serializable(value: unknown): boolean {
  try {
    JSON.stringify(value);
    return true;
  } catch {
    return false;
  }
}

/** "a number", "an array", "null" … for error messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === '') return 'an empty string';
  switch (typeof value) {
    case 'object': return 'an object';
    case 'number': return 'a number';
    case 'string': return 'a string';
    case 'boolean': return 'a boolean';
    default: return typeof value;
  }
}

/** JSON-quote a client-supplied string for a message, cut short so a huge `type` cannot bloat the reply. */
function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}
