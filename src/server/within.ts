/** A bounded wait, for shutdowns that must not hang on a peer or a worker that never answers. */

/** Wait for `promise` at most `ms`; true if it settled in time. The timer is always cleared. */
export async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false); });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
