/**
 * The reference protocol, server side (docs/protocol.md): one JSON object per text frame, dispatched on
 * `type`, answered with one JSON reply. Bad input is answered with an `error` reply and the connection
 * stays open — a load test must be able to see, and count, what it got wrong.
 *
 * This is the benchmark target's hot path: a switch on `type`, one object literal, one JSON.stringify.
 * Replies list `type` first and `id` second; undefined fields (no id, no timestamp) vanish in stringify.
 */
import type { RawData } from 'ws';
import { CloseCode, type ProtocolErrorCode } from '../protocol/messages.js';
import type { Peer } from './peer.js';

/** Every request type, in the order the docs list them; named in `unknown_type` errors. */
export const REQUEST_TYPES = ['ping', 'subscribe', 'unsubscribe', 'publish', 'agent_message', 'disconnect'] as const;

const KNOWN_TYPES = REQUEST_TYPES.join(', ');

/** Reason sent with the close that follows `disconnect_ack`. */
export const DISCONNECT_REASON = 'client requested disconnect';

/** A parsed request: any JSON object. Fields are checked where they are used. */
type Request = Record<string, unknown>;

/**
 * Handle one frame from `peer`. Never throws on bad input: every problem becomes an error reply.
 * @param data the frame payload (a Buffer: the server keeps ws' default `binaryType`)
 */
export function handleFrame(peer: Peer, data: RawData, isBinary: boolean): void {
  if (isBinary) {
    sendError(peer, undefined, 'binary_not_supported', 'binary frames are not supported; send one JSON object per text frame');
    return;
  }
  // ws has already checked the frame is valid UTF-8 (or closed the connection with 1007).
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Fixed wording: V8's parse messages change between Node versions and tests assert this text.
    sendError(peer, undefined, 'invalid_json', 'frame is not valid JSON; send one JSON object per text frame');
    return;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    sendError(peer, undefined, 'not_an_object', `expected a JSON object, got ${describe(parsed)}`);
    return;
  }
  handleRequest(peer, parsed as Request);
}

/** Dispatch a request object on its `type`. */
function handleRequest(peer: Peer, req: Request): void {
  const id = req.id;
  if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') {
    // An id we cannot echo would break the client's correlation silently; say so instead.
    sendError(peer, req, 'invalid_field', `"id" must be a string or a number, got ${describe(id)}`, 'id');
    return;
  }
  const type = req.type;
  if (typeof type !== 'string') {
    sendError(peer, req, 'missing_type', type === undefined
      ? 'message has no "type" field'
      : `"type" must be a string, got ${describe(type)}`);
    return;
  }
  switch (type) {
    case 'ping':
      reply(peer, { type: 'pong', id, timestamp: req.timestamp });
      return;
    case 'subscribe': {
      const channel = channelOf(peer, req);
      if (channel === undefined) return;
      peer.hub.channels.subscribe(peer, channel);
      reply(peer, { type: 'subscribed', id, channel, timestamp: req.timestamp });
      return;
    }
    case 'unsubscribe': {
      const channel = channelOf(peer, req);
      if (channel === undefined) return;
      peer.hub.channels.unsubscribe(peer, channel);
      reply(peer, { type: 'unsubscribed', id, channel, timestamp: req.timestamp });
      return;
    }
    case 'publish': {
      const channel = channelOf(peer, req);
      if (channel === undefined) return;
      // Fan-out first, so a subscribed publisher sees its own message before the `published` receipt.
      const recipients = peer.hub.channels.publish(channel, JSON.stringify({
        type: 'message', channel, data: req.data === undefined ? null : req.data,
      }));
      reply(peer, { type: 'published', id, channel, recipients, timestamp: req.timestamp });
      return;
    }
    case 'agent_message':
      handleAgentMessage(peer, req);
      return;
    case 'disconnect':
      reply(peer, { type: 'disconnect_ack', id, timestamp: req.timestamp });
      // Queued behind the ack, so the client always reads the ack before the close frame.
      peer.close(CloseCode.Normal, DISCONNECT_REASON);
      return;
    default:
      sendError(peer, req, 'unknown_type', `unknown type ${quote(type)}; known types: ${KNOWN_TYPES}`);
  }
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
  reply(peer, {
    type: 'agent_response',
    id: req.id,
    from: to,
    to: from,
    payload: { status: 'processed', action, data: body.data === undefined ? {} : body.data },
    timestamp: req.timestamp !== undefined ? req.timestamp : body.timestamp,
  });
}

/**
 * The request's `channel` if it is a non-empty string; otherwise send the error and return undefined.
 */
function channelOf(peer: Peer, req: Request): string | undefined {
  const channel = req.channel;
  if (typeof channel === 'string' && channel !== '') return channel;
  if (channel === undefined) {
    sendError(peer, req, 'missing_field', `${req.type as string} requires "channel" (a non-empty string)`, 'channel');
  } else {
    sendError(peer, req, 'invalid_field', `"channel" must be a non-empty string, got ${describe(channel)}`, 'channel');
  }
  return undefined;
}

/** Serialize and send one reply. */
function reply(peer: Peer, message: object): void {
  peer.send(JSON.stringify(message));
}

/**
 * Send an `error` reply. The request's id and timestamp are echoed when the request was an object with
 * a usable id; `field` names the offending field for missing_field / invalid_field.
 */
function sendError(peer: Peer, req: Request | undefined, code: ProtocolErrorCode, message: string, field?: string): void {
  const id = req?.id;
  reply(peer, {
    type: 'error',
    id: typeof id === 'string' || typeof id === 'number' ? id : undefined,
    code,
    message,
    field,
    timestamp: req?.timestamp,
  });
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
