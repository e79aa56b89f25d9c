/** Run metadata and a threshold set shared by the live feed and tracker tests. */
import type { LiveMeta } from '../../src/live/feed.js';
import * as T from '../../src/thresholds/index.js';
import { THRESHOLD_ARGS } from '../report/fixtures.js';

export const set = (): T.ThresholdSet => T.buildThresholdSet({ cli: THRESHOLD_ARGS.map((a, i) => T.parseThresholdArg(a, i)) });

export const RUN_META: LiveMeta = {
  command: 'run',
  target: 'ws://127.0.0.1:9/ws',
  plan: { kind: 'phases', durationMs: 2000, phases: [{ name: 'ramp', startSec: 0, endSec: 1 }, { name: 'steady', startSec: 1, endSec: 2 }] },
  parameters: [],
  vusers: true,
};

export const STRESS_META: LiveMeta = {
  command: 'stress',
  target: 'ws://127.0.0.1:9/ws',
  plan: { kind: 'work', connections: 10, messages: 20 },
  parameters: [],
  vusers: false,
};
