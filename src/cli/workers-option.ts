/** `--workers <n|auto>`: shared by `stress` and `run`. */
import { availableParallelism } from 'node:os';
import { usageError } from '../errors.js';

/** Undefined when absent (the run's size decides); `auto` is one per core. */
export function parseWorkers(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === 'auto') return availableParallelism();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) {
    throw usageError(`--workers must be an integer from 1 to 64 or auto, got "${raw}"`);
  }
  return Number(text);
}
