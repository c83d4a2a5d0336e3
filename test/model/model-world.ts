import type { AppConfig } from '@badges/config';
import { BadgeEvent, newestPerSource } from '@badges/contracts';
import { AuditRepository, BadgeCountColumns, IngestRepository, ReconcileRepository } from '@badges/store';
import type { DataSource } from 'typeorm';
import { counts, event } from '../support/events';
import { FeishuModel, SIDES, SideCounts } from './feishu.model';
import { Replica, SentPush, VirtualTime } from './replica';

export const USERS = ['u0', 'u1'] as const;
export const REPLICA_COUNT = 3;
/** Quiescence gives up after this many rounds of "time passes past everything, every replica works". */
export const QUIESCENCE_ROUNDS = 60;
/** A replica whose clock is off by at most this much must still send (the progress invariant). */
export const TOLERATED_SKEW_MS = 2000;

export class Violation extends Error {}

export interface EventSpec {
  user: number;
  source: 'a' | 'b';
  /** Relative to the source's highest sequence so far: the next one, the same again, or an older one. */
  order: 'next' | 'duplicate' | 'older';
  pcWeb: number;
  mobileWeb: number;
}

interface StateRow extends BadgeCountColumns {
  user_id: string;
  lease_owner: string | null;
  status: string;
  dirty: boolean;
  last_version: string;
  last_error_message: string | null;
}

const fmt = (c: SideCounts | null) => (c === null ? 'unknown' : `${c.web_app}/${c.gadget}`);
const sideOf = (r: StateRow, s: 'pc' | 'mobile', kind: 'desired' | 'applied'): SideCounts | null => {
  const w = r[`${kind}_${s}_web_app` as keyof StateRow] as number | null;
  const g = r[`${kind}_${s}_gadget` as keyof StateRow] as number | null;
  return w === null || g === null ? null : { web_app: w, gadget: g };
};

/**
 * Everything one fast-check run drives: the real repositories on a real database, the Feishu model, the
 * replicas, and simulated time. Time passes by shifting every stored timestamp back, since the SQL reads the
 * database clock.
 */
export class ModelWorld implements VirtualTime {
  elapsedMs = 0;
  readonly feishu = new FeishuModel();
  readonly replicas: Replica[];
  readonly trace: string[] = [];
  private readonly lastSequence = new Map<string, number>();
  private readonly reconcile: ReconcileRepository;
  private readonly ingest: IngestRepository;
  private readonly audit: AuditRepository;

  constructor(
    private readonly ds: DataSource,
    private readonly config: AppConfig,
  ) {
    this.reconcile = new ReconcileRepository(ds);
    this.ingest = new IngestRepository(ds);
    this.audit = new AuditRepository(ds);
    this.replicas = Array.from(
      { length: REPLICA_COUNT },
      (_, i) => new Replica(`r${i}`, config, this.reconcile, ds, this.feishu, this, (sent) => this.checkAudited(sent)),
    );
  }

  async reset(hints: boolean): Promise<void> {
    await this.ds.query(`TRUNCATE badge_state, badge_source, badge_audit, push_budget`);
    await this.reconcile.ensureBudget('');
    this.elapsedMs = 0;
    this.trace.length = 0;
    this.lastSequence.clear();
    this.feishu.reset(hints);
    for (const r of this.replicas) {
      r.restart(true);
      r.offsetMs = 0;
      r.slotsMissed = 0;
      r.countingSlotsMissed = false;
    }
    this.trace.push(`feishu ${hints ? 'names' : 'does not name'} the latest version in conflicts`);
  }

  fail(what: string): never {
    throw new Violation(`${what}\n  trace of this run:\n    ${this.trace.slice(-60).join('\n    ')}`);
  }

  note(line: string): void {
    this.trace.push(line);
  }

  async events(specs: readonly EventSpec[]): Promise<string> {
    const evs: BadgeEvent[] = specs.map((e) => {
      const key = `${USERS[e.user]}/${e.source}`;
      const last = this.lastSequence.get(key) ?? 0;
      const sequence = e.order === 'next' ? last + 1 : e.order === 'duplicate' ? Math.max(1, last) : Math.max(1, last - 1);
      this.lastSequence.set(key, Math.max(last, sequence));
      return event(USERS[e.user], e.source, sequence, counts(e.pcWeb, 0, e.mobileWeb, 0));
    });
    const { newest, superseded } = newestPerSource(evs);
    const r = await this.ingest.applyBatch(newest, superseded);
    return `sequences ${evs.map((e) => e.sequence).join(', ')}: accepted ${r.accepted}, stale ${r.stale}`;
  }

  /** Time passes: every stored time moves back by ms. Pushes in flight longer than the client timeout end. */
  async timePasses(ms: number, inFlightApplied: boolean): Promise<void> {
    if (ms >= this.config.feishu.timeoutMs) {
      for (const r of this.replicas) await r.answerAll(inFlightApplied ? 'timeout-applied' : 'timeout-lost');
    }
    const by = `$1 * interval '1 millisecond'`;
    await this.ds.query(
      `UPDATE badge_state SET next_attempt_at = next_attempt_at - ${by}, lease_expires_at = lease_expires_at - ${by},
              last_pushed_at = last_pushed_at - ${by}, applied_at = applied_at - ${by},
              desired_changed_at = desired_changed_at - ${by}, last_error_at = last_error_at - ${by}`,
      [ms],
    );
    await this.ds.query(`UPDATE push_budget SET next_slot_at = next_slot_at - ${by}, paused_until = paused_until - ${by}, shared_until = shared_until - ${by}, alone_until = alone_until - ${by}, unused_at = unused_at - ${by}`, [ms]);
    this.elapsedMs += ms;
  }

  resync(user: number) {
    return this.audit.resync({ tenantKey: '', userIdType: 'open_id', userId: USERS[user] }, 'model operator');
  }

  markForResync(notPushedForMs: number) {
    return this.reconcile.markForResync(notPushedForMs, 10);
  }

  private async rows(): Promise<StateRow[]> {
    return this.ds.query(
      `SELECT user_id, desired_pc_web_app, desired_pc_gadget, desired_mobile_web_app, desired_mobile_gadget,
              applied_pc_web_app, applied_pc_gadget, applied_mobile_web_app, applied_mobile_gadget,
              lease_owner, status, desired_revision > pushed_revision AS dirty, last_version::text, last_error_message
       FROM badge_state ORDER BY user_id`,
    );
  }

  /** Every push sent and then completed has its audit row. (A replica that dies before completing writes none.) */
  private async checkAudited(sent: SentPush[]): Promise<void> {
    for (const s of sent) {
      const rows = await this.ds.query(`SELECT 1 FROM badge_audit WHERE kind = 'push' AND user_id = $1 AND version = $2::bigint`, [s.userId, s.version]);
      if (rows.length === 0) this.fail(`push v${s.version} to ${s.userId} by ${s.owner} was sent and completed but has no audit row`);
    }
  }

  /** The invariants that hold after every step. */
  async checkStep(): Promise<void> {
    const feishu = this.feishu.check();
    if (feishu.length > 0) this.fail(feishu.join('; '));
    const held = new Set(this.replicas.filter((r) => r.alive).flatMap((r) => r.held().map((h) => h.userId)));
    for (const r of await this.rows()) {
      if (r.lease_owner !== null || held.has(r.user_id)) continue;
      for (const s of SIDES) {
        const applied = sideOf(r, s, 'applied');
        const shown = this.feishu.shown(r.user_id, s);
        if (applied !== null && (applied.web_app !== shown.web_app || applied.gadget !== shown.gadget)) {
          this.fail(`${r.user_id}: badge_state records ${s} ${fmt(applied)} as applied, Feishu shows ${fmt(shown)} (no push in flight)`);
        }
      }
    }
  }

  /** Faults off, every replica alive, repeatedly: time passes past every lease and backoff, every replica works. */
  async quiesce(): Promise<void> {
    try {
      await this.quiesceSteps();
    } catch (e) {
      if (e instanceof Violation) throw e;
      this.fail(`quiescence: statement or step error escaped: ${(e as Error).message}`);
    }
  }

  private async quiesceSteps(): Promise<void> {
    this.note('-- quiescence');
    for (const r of this.replicas) if (!r.alive) r.restart();
    for (const r of this.replicas) {
      const notes = await r.answerAll('natural');
      while (r.count('claimed') > 0) notes.push(await r.send(0));
      notes.push(...(await r.answerAll('natural')));
      while (r.hasDecidedBatch()) notes.push(await r.complete());
      if (notes.length > 0) this.note(`${r.owner} finishes what it holds: ${notes.join(', ')}`);
    }
    await this.checkStep();
    for (const r of this.replicas) r.countingSlotsMissed = true;
    const past = this.config.reconcile.leaseMs + this.config.reconcile.backoffMaxMs + 1000;
    let rounds = 0;
    while (!(await this.settled())) {
      if (++rounds > QUIESCENCE_ROUNDS) {
        const state = (await this.rows())
          .filter((r) => r.dirty && r.status !== 'parked')
          .map((r) => `${r.user_id} ${r.status} last_version ${r.last_version} lease ${r.lease_owner ?? '-'} error ${r.last_error_message ?? '-'}`);
        this.fail(`not converged after ${QUIESCENCE_ROUNDS} quiescence rounds: ${state.join('; ')}`);
      }
      await this.timePasses(past, false);
      for (const r of this.replicas) {
        const notes = await r.work('natural');
        if (notes.length > 1 && rounds <= 3) this.note(`round ${rounds}: ${r.owner} (clock ${r.offsetMs >= 0 ? '+' : ''}${r.offsetMs} ms): ${notes.join(', ')}`);
      }
      await this.checkStep();
    }
    for (const r of this.replicas) {
      if (Math.abs(r.offsetMs) <= TOLERATED_SKEW_MS && r.slotsMissed > 0) {
        this.fail(`${r.owner}, clock off by ${r.offsetMs} ms, deferred ${r.slotsMissed} push(es) in quiescence as "slot passed"`);
      }
    }
    for (const r of await this.rows()) {
      if (r.status === 'parked') {
        if (r.last_error_message === null) this.fail(`${r.user_id} is parked without a reason`);
        continue;
      }
      for (const s of SIDES) {
        const want = sideOf(r, s, 'desired')!;
        const shown = this.feishu.shown(r.user_id, s);
        if (want.web_app !== shown.web_app || want.gadget !== shown.gadget) {
          this.fail(`after quiescence ${r.user_id} (${r.status}) should show ${s} ${fmt(want)}, Feishu shows ${fmt(shown)}`);
        }
      }
    }
  }

  private async settled(): Promise<boolean> {
    if (this.replicas.some((r) => r.held().length > 0)) return false;
    const [{ n }] = await this.ds.query(
      `SELECT count(*)::int AS n FROM badge_state WHERE (desired_revision > pushed_revision AND status <> 'parked') OR lease_owner IS NOT NULL`,
    );
    return n === 0;
  }
}
