// Preloaded with `node --import ./bench/measure.mjs …`: on exit, writes the process's own CPU time and
// peak memory as one JSON line to the file named by WSLOAD_BENCH_USAGE (so the bench harness can read
// a child's figures without /proc races).
import { writeFileSync } from 'node:fs';

const out = process.env.WSLOAD_BENCH_USAGE;
if (out) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(out, JSON.stringify({
      userSec: u.userCPUTime / 1e6,
      systemSec: u.systemCPUTime / 1e6,
      cpuSec: (u.userCPUTime + u.systemCPUTime) / 1e6,
      maxRssMiB: u.maxRSS / 1024,
    }));
  });
}
