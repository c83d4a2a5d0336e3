import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { newestPerSource } from '@badges/contracts';
import { IngestRepository, LANES } from '@badges/store';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event, wire } from '../support/events';
import { ROOT } from '../support/service';

jest.setTimeout(120_000);

const SNAPSHOT_MAIN = path.join(ROOT, 'dist/apps/badge-service/apps/badge-service/src/snapshot.js');

/** Runs the built `npm run snapshot` against a database, with arguments and optionally standard input. */
function snapshot(databaseUrl: string, args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SNAPSHOT_MAIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** The snapshot loader on the real Postgres: newest sequence wins, bad lines set aside with reasons, re-runs change nothing. */
describe('npm run snapshot, on the real Postgres', () => {
  let db: TestDatabase;
  let dir: string;
  const q = (sql: string, params: unknown[] = []) => db.ds.query(sql, params);

  beforeAll(async () => {
    db = await createTestDatabase('snapshot');
    dir = mkdtempSync(path.join(tmpdir(), 'snapshot-'));
    // What the service already holds: a newer sequence than the file's line for this user and source.
    const { newest, superseded } = newestPerSource([event('ou_known', 'tasks', 50, counts(9))]);
    await new IngestRepository(db.ds).applyBatch(newest, superseded);
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const good = Array.from({ length: 1200 }, (_, i) => wire(event(`ou_s${i}`, 'tasks', 1, counts(i % 9, 1, i % 3, 0))));
  const lines = [
    ...good.slice(0, 600),
    '{"not": "an event"}',
    'this is not json',
    wire(event('ou_known', 'tasks', 3, counts(1))), // older than what the service holds
    '',
    wire(event('ou_neg', 'tasks', 1, counts(1))).replace('"web_app":1', '"web_app":-1'),
    ...good.slice(600),
  ];

  it('loads the good lines at bulk priority, sets the bad ones aside with their reasons, and never applies an older line', async () => {
    const file = path.join(dir, 'counts.ndjson');
    writeFileSync(file, lines.join('\r\n')); // CRLF, and no newline after the last line
    const r = await snapshot(db.url, ['--file', file, '--chunk', '500']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(r.stdout).toMatch(/^snapshot: 1205 lines, 1200 applied, 2 unchanged, 3 rejected/);

    const rejects = readFileSync(`${file}.rejects.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects.map((x) => x.line)).toEqual([601, 602, 605]);
    expect(rejects.every((x) => typeof x.reason === 'string' && x.reason.length > 0)).toBe(true);
    expect(rejects[1].text).toBe('this is not json');

    const [loaded] = await q(`SELECT count(*)::int n, min(lane)::int lo, max(lane)::int hi FROM badge_state WHERE user_id LIKE 'ou_s%'`);
    expect(loaded).toEqual({ n: 1200, lo: LANES.bulk, hi: LANES.bulk });
    const [u7] = await q(`SELECT desired_pc_web_app pw, desired_pc_gadget pg, desired_mobile_web_app mw FROM badge_state WHERE user_id = 'ou_s7'`);
    expect(u7).toEqual({ pw: 7, pg: 1, mw: 1 });
    const [known] = await q(`SELECT s.sequence::int, s.pc_web_app FROM badge_source s WHERE user_id = 'ou_known'`);
    expect(known).toEqual({ sequence: 50, pc_web_app: 9 });
  });

  it('changes nothing when the same file is loaded again, and reads standard input with -', async () => {
    const before = await q(`SELECT (SELECT count(*)::int FROM badge_audit) audit, (SELECT sum(desired_revision)::int FROM badge_state) revisions`);
    const file = path.join(dir, 'counts.ndjson');
    const again = await snapshot(db.url, ['--file', file]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/1200 unchanged|0 applied/);
    const piped = await snapshot(db.url, ['--file', '-', '--rejects', path.join(dir, 'stdin.rejects')], lines.join('\n'));
    expect(piped.code).toBe(0);
    expect(piped.stdout).toMatch(/^snapshot: 1205 lines, 0 applied/);
    const after = await q(`SELECT (SELECT count(*)::int FROM badge_audit) audit, (SELECT sum(desired_revision)::int FROM badge_state) revisions`);
    expect(after).toEqual(before);
  });

  it('refuses bad arguments with a usage line (exit 64) and a missing file (exit 66)', async () => {
    const noFile = await snapshot(db.url, []);
    expect(noFile.code).toBe(64);
    expect(noFile.stderr).toContain('--file is required');
    const missing = await snapshot(db.url, ['--file', path.join(dir, 'nope.ndjson')]);
    expect(missing.code).toBe(66);
    expect(missing.stderr).toContain('ENOENT');
  });
});
