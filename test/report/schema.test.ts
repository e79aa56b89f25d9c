/**
 * The report schema, checked on real output: a stress run and a script run through the CLI, with
 * thresholds; and docs/report.schema.json is what the code says.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportJsonSchema, validateReport } from '../../src/report/schema.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { cli } from '../helpers/cli.js';

const wsload = async (args: string[]): Promise<number> => (await cli(args)).code;

let dir: string;
let server: RunningServer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsload-schema-'));
  server = await startServer({ port: 0, replyDelayMs: 2 });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the wsload-report/1 schema', () => {
  it('accepts the report of a real stress run', async () => {
    const file = join(dir, 'stress.json');
    expect(await wsload(['stress', '--url', server.url, '-c', '5', '-m', '40', '-o', file])).toBe(0);
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(validateReport(report)).toEqual([]);
    expect(report.thresholds).toHaveLength(6);
  });

  it('accepts the report of a real script run, phases and errors by step included', async () => {
    const script = join(dir, 'script.yml');
    await writeFile(script, `config:
  target: "${server.url}"
  phases:
    - { duration: 1, arrivalCount: 3, name: only }
  slo:
    ws.rtt.ping: ["p(99)<1000"]
scenarios:
  - engine: ws
    flow:
      - send: { payload: { type: ping }, match: { json: "$.type", value: pong } }
      - send: { payload: { type: nonsense }, match: { json: "$.type", value: pong } }
`);
    const file = join(dir, 'run.json');
    const code = await wsload(['run', script, '-o', file]);
    const report = JSON.parse(await readFile(file, 'utf8'));
    expect(code, JSON.stringify(report.errors)).toBe(0);
    expect(validateReport(report)).toEqual([]);
    expect(report.phases.map((p: { name: string }) => p.name)).toEqual(['only']);
    expect(Object.keys(report.errorsByStep).length).toBeGreaterThan(0);
  });

  it('names every field that is wrong', () => {
    const problems = validateReport({ schema: 'wsload-report/1', tool: 'wsload', command: 'stress', version: 1 });
    expect(problems).toContain('version: Invalid input: expected string, received number');
    expect(problems).toContain('latency: Invalid input: expected object, received undefined');
    expect(validateReport({ command: 'bench' })[0]).toMatch(/^command: /);
  });

  it('is published as docs/report.schema.json, up to date (npm run schema)', async () => {
    const published = JSON.parse(await readFile(new URL('../../docs/report.schema.json', import.meta.url), 'utf8'));
    expect(published).toEqual(reportJsonSchema());
  });
});
