/**
 * `stress`' hot path without JSON: the request frames written as bytes (they must be byte for byte
 * what the string templates made), the reply fast path, and the request mix.
 */
import { describe, expect, it } from 'vitest';
import { readPlainReplyId, resolveEngineOptions, runStress, writeAgentMessage, writePing, type StressOptions } from '../../src/engine/stress.js';
import { summarizeStress } from '../../src/report/stress-summary.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { startTestServer } from '../helpers/test-servers.js';

const { track } = closeAfterEach();

describe('requests written as bytes', () => {
  /** What the write produced: the first `length` bytes of a reused buffer full of old bytes. */
  const buf = Buffer.alloc(512, 0x7a);
  const ping = (id: number): string => buf.toString('utf8', 0, writePing(buf, id));
  const agent = (id: number, from: Buffer, a: number, ts: number): string => buf.toString('utf8', 0, writeAgentMessage(buf, id, from, a, ts));

  it('a ping is {"type":"ping","id":<id>} for ids of every length', () => {
    for (const id of [1, 9, 10, 99, 100, 12345, 999_999_999, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      expect(ping(id)).toBe(`{"type":"ping","id":${id}}`);
      expect(JSON.parse(ping(id))).toEqual({ type: 'ping', id });
    }
  });

  it('an agent message is the seed\'s, with its timestamp, for every agent and id length', () => {
    const from = Buffer.from(',"from":"user_42","to":"agent_');
    for (const [id, a, ts] of [[2, 0, 1_764_255_000_000], [10, 9, 1_764_255_000_001], [1000, 10, 1_764_255_000_001], [123_456_789, 99, 9_999_999_999_999], [4, 7, 0], [6, 7, 0]] as const) {
      const text = agent(id, from, a, ts);
      expect(text).toBe(`{"type":"agent_message","id":${id},"from":"user_42","to":"agent_${a}","payload":{"action":"execute","timestamp":${ts},"data":{}}}`);
      expect(JSON.parse(text)).toEqual({ type: 'agent_message', id, from: 'user_42', to: `agent_${a}`, payload: { action: 'execute', timestamp: ts, data: {} } });
    }
    // A ping written over a longer agent message is still exactly a ping.
    expect(ping(3)).toBe('{"type":"ping","id":3}');
  });
});

describe('readPlainReplyId: the reference server\'s reply layout', () => {
  const id = (s: string): number => readPlainReplyId(Buffer.from(s));

  it('reads the id after a plain type', () => {
    expect(id('{"type":"pong","id":1}')).toBe(1);
    expect(id('{"type":"pong","id":123456789012345}')).toBe(123456789012345);
    expect(id('{"type":"agent_response","id":42,"from":"agent_2","to":"user_0","payload":{"status":"processed","action":"execute","data":{}},"timestamp":1764255000000}')).toBe(42);
    expect(id('{"type":"","id":7}')).toBe(7);
  });

  it('leaves everything else to the general path (-1)', () => {
    for (const s of [
      '{"type":"error","id":3,"code":"boom"}', // an error reply: its kind is counted there
      '{"type":"pong","id":"3"}', // a string id
      '{"type":"pong","id":3.0}',
      '{"type":"pong","id":3e2}',
      '{"type":"pong","id":-3}',
      '{"type":"pong","id":3', // truncated
      '{"type":"pong","id":}',
      '{"type":"pong","id":1234567890123456}', // 16 digits: not one of our ids
      '{"type":"po\\"ng","id":3}', // an escape in the type
      '{"type":"pong", "id":3}', // other spacing
      '{"id":3,"type":"pong"}', // other order
      '{ "type":"pong","id":3}',
      '{"type":"pong","ids":3}',
      '{"type":"pong"}',
      '{"type":1,"id":3}',
      '[1,2,3]',
      '',
    ]) expect(id(s), s).toBe(-1);
  });
});

describe('the request mix', () => {
  const base: StressOptions = { url: 'ws://127.0.0.1:1/ws', connections: 1, messages: 1, batch: 1, replyTimeoutMs: 1000, connectTimeoutMs: 1000 };
  it('resolves to nothing for the default (reports list only what was set), else to the mix', () => {
    expect(resolveEngineOptions(base)).not.toHaveProperty('mix');
    expect(resolveEngineOptions({ ...base, mix: 'mixed' })).not.toHaveProperty('mix');
    expect(resolveEngineOptions({ ...base, mix: 'ping' }).mix).toBe('ping');
    expect(resolveEngineOptions({ ...base, mix: 'agent' }).mix).toBe('agent');
  });

  for (const [mix, ping, agent] of [['mixed', 4 * 6, 4 * 5], ['ping', 4 * 11, 0], ['agent', 0, 4 * 11]] as const) {
    it(`${mix}: ${ping} pings and ${agent} agent messages for 4 × 11, every one answered`, async () => {
      const srv = await track(startTestServer());
      const result = await runStress({ ...base, url: srv.url, connections: 4, messages: 11, batch: 4, mix });
      const s = summarizeStress(result.snapshot);
      expect(s.messages).toMatchObject({ sent: 44, received: 44, unsolicited: 0, lost: 0 });
      expect(s.errors).toEqual({});
      expect(s.latencyByType.ping?.count ?? 0).toBe(ping);
      expect(s.latencyByType.agent_message?.count ?? 0).toBe(agent);
      expect(s.latency.count).toBe(44);
      expect(srv.stats.requests).toBe(44);
    });
  }
});
