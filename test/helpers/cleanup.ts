/**
 * What a test opens — servers, temporary directories — closed after it, in the order opened.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

export interface Cleanup {
  /** Run `close` after the current test. */
  defer(close: () => Promise<void>): void;
  /** The thing `opening` resolves to, closed after the current test. */
  track<T extends { close(): Promise<void> }>(opening: Promise<T>): Promise<T>;
  /** A new directory under the system's temporary directory, removed after the current test. */
  tempDir(prefix: string): Promise<string>;
}

/** Call once at the top of a test file: registers the `afterEach` that closes what the tests opened. */
export function closeAfterEach(): Cleanup {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  const defer = (close: () => Promise<void>): void => { closers.push(close); };
  return {
    defer,
    async track(opening) {
      const t = await opening;
      defer(() => t.close());
      return t;
    },
    async tempDir(prefix) {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      defer(() => rm(dir, { recursive: true, force: true }));
      return dir;
    },
  };
}
