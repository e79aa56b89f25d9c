/**
 * The Markdown summary for $GITHUB_STEP_SUMMARY.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initHistograms } from '../../src/metrics/index.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { syntheticReport } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});

describe('renderMarkdown', () => {
  it('has the verdict line, the main figures, thresholds, per-step latency and errors', () => {
    const md = renderMarkdown(syntheticReport());
    const lines = md.split('\n');
    expect(lines[0]).toBe('### ❌ wsload stress — `ws://127.0.0.1:9/ws`');
    expect(lines[2]).toBe('**FAILED — thresholds: 1 met, 1 warning, 1 critical, 1 not judged** · 2.50 s · started 2025-01-15T10:00:00.000Z · wsload 0.1.0');
    for (const row of [
      '| figure | value |',
      '| Connections attempted | 10 |',
      '| Success rate | 100.00 % |',
      '| Messages sent | 173 |',
      '| Messages received | 170 |',
      '| Messages/sec | 68.00 |',
      '| Errors | **3** |',
      '| step / type | count | avg | p50 | p95 | p99 | max |',
      '| connect | 10 | 2.00 | 2.00 | 2.00 | 2.00 | 2.00 |',
      '| kind | meaning | count |',
      '| `reply_timeout` | Reply timeout | 3 |',
      '| ✖ | critical | ws.rtt.p99<10 | critical `ws.rtt.p99<10` | 99.007 ms | ws.rtt.p99 = 99.007 ms crosses critical >= 10 ms |',
      '| ✔ | met | ws.rtt.p50<1000 | critical `ws.rtt.p50<1000` | 20.015 ms | ws.rtt.p50 = 20.015 ms passes < 1000 ms |',
    ]) expect(lines).toContain(row);
    expect(md).toMatch(/^\| agent_message \| 50 \| 20\.0\d \| 20\.0\d \|/m);
    expect(md).toContain('| – | not judged | ws.rtt.nosuch.p99<5 | critical `ws.rtt.nosuch.p99<5` | — |');
    // Every table row has as many cells as its header.
    for (const block of md.split('\n\n').filter((b) => b.startsWith('|'))) {
      const rows = block.split('\n').filter(Boolean);
      const cells = (r: string): number => r.replace(/\\\|/g, '').split('|').length;
      for (const r of rows) expect(cells(r)).toBe(cells(rows[0]!));
    }
  });

  it('says when there were no thresholds, no errors, and when the run was interrupted', () => {
    const report = { ...syntheticReport({ verdicts: false }), errors: {}, aborted: true, partial: true };
    const md = renderMarkdown(report);
    expect(md).toContain('### ℹ️ wsload stress');
    expect(md).toContain('**no thresholds judged**');
    expect(md).toContain('> **Interrupted:** the run was stopped early; these are partial results.');
    expect(md).toContain('#### Errors\n\nNone.\n');
    expect(md).not.toContain('#### Thresholds');
  });
});
