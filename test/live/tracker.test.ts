/**
 * The live tracker (the terminal's figures without a dashboard): fed the same samples, every frame
 * it gives equals `LiveFeed`'s, although it keeps no series and works only when a frame is asked
 * for; and the views say when they would draw one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initHistograms, MetricsRecorder } from '../../src/metrics/index.js';
import { LiveFeed, LiveTracker } from '../../src/live/feed.js';
import { lineView, ttyView } from '../../src/live/terminal.js';
import { START, syntheticSnapshot } from '../report/fixtures.js';

import { RUN_META, set, STRESS_META } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});


describe('LiveTracker', () => {
  it("gives LiveFeed's frames, live verdicts included, whether asked every interval or only at the end", () => {
    const snapshot = syntheticSnapshot();
    const feed = new LiveFeed(RUN_META, { thresholds: set() });
    const every = new LiveTracker(RUN_META, { thresholds: set() });
    const once = new LiveTracker(RUN_META, { thresholds: set() });
    expect(every.state()).toEqual(feed.state());
    for (const sample of snapshot.intervals) {
      feed.add(sample);
      every.add(sample);
      once.add(sample);
      expect(every.elapsedMs).toBe(feed.state().elapsedMs);
      expect(every.state()).toEqual(feed.state());
    }
    expect(once.state()).toEqual(feed.state());
    expect(once.state().verdicts.map((v) => v.status)).toEqual(['critical', 'warning', 'met', 'not_judged']);
    for (const x of [feed, every, once]) x.close();
  });

  it("follows stress's stages, a sliver of an interval, and a stop, as LiveFeed does", () => {
    const rec = new MetricsRecorder({ startTime: START, intervalMs: 1000 });
    const attempted = rec.counter('connections.attempted');
    const successful = rec.counter('connections.successful');
    const sent = rec.counter('messages.sent');
    const feed = new LiveFeed(STRESS_META);
    const tracker = new LiveTracker(STRESS_META);
    const both = (sample: ReturnType<MetricsRecorder['tick']>): void => {
      feed.add(sample);
      tracker.add(sample);
      expect(tracker.elapsedMs).toBe(feed.state().elapsedMs);
      expect(tracker.state()).toEqual(feed.state());
    };
    attempted.value = 6;
    successful.value = 6;
    both(rec.tick(START + 1000));
    attempted.value = 10;
    successful.value = 10;
    sent.value = 50;
    both(rec.tick(START + 2000));
    sent.value = 60;
    // A worker's part of the same interval.
    both({ ...rec.tick(START + 2400), index: 1, start: START + 2000 });
    feed.stopping();
    tracker.stopping();
    expect(tracker.state()).toEqual(feed.state());
    sent.value = 200;
    both(rec.tick(START + 3000));
    rec.destroy();
    expect(tracker.state()).toMatchObject({ status: 'stopping', phase: 'stopping' });
    feed.close();
    tracker.close();
  });
});

describe('LiveView.due', () => {
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;

  it('off a TTY: only once the next line is due, and never after close', () => {
    const view = lineView(sink, { everyMs: 10_000 });
    expect(view.due?.(9_999)).toBe(false);
    expect(view.due?.(10_000)).toBe(true);
    view.close();
    expect(view.due?.(20_000)).toBe(false);
  });

  it('on a TTY: every frame until closed', () => {
    const view = ttyView(sink, { color: false, width: () => 80 });
    expect(view.due?.(0)).toBe(true);
    view.close();
    expect(view.due?.(1000)).toBe(false);
  });
});
