/**
 * Pure parts of the transport and the reply parser: error classification and id extraction.
 */
import { describe, expect, it } from 'vitest';
import { classifyClose, classifyError, describeError } from '../../src/engine/connection.js';
import { readReplyId } from '../../src/engine/reply-id.js';

const withCode = (code: string, message = `x ${code}`): Error => Object.assign(new Error(message), { code });

describe('classifyError', () => {
  it.each([
    ['ECONNREFUSED', 'connect_refused'],
    ['ENOTFOUND', 'dns_failure'],
    ['EAI_AGAIN', 'dns_failure'],
    ['ETIMEDOUT', 'connect_timeout'],
    ['ECONNRESET', 'connection_reset'],
    ['EPIPE', 'connection_reset'],
    ['EHOSTUNREACH', 'host_unreachable'],
    ['ENETUNREACH', 'host_unreachable'],
    ['WS_ERR_INVALID_CLOSE_CODE', 'protocol_error'],
    ['EACCES', 'error_eacces'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls_error'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls_error'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls_error'],
    ['CERT_HAS_EXPIRED', 'tls_error'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls_error'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls_error'],
    ['EPROTO', 'tls_error'],
    ['EMFILE', 'fd_limit'],
  ])('%s → %s', (code, kind) => {
    expect(classifyError(withCode(code))).toBe(kind);
  });

  it('reads the HTTP status of a rejected handshake from ws\' message', () => {
    expect(classifyError(new Error('Unexpected server response: 503'))).toBe('handshake_rejected_503');
    expect(classifyError(new Error('Unexpected server response: 401'))).toBe('handshake_rejected_401');
  });

  it('knows ws\' own handshake timeout and bad handshake answers', () => {
    expect(classifyError(new Error('Opening handshake has timed out'))).toBe('connect_timeout');
    expect(classifyError(new Error('Invalid Sec-WebSocket-Accept header'))).toBe('handshake_invalid');
  });

  it('ws\' subprotocol complaints → subprotocol_mismatch', () => {
    expect(classifyError(new Error('Server sent no subprotocol'))).toBe('subprotocol_mismatch');
    expect(classifyError(new Error('Server sent an invalid subprotocol'))).toBe('subprotocol_mismatch');
  });

  it('classifies a dual-stack AggregateError by its first inner error', () => {
    const agg = new AggregateError([withCode('ECONNREFUSED', 'connect ECONNREFUSED ::1:8000'), withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:8000')], '');
    expect(classifyError(agg)).toBe('connect_refused');
    expect(describeError(agg)).toBe('connect ECONNREFUSED ::1:8000; connect ECONNREFUSED 127.0.0.1:8000');
  });

  it('falls back to unknown_error for anything else', () => {
    expect(classifyError(new Error('something odd'))).toBe('unknown_error');
    expect(classifyError(undefined)).toBe('unknown_error');
  });
});

describe('classifyClose', () => {
  it('names a close by its code unless a socket or protocol error explains it', () => {
    expect(classifyClose(1006, undefined)).toBe('connection_closed_1006');
    expect(classifyClose(1011, undefined)).toBe('connection_closed_1011');
    expect(classifyClose(1006, withCode('ECONNRESET'))).toBe('connection_reset');
    expect(classifyClose(1002, withCode('WS_ERR_INVALID_OPCODE'))).toBe('protocol_error');
  });
});

describe('readReplyId', () => {
  const id = (s: string): number => readReplyId(Buffer.from(s));
  it('reads the integer after the first "id" key, tolerating whitespace', () => {
    expect(id('{"type":"pong","id":42}')).toBe(42);
    expect(id('{"id":7,"type":"pong"}')).toBe(7);
    expect(id('{"type": "pong", "id" : 123456789012}')).toBe(123456789012);
  });
  it('returns -1 when the fast path cannot decide (the caller then parses)', () => {
    expect(id('{"type":"pong"}')).toBe(-1);
    expect(id('{"type":"pong","id":"42"}')).toBe(-1);
    expect(id('{"type":"pong","id":4.5}')).toBe(-1);
    expect(id('{"type":"pong","id":1e3}')).toBe(-1);
    expect(id('{"type":"pong","id":-3}')).toBe(-1);
    expect(id('{"type":"pong","id":}')).toBe(-1);
  });
  it('does not take an escaped "id" inside a string for the key', () => {
    expect(id('{"type":"error","message":"bad \\"id\\": 9","id":3}')).toBe(3);
  });
});
