// Start-up: time from spawning the built service to its first 200 on /health/live, with Node's compile cache
// (what main.ts enables) against the same start with the cache disabled (NODE_DISABLE_COMPILE_CACHE=1),
// alternating, in the same run. All roles but ingest's group join matter; the reconcile and api roles are on.
//   npm run build && node bench/startup.bench.mjs [starts per variant, default 8]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dropDatabase, id, runNode, SERVICE_MAIN, sleep, freePort } from './lib.mjs';

const n = Number(process.argv[2] ?? 8);
const db = `bench_startup_${id()}`;
const cacheDir = mkdtempSync(path.join(tmpdir(), 'badge-compile-cache-'));
const env = {
  DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
  BADGE_ROLES: 'reconcile,api',
  FEISHU_BASE_URL: 'http://127.0.0.1:9',
  FEISHU_APP_ID: 'cli_bench',
  FEISHU_APP_SECRET: 'bench-secret-value',
  AUDIT_API_TOKENS: 'bench-audit-token-0123456789',
  LOG_LEVEL: 'error',
  NODE_COMPILE_CACHE: cacheDir,
};

async function startOnce(extra) {
  const port = await freePort();
  const started = performance.now();
  const p = runNode(SERVICE_MAIN, { ...env, ...extra, HTTP_PORT: String(port) });
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health/live`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > 60_000) throw new Error(`no /health/live within 60 s:\n${p.output()}`);
    await sleep(20);
  }
  const ms = performance.now() - started;
  await p.stop();
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  await startOnce({}); // creates and migrates the database, fills the cache
  const cached = [];
  const cold = [];
  for (let i = 0; i < n; i++) {
    cold.push(await startOnce({ NODE_DISABLE_COMPILE_CACHE: '1' }));
    cached.push(await startOnce({}));
  }
  const fmt = (xs) => `median ${Math.round(median(xs))} ms (min ${Math.round(Math.min(...xs))}, max ${Math.round(Math.max(...xs))})`;
  console.log(`startup to /health/live, ${n} starts each, alternating:`);
  console.log(`  compile cache on:  ${fmt(cached)}`);
  console.log(`  compile cache off: ${fmt(cold)}`);
  console.log(`  ratio on/off: ${(median(cached) / median(cold)).toFixed(2)}`);
  console.log('command: npm run build && node bench/startup.bench.mjs ' + n);
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
  await dropDatabase(db);
}
