/** The library entry: the documented pieces are exported and work together without the CLI. */
import { describe, expect, it } from 'vitest';
import * as wsload from '../src/index.js';

describe('the public API', () => {
  it('runs a stress test against the reference server from code', async () => {
    const server = await wsload.startServer({ port: 0 });
    try {
      const result = await wsload.runStress({ url: server.url, connections: 2, messages: 3, batch: 2, replyTimeoutMs: 2000, connectTimeoutMs: 2000 });
      expect(result.snapshot.counters['messages.received']).toBe(6);
      const verdicts = wsload.evaluate(wsload.buildThresholdSet({ cli: wsload.parseCliThresholds(['messages.received==6']) }), wsload.createMetricView(result.snapshot));
      expect(verdicts.map((v) => v.status)).toEqual(['met']);
    } finally {
      await server.close();
    }
  });

  it('exports the pieces the docs name', () => {
    for (const name of ['loadScript', 'runScript', 'runStressDistributed', 'mergeSnapshots', 'validateReport', 'WsloadError', 'FakeClock']) {
      expect(typeof (wsload as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(wsload.ExitCode.ThresholdCritical).toBe(3);
  });
});
