/**
 * The live feed: fed a run's interval samples one by one, it holds exactly the series and verdicts
 * the reports compute from the final snapshot (the same code, nothing computed twice), the state a
 * frame shows, `stress`'s stages as bands, and the final report once the run ends.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initHistograms, MetricsRecorder } from '../../src/metrics/index.js';
import { LiveFeed, workStage, type FeedEvent } from '../../src/live/feed.js';
import { buildSeries } from '../../src/report/series.js';
import * as T from '../../src/thresholds/index.js';
import { START, syntheticReport, syntheticSnapshot } from '../report/fixtures.js';

import { RUN_META, set, STRESS_META } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});


describe('LiveFeed', () => {
  it('holds the series and verdicts the reports compute from the final snapshot', () => {
    const snapshot = syntheticSnapshot();
    const feed = new LiveFeed(RUN_META, { thresholds: set() });
    const events: FeedEvent[] = [];
    feed.subscribe((e) => events.push(e));
    for (const sample of snapshot.intervals) feed.add(sample);
    expect(feed.series()).toEqual(buildSeries(snapshot));
    expect(feed.verdicts()).toEqual(T.evaluate(set(), T.createMetricView(snapshot)));
    expect(events.map((e) => e.type)).toEqual(['point', 'point', 'point']);
    expect(feed.errors()).toEqual({ reply_timeout: 3 });
    feed.close();
  });

  it('folds a second sample of the same interval into its point, as buildSeries does', () => {
    const rec = new MetricsRecorder({ startTime: START, intervalMs: 1000 });
    const sent = rec.counter('messages.sent');
    sent.value = 10;
    const a = rec.tick(START + 1000);
    sent.value = 15;
    // A worker's part of the same interval (merged samples can share an index).
    const b = { ...rec.tick(START + 2000), index: 0, start: START + 1000 };
    rec.destroy();
    const feed = new LiveFeed(STRESS_META);
    feed.add(a);
    feed.add(b);
    expect(feed.series()).toHaveLength(1);
    expect(feed.series()[0]!.sentPerSec).toBe(7.5);
    feed.close();
  });

  it("tells a run's state: time through the plan, the phase, then draining", () => {
    const snapshot = syntheticSnapshot();
    const feed = new LiveFeed(RUN_META, { thresholds: set() });
    expect(feed.state()).toMatchObject({ elapsedMs: 0, progress: 0, phase: 'ramp', phaseNumber: 1, activeVusers: 0 });
    feed.add(snapshot.intervals[0]!);
    expect(feed.state()).toMatchObject({
      command: 'run', status: 'running', elapsedMs: 1000, plannedMs: 2000, progress: 0.5, remainingMs: 1000,
      phase: 'steady', phaseNumber: 2, phaseCount: 2, arrivalsPerSec: 10, activeConnections: 10,
      sentPerSec: 100, receivedPerSec: 100, p50Ms: 50.015, p99Ms: 99.007, errors: 0, errorsTotal: 0, messagesSent: 100,
    });
    feed.add(snapshot.intervals[1]!);
    feed.add(snapshot.intervals[2]!);
    expect(feed.state()).toMatchObject({ elapsedMs: 2500, progress: 1, remainingMs: 0, phase: 'draining', phaseNumber: undefined, errorsTotal: 3, messagesSent: 173 });
    expect(feed.state().verdicts.map((v) => v.status)).toEqual(['critical', 'warning', 'met', 'not_judged']);
    feed.close();
  });

  it("marks stress's stages as bands and estimates the time left from the last interval's pace", () => {
    const rec = new MetricsRecorder({ startTime: START, intervalMs: 1000 });
    const attempted = rec.counter('connections.attempted');
    const successful = rec.counter('connections.successful');
    const sent = rec.counter('messages.sent');
    const feed = new LiveFeed(STRESS_META);
    attempted.value = 6;
    successful.value = 6;
    feed.add(rec.tick(START + 1000));
    expect(feed.state()).toMatchObject({ phase: 'connecting', progress: 0, remainingMs: undefined });
    attempted.value = 10;
    successful.value = 10;
    sent.value = 50;
    feed.add(rec.tick(START + 2000));
    expect(feed.state()).toMatchObject({ phase: 'messaging', progress: 0.25, remainingMs: 3000, remainingEstimated: true });
    sent.value = 200;
    feed.add(rec.tick(START + 3000));
    feed.stopping();
    sent.value = 200;
    feed.add(rec.tick(START + 4000));
    rec.destroy();
    expect(feed.phases()).toEqual([
      { name: 'connecting', startSec: 0, endSec: 1 },
      { name: 'messaging', startSec: 1, endSec: 2 },
      { name: 'closing', startSec: 2, endSec: 3 },
      { name: 'stopping', startSec: 3, endSec: 4 },
    ]);
    expect(feed.state().status).toBe('stopping');
    feed.close();
  });

  it('reads the stage from the counters', () => {
    expect(workStage({}, 2, 5)).toBe('connecting');
    expect(workStage({ 'connections.attempted': 2, 'connections.successful': 1 }, 2, 5)).toBe('connecting');
    expect(workStage({ 'connections.attempted': 2, 'connections.successful': 1, 'connections.failed': 1, 'messages.sent': 4 }, 2, 5)).toBe('messaging');
    expect(workStage({ 'connections.attempted': 2, 'connections.successful': 1, 'connections.failed': 1, 'messages.sent': 5 }, 2, 5)).toBe('closing');
    expect(workStage({ 'connections.attempted': 2, 'connections.successful': 2 }, 2, 0)).toBe('closing');
  });

  it('takes the final report at the end: its series, its verdicts, the headline', () => {
    const report = syntheticReport();
    const feed = new LiveFeed(RUN_META, { thresholds: set() });
    const events: FeedEvent[] = [];
    feed.subscribe((e) => events.push(e));
    feed.add(report.metrics.intervals[0]!);
    const end = feed.end(report);
    expect(end).toEqual({ status: 'failed', text: 'FAILED — thresholds: 1 met, 1 warning, 1 critical, 1 not judged', exitCode: 3, aborted: false, partial: false });
    expect(feed.series()).toEqual(report.series);
    expect(feed.verdicts()).toBe(report.thresholds);
    expect(feed.state()).toMatchObject({ status: 'ended', phase: 'finished', progress: 1, remainingMs: undefined, messagesSent: 173, errorsTotal: 3 });
    // Late samples after the end are ignored.
    feed.add(report.metrics.intervals[1]!);
    expect(feed.series()).toHaveLength(3);
    expect(events.map((e) => e.type)).toEqual(['point', 'end']);
    feed.close();
  });
});
