/**
 * `wsload stress` and `wsload run` in-process through `main` when the target fails (issue 7): one
 * clear line each for a DNS failure, a TLS failure, a wrong path and a refused subprotocol (exit 1
 * when nothing could connect), and a target that dies mid-run (exit 1, the report written partial).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmbeddedServer } from '../../src/cli/gate.js';
import { checkFdBudget, diagnoseConnectFailure, fdLimitNote } from '../../src/cli/diagnose.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { cli } from '../helpers/cli.js';
import { selfSignedCert, startNoSubprotocolServer, startTlsServer } from '../helpers/fault-servers.js';
import { startTestServer } from '../helpers/test-servers.js';

const cleanup = closeAfterEach();
const { track } = cleanup;
const tempDir = (): Promise<string> => cleanup.tempDir('wsload-faults-');

const PROCESSOR = resolve('test/fixtures/run/faults-processor.mjs');

/** A script of `vus` users, each sending `pings` pings that await their pong. */
async function scriptFile(target: string, extra = '', flowHead = '', vus = 2, pings = 1): Promise<string> {
  const file = join(await tempDir(), 'faults.yml');
  await writeFile(file, `config:
  target: "${target}"
  processor: "${PROCESSOR}"
  phases:
    - { duration: 0.1, arrivalCount: ${vus} }
${extra}
scenarios:
  - engine: ws
    flow:
${flowHead}      - loop:
          - send:
              payload: { type: ping }
              match: { json: "$.type", value: pong }
              timeout: 1
        count: ${pings}
`);
  return file;
}

describe('one clear line when nothing could connect (exit 1)', () => {
  it('DNS: a name that does not resolve (injected lookup: no DNS query is sent)', async () => {
    const file = await scriptFile('ws://wsload-test.invalid/ws', '', '      - connect: { function: noDns }\n');
    const r = await cli(['run', file, '-q']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('error: cannot connect to ws://wsload-test.invalid/ws: the host name wsload-test.invalid does not resolve (getaddrinfo ENOTFOUND wsload-test.invalid) — check the host name in the URL\n');
  });

  const pem = selfSignedCert();
  it.skipIf(pem === undefined)('TLS: a self-signed certificate (stress and run), and the fix the line suggests works', async () => {
    const srv = await track(startTlsServer(pem!));
    const s = await cli(['stress', '--url', srv.url, '-c', '2', '-m', '1', '-q']);
    expect(s.code).toBe(1);
    expect(s.stdout).toContain('Errors encountered:\n  TLS handshake failed: 2\n');
    expect(s.stderr).toBe('error: no connection succeeded: TLS handshake failed: self-signed certificate — use a trusted certificate (NODE_EXTRA_CA_CERTS=ca.pem trusts your own CA)\n');

    const r = await cli(['run', await scriptFile(srv.url), '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: no virtual user could connect: TLS handshake failed: self-signed certificate — use a trusted certificate or config.tls.rejectUnauthorized: false\n');

    const ok = await cli(['run', await scriptFile(srv.url, '  tls:\n    rejectUnauthorized: false'), '-q']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Errors encountered: none');
  });

  it('TLS: wss:// against a plain ws:// server', async () => {
    const srv = await track(startTestServer());
    const r = await cli(['stress', '--url', srv.url.replace('ws://', 'wss://'), '-c', '1', '-m', '1', '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: no connection succeeded: TLS handshake failed: the server does not speak TLS on this port — use ws:// instead of wss://\n');
  });

  it('a wrong path: the reference server answers 404', async () => {
    const srv = await track(startEmbeddedServer());
    const url = srv.url.replace(/\/ws$/, '/wrong');
    const r = await cli(['stress', '--url', url, '-c', '2', '-m', '1', '-q']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  Handshake rejected (HTTP 404): 2\n');
    expect(r.stderr).toBe('error: no connection succeeded: the server answered 404 for /wrong — check the path (the reference server listens on /ws)\n');
  });

  it('a subprotocol the server does not accept', async () => {
    const srv = await track(startNoSubprotocolServer());
    const r = await cli(['run', await scriptFile(srv.url, '  ws:\n    subprotocols: [chat.v2]'), '-q']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Subprotocol not accepted: 2');
    expect(r.stderr).toBe("error: no virtual user could connect: the server did not accept the subprotocol offered (Server sent no subprotocol) — offer one the server supports (config.ws.subprotocols, or the connect step's subprotocols)\n");
  });
});

describe('the target dies mid-run', () => {
  it('stress: every connection dropped → exit 1 with one line, the JSON written partial with exit code 1', async () => {
    const srv = await startTestServer({ replyDelayMs: 2 });
    setTimeout(() => void srv.close(), 200);
    const file = join(await tempDir(), 'r.json');
    const started = performance.now();
    const r = await cli(['stress', '--url', srv.url, '-c', '3', '-m', '1000000', '-q', '--json', file]);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the target went away during the run \((Connection closed mid-run \(1006 abnormal closure\)|Connection reset): \d.*\): the figures cover only the part before it, the report is marked partial\n$/);
    expect(r.stdout).toContain('WEBSOCKET STRESS TEST RESULTS');
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(report).toMatchObject({ aborted: false, partial: true, connections: { successful: 3, dropped: 3 }, verdict: { exitCode: 1 } });
    expect(report.metrics.counters['target.lost']).toBe(1);
    expect(report.messages.sent).toBe(report.messages.received + report.messages.timedOut + report.messages.lost);
  });

  it('a healthy run is not partial; one with a dropped connection is', async () => {
    const srv = await track(startTestServer({ dropAfter: 2 }));
    const file = join(await tempDir(), 'r.json');
    const r = await cli(['stress', '--url', srv.url, '-c', '2', '-m', '3', '-q', '--json', file]);
    expect(r.code, 'one dropped connection is an error, not a dead target').not.toBe(1);
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(report).toMatchObject({ partial: true, connections: { dropped: 1 } });
    expect(report.metrics.counters['target.lost']).toBeUndefined();
    const ok = await cli(['stress', '--url', (await track(startTestServer())).url, '-c', '2', '-m', '3', '-q', '--json', file]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8')).partial).toBe(false);
  });
});

describe('the lines themselves (pure)', () => {
  it('diagnoseConnectFailure', () => {
    const stress = { command: 'stress' as const, url: 'ws://nowhere.invalid:8000/ws' };
    expect(diagnoseConnectFailure('dns_failure', 'getaddrinfo ENOTFOUND nowhere.invalid', stress)).toEqual({
      message: 'the host name nowhere.invalid does not resolve (getaddrinfo ENOTFOUND nowhere.invalid)', hint: 'check the host name in the URL',
    });
    expect(diagnoseConnectFailure('handshake_rejected_401', 'handshake rejected: HTTP 401', { command: 'run', url: 'ws://h.invalid/ws' })?.hint).toMatch(/Bearer/);
    expect(diagnoseConnectFailure('handshake_rejected_503', 'x', stress), 'its label says enough').toBeUndefined();
    expect(diagnoseConnectFailure('connect_refused', 'connect ECONNREFUSED', stress)).toBeUndefined();
  });

  it('checkFdBudget: refuses past the soft limit with the fix; fdLimitNote after a run', () => {
    expect(checkFdBudget(100, 1024)).toBeUndefined();
    expect(checkFdBudget(100, undefined)).toBeUndefined();
    expect(checkFdBudget(30_000, 1024)).toBe("30000 connections need about 30100 file descriptors but this process may open 1024 (ulimit -n): raise it with 'ulimit -n 65536' or open at most 924 connections");
    expect(checkFdBudget(500, 1024, { serve: true })).toMatch(/^500 connections need about 1100 file descriptors .* or open at most 462 connections$/);
    expect(checkFdBudget(30_000, 1024, { workersFlag: true })).toMatch(/or use --workers N to spread them over processes$/);
    expect(fdLimitNote(3, 256)).toBe("3 connections failed: this process ran out of file descriptors (ulimit -n is 256) — raise the limit with 'ulimit -n 65536', or open fewer connections per process");
  });
});
