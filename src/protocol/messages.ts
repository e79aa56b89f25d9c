/**
 * The reference protocol (docs/protocol.md): JSON text frames, one object each, with a `type`.
 * Shared by the reference server and by the load side's built-in scenarios.
 * Any request may carry `id` and `timestamp`; the server echoes both on the reply.
 */

export type MessageId = string | number;

interface Correlated {
  id?: MessageId;
  timestamp?: number;
}

export interface PingRequest extends Correlated { type: 'ping' }
export interface SubscribeRequest extends Correlated { type: 'subscribe'; channel: string }
export interface UnsubscribeRequest extends Correlated { type: 'unsubscribe'; channel: string }
export interface PublishRequest extends Correlated { type: 'publish'; channel: string; data?: unknown }
export interface AgentMessageRequest extends Correlated {
  type: 'agent_message';
  from: string;
  to: string;
  payload: { action: string; timestamp?: number; data?: unknown; [k: string]: unknown };
}
export interface DisconnectRequest extends Correlated { type: 'disconnect' }

export type ClientMessage =
  | PingRequest
  | SubscribeRequest
  | UnsubscribeRequest
  | PublishRequest
  | AgentMessageRequest
  | DisconnectRequest;

export interface PongReply extends Correlated { type: 'pong' }
export interface SubscribedReply extends Correlated { type: 'subscribed'; channel: string }
export interface UnsubscribedReply extends Correlated { type: 'unsubscribed'; channel: string }
export interface PublishedReply extends Correlated { type: 'published'; channel: string; recipients: number }
export interface ChannelMessage { type: 'message'; channel: string; data: unknown }
export interface AgentResponseReply extends Correlated {
  type: 'agent_response';
  from: string;
  to: string;
  payload: { status: 'processed'; action: string; data: unknown };
}
export interface DisconnectAckReply extends Correlated { type: 'disconnect_ack' }

/** Error codes the server sends in `{"type":"error"}` replies (docs/protocol.md). */
export type ProtocolErrorCode =
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_type'
  | 'unknown_type'
  | 'missing_field'
  | 'invalid_field'
  | 'binary_not_supported';

export interface ErrorReply extends Correlated { type: 'error'; code: ProtocolErrorCode | string; message: string }

export type ServerMessage =
  | PongReply
  | SubscribedReply
  | UnsubscribedReply
  | PublishedReply
  | ChannelMessage
  | AgentResponseReply
  | DisconnectAckReply
  | ErrorReply;

/** Close codes the server uses. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  TryAgainLater: 1013,
} as const;
