// `npm run bench`: every benchmark, one after the other. Each prints its figures and the command behind them.
import { execFileSync } from 'node:child_process';
const only = process.argv[2];
for (const b of ['ingest.bench.mjs', 'reconcile.bench.mjs', 'audit.bench.mjs', 'scale.bench.mjs', 'idle.bench.mjs', 'emulator/bench.mjs', 'startup.bench.mjs']) {
  if (only && !b.includes(only)) continue;
  execFileSync(process.execPath, [new URL(b, import.meta.url).pathname], { stdio: 'inherit' });
}
