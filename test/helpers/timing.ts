/**
 * Delays for the test servers that inject a known latency. A plain `setTimeout(fn, ms)` can fire up to
 * about a millisecond early when measured with `performance.now()`: libuv starts timers from the loop's
 * cached clock, which lags while one loop turn handles many messages. A latency test that checks the
 * measured round trip against the injected delay needs the delay to be at least what it says.
 */

/** Run `fn` once at least `ms` have passed (by `performance.now()`); pending timers are kept in `timers`. */
export function afterAtLeast(ms: number, fn: () => void, timers: Set<NodeJS.Timeout>): void {
  const due = performance.now() + ms;
  const arm = (wait: number): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      const left = due - performance.now();
      if (left > 0) arm(Math.max(1, Math.ceil(left)));
      else fn();
    }, wait);
    timers.add(t);
  };
  arm(ms);
}
