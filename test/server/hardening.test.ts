/**
 * The server's limits, auth, TLS and /metrics (issue 7), against real clients on 127.0.0.1 port 0.
 * Abuse-survival cases (floods, slow readers, slow handshakes, bad input) are in abuse.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WsloadError } from '../../src/errors.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import {
  bounded, cleanupClients, connect, metricsText, PONG, rawSocket, recorder, refusedHandshake, sleep, WAIT_MS, waitForMetric, waitUntil,
} from './helpers.js';

afterEach(cleanupClients);

describe('connection and subscription limits', () => {
  it('maxConnections: the next handshake gets 503 with a short body, counted; a slot frees on close', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, maxConnections: 2 });
    try {
      const [a] = await Promise.all([connect(server.url), connect(server.url)]);
      const refused = await refusedHandshake(server.url);
      expect(refused).toMatchObject({ status: 503, body: 'too many connections: this server accepts at most 2; try again later\n' });
      expect(refused.headers['retry-after']).toBe('1');
      expect(server.snapshot().rejected.max_connections).toBe(1);
      a!.ws.close();
      await waitUntil(() => server.connections() === 1, WAIT_MS, 'a slot to free');
      expect(await (await connect(server.url)).request({ type: 'ping' })).toBe(PONG);
      expect(await metricsText(server)).toContain('wsload_server_handshakes_rejected_total{reason="max_connections"} 1\n');
    } finally {
      await server.close();
    }
  });

  it('maxSubscriptions: too_many_subscriptions past the limit; re-subscribing and unsubscribing still work', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, maxSubscriptions: 2 });
    try {
      const c = await connect(server.url);
      expect(await c.request({ type: 'subscribe', channel: 'a' })).toBe('{"type":"subscribed","channel":"a"}');
      expect(await c.request({ type: 'subscribe', channel: 'b' })).toBe('{"type":"subscribed","channel":"b"}');
      expect(await c.request({ type: 'subscribe', channel: 'c', id: 3 })).toBe(
        '{"type":"error","id":3,"code":"too_many_subscriptions","message":"this connection is subscribed to 2 channels, the most allowed; unsubscribe from one first","field":"channel"}');
      expect(await c.request({ type: 'subscribe', channel: 'a' })).toBe('{"type":"subscribed","channel":"a"}');
      expect(await c.request({ type: 'unsubscribe', channel: 'a' })).toBe('{"type":"unsubscribed","channel":"a"}');
      expect(await c.request({ type: 'subscribe', channel: 'c' })).toBe('{"type":"subscribed","channel":"c"}');
    } finally {
      await server.close();
    }
  });

  it('maxChannelLength: channel_too_long on subscribe, unsubscribe and publish; the limit itself is fine', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, maxChannelLength: 8 });
    try {
      const c = await connect(server.url);
      const tooLong = '{"type":"error","code":"channel_too_long","message":"\\"channel\\" is 9 characters long; at most 8 are allowed","field":"channel"}';
      for (const type of ['subscribe', 'unsubscribe', 'publish']) expect(await c.request({ type, channel: '123456789' })).toBe(tooLong);
      expect(await c.request({ type: 'subscribe', channel: '12345678' })).toBe('{"type":"subscribed","channel":"12345678"}');
    } finally {
      await server.close();
    }
  });

  it('idleTimeoutMs: a silent client is closed with 1001 "idle timeout"; a talking one stays', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, idleTimeoutMs: 200 });
    try {
      const started = performance.now();
      const [silent, talker] = await Promise.all([connect(server.url), connect(server.url)]);
      const ticker = setInterval(() => talker.send({ type: 'ping' }), 50);
      try {
        expect(await bounded(silent.closed, WAIT_MS, 'idle close')).toEqual({ code: 1001, reason: 'idle timeout' });
        const elapsed = performance.now() - started;
        expect(elapsed).toBeGreaterThanOrEqual(195);
        expect(elapsed).toBeLessThan(800);
        await sleep(300);
        expect(server.connections()).toBe(1);
      } finally {
        clearInterval(ticker);
      }
      await waitForMetric(server, 'wsload_server_closes_total{code="1001"} 1');
    } finally {
      await server.close();
    }
  });
});

describe('auth token and allowed origins', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ port: 0, heartbeatMs: 0, authToken: 's3cret', allowedOrigins: ['https://app.example.com'] });
  });
  afterAll(async () => { await server.close(); });

  it('no token → 401 with WWW-Authenticate: Bearer; a wrong one → 401 invalid_token', async () => {
    expect(await refusedHandshake(server.url)).toMatchObject({
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="wsload"' },
      body: 'unauthorized: send the token as "Authorization: Bearer <token>" or ?token=<token>\n',
    });
    expect(await refusedHandshake(server.url, { headers: { Authorization: 'Bearer nope' } })).toMatchObject({
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="wsload", error="invalid_token"' },
      body: 'unauthorized: the token is not valid\n',
    });
    expect(await refusedHandshake(`${server.url}?token=s3cre`)).toMatchObject({ status: 401 });
    expect(await refusedHandshake(server.url, { headers: { Authorization: 'Basic czNjcmV0' } })).toMatchObject({ status: 401 });
  });

  it('the right token as a Bearer header (any case) or as ?token= is accepted', async () => {
    for (const c of await Promise.all([
      connect(server.url, { headers: { Authorization: 'Bearer s3cret' } }),
      connect(server.url, { headers: { Authorization: 'bearer s3cret' } }),
      connect(`${server.url}?a=1&token=s3cret`),
    ])) {
      expect(await c.request({ type: 'ping' })).toBe(PONG);
    }
  });

  it('Origin: another site → 403; the allowed one or none (a non-browser client) → accepted', async () => {
    expect(await refusedHandshake(`${server.url}?token=s3cret`, { origin: 'https://evil.example' })).toMatchObject({
      status: 403, body: 'forbidden: origin "https://evil.example" is not allowed\n',
    });
    const allowed = await connect(`${server.url}?token=s3cret`, { origin: 'https://app.example.com' });
    expect(await allowed.request({ type: 'ping' })).toBe(PONG);
    expect(server.snapshot().rejected).toMatchObject({ forbidden_origin: 1 });
  });

  it('/metrics needs the token too; /healthz stays open for probes', async () => {
    const noToken = await fetch(server.metricsUrl, { signal: AbortSignal.timeout(WAIT_MS) });
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toBe('Bearer realm="wsload"');
    expect(await metricsText(server, { Authorization: 'Bearer s3cret' })).toContain('wsload_server_handshakes_rejected_total{reason="unauthorized"} 4\n');
    expect((await fetch(server.healthUrl, { signal: AbortSignal.timeout(WAIT_MS) })).status).toBe(200);
  });
});

describe('/metrics', () => {
  it('Prometheus text with connections, messages by type, replies, errors, closes, rejections and the latency histogram', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0 });
    const other = await startServer({ port: 0, heartbeatMs: 0 }); // its own registry: no clash, no shared counts
    try {
      const c = await connect(server.url);
      for (let i = 0; i < 3; i++) expect(await c.request({ type: 'ping' })).toBe(PONG);
      await c.request('nope');
      await c.request({ type: 'fly' });
      await refusedHandshake(`ws://127.0.0.1:${server.port}/elsewhere`);
      const res = await fetch(server.metricsUrl, { signal: AbortSignal.timeout(WAIT_MS) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const lines = (await res.text()).split('\n');
      for (const line of [
        '# TYPE wsload_server_connections gauge',
        'wsload_server_connections 1',
        'wsload_server_connections_total 1',
        'wsload_server_messages_received_total{type="ping"} 3',
        'wsload_server_messages_received_total{type="invalid"} 1',
        'wsload_server_messages_received_total{type="unknown"} 1',
        'wsload_server_replies_sent_total 5',
        'wsload_server_errors_total{code="invalid_json"} 1',
        'wsload_server_errors_total{code="unknown_type"} 1',
        'wsload_server_handshakes_rejected_total{reason="not_found"} 1',
        'wsload_server_backpressure_closes_total 0',
        '# TYPE wsload_server_reply_latency_seconds histogram',
        'wsload_server_reply_latency_seconds_bucket{le="+Inf"} 5',
        'wsload_server_reply_latency_seconds_count 5',
      ]) expect(lines).toContain(line);
      const sum = Number(lines.find((l) => l.startsWith('wsload_server_reply_latency_seconds_sum '))?.split(' ')[1]);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThan(0.5);

      await c.request({ type: 'disconnect' });
      await waitForMetric(server, 'wsload_server_closes_total{code="1000"} 1');
      const otherLines = (await metricsText(other)).split('\n');
      expect(otherLines).toContain('wsload_server_connections_total 0');
      expect(otherLines).toContain('wsload_server_messages_received_total{type="ping"} 0');
    } finally {
      await Promise.all([server.close(), other.close()]);
    }
  });

  it('the latency histogram includes the reply delay', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, replyDelayMs: 60 });
    try {
      const c = await connect(server.url);
      for (let i = 0; i < 4; i++) expect(await c.request({ type: 'ping' })).toBe(PONG);
      const lines = (await metricsText(server)).split('\n');
      expect(lines).toContain('wsload_server_reply_latency_seconds_bucket{le="0.05"} 0');
      expect(lines).toContain('wsload_server_reply_latency_seconds_bucket{le="0.25"} 4');
    } finally {
      await server.close();
    }
  });

  it('metrics: false → /metrics is a 404', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, metrics: false });
    try {
      expect((await fetch(server.metricsUrl, { signal: AbortSignal.timeout(WAIT_MS) })).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

/** A self-signed certificate for localhost in a temp dir, or undefined when openssl is not installed. */
function selfSigned(): { dir: string; cert: string; key: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'wsload-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore', timeout: 10_000 });
    return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

describe('TLS', () => {
  const pem = selfSigned();
  afterAll(() => { if (pem) rmSync(pem.dir, { recursive: true, force: true }); });

  it.skipIf(pem === undefined)('serves wss:// and https:// with the given certificate', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, tls: { cert: readFileSync(pem!.cert), key: readFileSync(pem!.key) } });
    try {
      expect(server.url).toBe(`wss://127.0.0.1:${server.port}/ws`);
      expect(server.healthUrl).toBe(`https://127.0.0.1:${server.port}/healthz`);
      const c = await connect(server.url, { rejectUnauthorized: false });
      expect(await c.request({ type: 'ping', id: 'tls' })).toBe('{"type":"pong","id":"tls"}');
      const status = await bounded(new Promise<number | undefined>((resolve, reject) => {
        httpsGet(server.healthUrl, { rejectUnauthorized: false }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject);
      }), WAIT_MS, 'https /healthz');
      expect(status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it.skipIf(pem === undefined)('a client that never finishes the TLS handshake is cut off after the handshake timeout', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, handshakeTimeoutMs: 200, tls: { cert: readFileSync(pem!.cert), key: readFileSync(pem!.key) } });
    try {
      const raw = await rawSocket(server.port);
      const rec = recorder(raw);
      raw.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a ClientHello, then nothing
      expect(await bounded(rec.closed, WAIT_MS, 'stalled TLS handshake cut off')).toBeLessThan(1_000);
      await waitUntil(() => server.snapshot().rejected.tls === 1, WAIT_MS, 'tls rejection counted');
    } finally {
      await server.close();
    }
  });

  it('a certificate that is not PEM is a WSLOAD_CONFIG error', async () => {
    const err = await startServer({ port: 0, tls: { cert: 'not a cert', key: 'not a key' } }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WsloadError);
    expect(err).toMatchObject({ code: 'WSLOAD_CONFIG', hint: 'pass a PEM certificate and its matching private key (--tls-cert, --tls-key)' });
    expect((err as Error).message).toMatch(/^cannot use the TLS certificate and key: /);
  });
});

describe('options', () => {
  it('every bad option is reported at once', async () => {
    await expect(startServer({ port: 0, maxConnections: 0, rateLimit: -1, idleTimeoutMs: Number.NaN, allowedOrigins: ['app.example.com'], authToken: '' }))
      .rejects.toMatchObject({
        code: 'WSLOAD_CONFIG',
        message: 'allowed origin must be scheme://host[:port] with http or https, got "app.example.com"; ' +
          'maxConnections must be a positive integer, got 0; ' +
          'rateLimit must be a number of messages per second >= 0 (0 = off), got -1; ' +
          'idleTimeoutMs must be a number of ms between 0 and 2147483647, got NaN; ' +
          'authToken must be a non-empty string when set',
      });
  });

  it('rateLimit: 0 turns the limit off', async () => {
    const server = await startServer({ port: 0, heartbeatMs: 0, rateLimit: 0 });
    try {
      const c = await connect(server.url);
      for (let i = 0; i < 3000; i++) c.send({ type: 'ping' });
      for (let i = 0; i < 3000; i++) expect(await c.next()).toBe(PONG);
    } finally {
      await server.close();
    }
  });
});
