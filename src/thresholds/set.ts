/**
 * Putting a run's thresholds together: a script's declarations (`config.slo`, `config.ensure`),
 * the command line's `--threshold`s, and the built-in defaults when nothing is declared.
 */
import { isRecord } from '../scenario/checker.js';
import type { Path } from '../scenario/source.js';
import { defaultThresholds } from './defaults.js';
import { parseEnsure } from './ensure.js';
import { parseSlo } from './slo.js';
import type { ParsedThresholds, Threshold, ThresholdSet } from './types.js';

/**
 * `auto` (default): the defaults apply only when neither the script nor the command line declares a
 * threshold. `always`: they are added to the declared ones (`--default-thresholds`). `never`: no defaults.
 */
export type DefaultsMode = 'auto' | 'always' | 'never';

/**
 * A script's thresholds: `config.slo`, and `config.ensure` — or, as Artillery reads it,
 * `config.plugins.ensure` when there is no `config.ensure`. `base` is the path of `config`.
 */
export function thresholdsFromConfig(config: { slo?: unknown; ensure?: unknown; plugins?: unknown }, base: Path = ['config']): ParsedThresholds {
  const slo = parseSlo(config.slo, [...base, 'slo']);
  let ensure: ParsedThresholds = { thresholds: [], issues: [] };
  if (config.ensure !== undefined) ensure = parseEnsure(config.ensure, [...base, 'ensure']);
  else if (isRecord(config.plugins) && config.plugins.ensure !== undefined) ensure = parseEnsure(config.plugins.ensure, [...base, 'plugins', 'ensure']);
  return { thresholds: [...slo.thresholds, ...ensure.thresholds], issues: [...slo.issues, ...ensure.issues] };
}

export interface ThresholdSources {
  /** From `thresholdsFromConfig`. */
  script?: readonly Threshold[];
  /** From `parseCliThresholds`; added to the script's. */
  cli?: readonly Threshold[];
  defaults?: DefaultsMode;
}

/** The set a run is judged by: script thresholds, then command-line ones, then defaults (see `DefaultsMode`). */
export function buildThresholdSet(sources: ThresholdSources = {}): ThresholdSet {
  const declared = [...(sources.script ?? []), ...(sources.cli ?? [])];
  const mode = sources.defaults ?? 'auto';
  const withDefaults = mode === 'always' || (mode === 'auto' && declared.length === 0);
  const thresholds = withDefaults ? [...declared, ...defaultThresholds()] : declared;
  const seen = new Set<string>();
  for (const t of thresholds) {
    if (seen.has(t.id)) throw new RangeError(`duplicate threshold id '${t.id}'`);
    seen.add(t.id);
  }
  return { thresholds, defaultsApplied: withDefaults };
}
