/**
 * The closed model used by `stress`: a fixed number of connections, opened in batches so the
 * target is not hit by one thundering herd.
 */
import { WsloadError } from '../errors.js';

/**
 * Batch sizes for opening `total` connections `batchSize` at a time: full batches, then the
 * remainder. `batches(10, 4)` is `[4, 4, 2]`; `batches(0, 4)` is `[]`.
 */
export function batches(total: number, batchSize: number): number[] {
  if (!Number.isSafeInteger(total) || total < 0) {
    throw new WsloadError('WSLOAD_CONFIG', `connections must be a whole number >= 0, got ${String(total)}`);
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new WsloadError('WSLOAD_CONFIG', `batch size must be a whole number >= 1, got ${String(batchSize)}`);
  }
  const out: number[] = [];
  for (let left = total; left > 0; left -= batchSize) out.push(Math.min(batchSize, left));
  return out;
}
