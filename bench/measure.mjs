// Preloaded with `node --import ./bench/measure.mjs …` (the bench puts it in NODE_OPTIONS): on exit, appends the process's own CPU time and
// peak memory as one JSON line to the file named by WSLOAD_BENCH_USAGE (so the bench harness can read
// a child's figures without /proc races). Node processes the client forks inherit both the preload
// (execArgv) and the variable, so a client that spreads its work over processes appends one line per
// process and the harness sums them; worker threads are inside their process's figures and write
// nothing themselves.
import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const out = process.env.WSLOAD_BENCH_USAGE;
if (out && isMainThread) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    appendFileSync(out, JSON.stringify({
      pid: process.pid,
      ppid: process.ppid,
      userSec: u.userCPUTime / 1e6,
      systemSec: u.systemCPUTime / 1e6,
      cpuSec: (u.userCPUTime + u.systemCPUTime) / 1e6,
      maxRssMiB: u.maxRSS / 1024,
    }) + '\n');
  });
}
