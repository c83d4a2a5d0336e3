import type { BadgeEvent } from '@badges/contracts';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { DataSource, QueryRunner } from 'typeorm';
import { groupByUsers, isRetryable, lockUsers, MAX_USERS_PER_TRANSACTION, NOTIFY_DIRTY_SQL, RECOMPUTE_DESIRED_SQL, rowKey, sourceCapRule, upsertSourcesSql, userKey } from './ingest.repository';
import { LANES } from './lanes';

/** One session's staging table: lines of the snapshot, COPYed in a chunk at a time, applied, then emptied. */
export const SNAPSHOT_STAGING_SQL = `
  CREATE TEMP TABLE IF NOT EXISTS snapshot_staging (
    grp int, line bigint, tenant_key text, user_id_type text, user_id text, source text, sequence bigint, event_id text,
    pc_web_app int, pc_gadget int, mobile_web_app int, mobile_gadget int, occurred_at timestamptz
  )`;

export const SNAPSHOT_COPY_SQL = `COPY snapshot_staging FROM STDIN`;

/**
 * Ingest's own statement (upsertSourcesSql: newest sequence wins, the sources cap, changes audited), reading the
 * staged lines: the newest line per source (the last of equal sequences) is applied, the others are not. Lines that
 * change nothing are not audited, so a re-run of the same file writes nothing at all.
 */
export const SNAPSHOT_APPLY_SQL = upsertSourcesSql({
  input: `    SELECT tenant_key COLLATE "C" AS tenant_key, user_id_type COLLATE "C" AS user_id_type,
           user_id COLLATE "C" AS user_id, source COLLATE "C" AS source, sequence, event_id,
           pc_web_app, pc_gadget, mobile_web_app, mobile_gadget, occurred_at,
           row_number() OVER (PARTITION BY tenant_key, user_id_type, user_id, source ORDER BY sequence DESC, line DESC) = 1 AS newest
    FROM snapshot_staging WHERE grp = $3`,
  cap: '$1',
  capDetail: '$2',
  auditStale: false,
});

export interface SnapshotLine {
  line: number;
  event: BadgeEvent;
}

export interface ChunkOutcome {
  /** Lines whose counts were stored (newer than what the service held). */
  applied: number;
  /** Users whose desired badge changed: each is pushed at bulk priority. */
  usersChanged: number;
  /** New sources refused by the sources cap, with their lines. */
  refused: { line: number; reason: string }[];
}

/** COPY's text format: backslash, tab and line breaks escaped; \N is null. */
const field = (v: string | number | null): string =>
  v === null ? '\\N' : String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

function copyText(groups: readonly SnapshotLine[][]): string {
  let out = '';
  for (const [grp, lines] of groups.entries()) for (const { line, event: e } of lines) {
    const c = e.counts;
    out += [grp, line, e.tenantKey, e.userIdType, e.userId, e.source, e.sequence, e.eventId, c.pc.web_app, c.pc.gadget, c.mobile.web_app, c.mobile.gadget, e.occurredAt.toISOString()].map(field).join('\t') + '\n';
  }
  return out;
}

/**
 * Loads absolute counts for many users (`npm run snapshot`), a chunk at a time, on one connection of its own:
 * each chunk is streamed into the session's staging table with COPY and applied in one transaction with
 * ingest's rule, at bulk priority (live changes keep being pushed first).
 */
export class SnapshotRepository {
  private runner?: QueryRunner;
  private client?: PoolClient;

  constructor(
    private readonly ds: DataSource,
    private readonly options: { maxSourcesPerUser: number },
  ) {}

  async open(): Promise<void> {
    this.runner = this.ds.createQueryRunner();
    await this.runner.connect();
    this.client = (this.runner as unknown as { databaseConnection: PoolClient }).databaseConnection;
    await this.client.query(SNAPSHOT_STAGING_SQL);
  }

  async applyChunk(lines: readonly SnapshotLine[]): Promise<ChunkOutcome> {
    const client = this.client;
    if (!client) throw new Error('SnapshotRepository.open() first');
    if (lines.length === 0) return { applied: 0, usersChanged: 0, refused: [] };
    await client.query('TRUNCATE snapshot_staging');
    // One COPY for the chunk; then a transaction per group of at most MAX_USERS_PER_TRANSACTION users.
    const groups = groupByUsers(lines, (l) => userKey(l.event), MAX_USERS_PER_TRANSACTION);
    await pipeline(Readable.from([copyText(groups)]), client.query(copyFrom(SNAPSHOT_COPY_SQL)));
    const max = this.options.maxSourcesPerUser;
    const outcome: ChunkOutcome = { applied: 0, usersChanged: 0, refused: [] };
    for (let grp = 0, attempt = 1; grp < groups.length; ) {
      await client.query('BEGIN');
      try {
        // The group's users taken as ingest takes them (a row for each new one, then every row locked in key
        // order), so a snapshot never races an event.
        const users = groups[grp].map(({ event: e }) => ({ tenantKey: e.tenantKey, userIdType: e.userIdType, userId: e.userId, lane: LANES.bulk }));
        const dirtied = await lockUsers(async (text, values) => (await client.query(text, values)).rows, users);
        // Named: each session plans the statements once, not once a group.
        const { rows } = await client.query({ name: 'snapshot_apply', text: SNAPSHOT_APPLY_SQL, values: [max, `refused by the snapshot loader: source: ${sourceCapRule(max)}`, grp] });
        const changed = rows.filter((r) => r.outcome === 'changed');
        if (changed.length > 0) {
          const r = await client.query({
            name: 'snapshot_recompute',
            text: RECOMPUTE_DESIRED_SQL,
            values: [changed.map((x) => x.tenant_key), changed.map((x) => x.user_id_type), changed.map((x) => x.user_id), changed.map(() => LANES.bulk)],
          });
          for (const x of r.rows) dirtied.add(rowKey(x));
        }
        outcome.usersChanged += dirtied.size;
        if (dirtied.size > 0) await client.query(NOTIFY_DIRTY_SQL, [String(dirtied.size)]);
        await client.query('COMMIT');
        outcome.applied += changed.reduce((n, r) => n + r.accepted, 0);
        const refusedKeys = new Set(rows.filter((r) => r.outcome === 'refused').map((r) => `${rowKey(r)}\u001f${r.source}`));
        for (const { line, event: e } of groups[grp]) {
          if (refusedKeys.has(`${userKey(e)}\u001f${e.source}`)) outcome.refused.push({ line, reason: `source: ${sourceCapRule(max)}` });
        }
        grp++;
        attempt = 1;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (attempt++ >= 5 || !isRetryable(e)) throw e;
      }
    }
    return outcome;
  }

  async close(): Promise<void> {
    await this.client?.query('DROP TABLE IF EXISTS snapshot_staging').catch(() => undefined);
    await this.runner?.release();
  }
}
