// Preload for a service under a bench (BENCH_NODE_ARGS="-r ./bench/memlog.cjs"): process.memoryUsage() and the
// young generation's size once a second on stderr, to see what the resident set is made of.
const v8 = require('node:v8');
const t0 = Date.now();
const mb = (x) => Math.round(x / 1048576);
setInterval(() => {
  const m = process.memoryUsage();
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  process.stderr.write(`MEM t=${((Date.now() - t0) / 1000).toFixed(0)} rss=${mb(m.rss)} heapTotal=${mb(m.heapTotal)} heapUsed=${mb(m.heapUsed)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)} new=${mb(young)}\n`);
}, 1000).unref();
