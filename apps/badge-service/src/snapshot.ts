import 'reflect-metadata';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { AppConfigModule } from '@badges/config';
import { commandFailed } from './cli';
import { openDatabase, SnapshotRepository } from '@badges/store';
import { loadSnapshot, SnapshotTotals } from './snapshot/snapshot-loader';

const USAGE = 'usage: npm run snapshot -- --file <path.ndjson | -> [--rejects <path>] [--chunk <lines>] [--connections <1-8>]';
const PLAIN_PROGRESS_MS = 5000;

/**
 * `npm run snapshot -- --file <path.ndjson | ->`: loads absolute counts for many users from lines in the input
 * event format, newest sequence wins (a line older than what the service holds changes nothing), at bulk
 * priority. Bad lines are counted and written with their reasons to the rejects file; they never stop the load.
 * A re-run of the same file changes nothing. Configured by the service's own environment (DATABASE_URL, ...).
 */
async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ options: { file: { type: 'string' }, rejects: { type: 'string' }, chunk: { type: 'string' }, connections: { type: 'string' } }, strict: true }).values;
  } catch (e) {
    process.stderr.write(`badge-reconciler snapshot: ${(e as Error).message}\n${USAGE}\n`);
    return 64; // EX_USAGE
  }
  const chunkLines = args.chunk === undefined ? 50000 : Number(args.chunk);
  const connections = args.connections === undefined ? 2 : Number(args.connections);
  const bad = !args.file
    ? '--file is required'
    : !Number.isInteger(chunkLines) || chunkLines < 1 || chunkLines > 100000
      ? '--chunk must be an integer from 1 to 100000'
      : !Number.isInteger(connections) || connections < 1 || connections > 8
        ? '--connections must be an integer from 1 to 8'
        : null;
  if (bad !== null || !args.file) {
    process.stderr.write(`badge-reconciler snapshot: ${bad}\n${USAGE}\n`);
    return 64;
  }
  const file: string = args.file;
  const stdin = file === '-';
  let size: number | null = null;
  if (!stdin) {
    try {
      size = statSync(file).size;
    } catch (e) {
      process.stderr.write(`badge-reconciler snapshot: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      return 66; // EX_NOINPUT
    }
  }
  const rejectsPath = args.rejects ?? (stdin ? 'snapshot.rejects.ndjson' : `${file}.rejects.ndjson`);

  let url = '';
  try {
    const { config } = await AppConfigModule.load({ overrides: { BADGE_ROLES: 'ingest' } });
    url = config.database.url;
    const { ds } = await openDatabase({ url, poolSize: connections + 1, create: config.hardening.databaseCreate, migrate: config.database.migrate, applicationName: 'badge-reconciler-snapshot' });
    // One staging session per connection: chunks are applied on whichever is free.
    const sessions = Array.from({ length: connections }, () => new SnapshotRepository(ds, { maxSourcesPerUser: config.ingest.maxSourcesPerUser }));
    const rejects = createWriteStream(rejectsPath);
    const progress = progressReporter(size);
    const startedAt = Date.now();
    try {
      for (const s of sessions) await s.open();
      const totals = await loadSnapshot(stdin ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 }), sessions, {
        appType: config.feishu.appType,
        chunkLines,
        onReject: (r) => rejects.write(`${JSON.stringify(r)}\n`),
        onProgress: (t) => progress.update(t, startedAt),
      });
      progress.stop(totals, startedAt);
      const seconds = (Date.now() - startedAt) / 1000;
      process.stdout.write(
        `snapshot: ${totals.lines} lines, ${totals.applied} applied, ${totals.lines - totals.applied - totals.rejected} unchanged, ` +
          `${totals.rejected} rejected${totals.rejected > 0 ? ` (reasons in ${path.resolve(rejectsPath)})` : ''}, ` +
          `${totals.usersChanged} desired-badge changes (pushed at bulk priority; a user changed by several chunks counts once each), in ${seconds.toFixed(1)} s (${Math.round(totals.lines / Math.max(seconds, 0.001))} lines/s)\n`,
      );
      return 0;
    } finally {
      await new Promise<void>((r) => rejects.end(r));
      for (const s of sessions) await s.close();
      await ds.destroy();
    }
  } catch (e) {
    return commandFailed('snapshot', e, url);
  }
}

/** A progress bar on a terminal (lines, rate, ETA by bytes read); plain lines every few seconds otherwise. */
function progressReporter(size: number | null) {
  const rate = (t: SnapshotTotals, startedAt: number) => Math.round(t.lines / Math.max((Date.now() - startedAt) / 1000, 0.001));
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      stream: process.stderr,
      format: size === null ? 'snapshot | {lines} lines | {rate} lines/s | {rejected} rejected' : 'snapshot |{bar}| {percentage}% | {lines} lines | {rate} lines/s | ETA {eta_formatted} | {rejected} rejected',
      hideCursor: true,
    });
    bar.start(size ?? 1, 0, { lines: 0, rate: 0, rejected: 0 });
    return {
      update: (t: SnapshotTotals, startedAt: number) => bar.update(size === null ? 0 : t.bytes, { lines: t.lines, rate: rate(t, startedAt), rejected: t.rejected }),
      stop: (t: SnapshotTotals, startedAt: number) => {
        bar.update(size ?? 0, { lines: t.lines, rate: rate(t, startedAt), rejected: t.rejected });
        bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update: (t: SnapshotTotals, startedAt: number) => {
      if (Date.now() - last < PLAIN_PROGRESS_MS) return;
      last = Date.now();
      const eta = size !== null && t.bytes > 0 ? ` ETA ${Math.round(((Date.now() - startedAt) / 1000) * (size / t.bytes - 1))} s` : '';
      process.stderr.write(`snapshot: ${t.lines} lines, ${rate(t, startedAt)} lines/s, ${t.rejected} rejected${size !== null ? `, ${Math.floor((100 * t.bytes) / size)}%` : ''}${eta}\n`);
    },
    stop: () => undefined,
  };
}

void main().then((code) => process.exit(code));
