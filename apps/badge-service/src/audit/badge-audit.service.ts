import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { sumCounts } from '@badges/contracts';
import { AuditLookbackRepository, AuditRepository, AuditRow, BadgeSourceRow, BadgeStateRow, BadgeStatus, StatusListRow, UserIdType, UserKey } from '@badges/store';
import {
  decodeHistoryCursor,
  decodeSourcesCursor,
  decodeStatusCursor,
  encodeHistoryCursor,
  encodeSourcesCursor,
  encodeStatusCursor,
} from './audit-cursor';
import { AUDIT } from './audit.constants';
import type { AuditPrincipal } from './audit-token.guard';
import {
  BadgeAtView,
  BadgeListItemView,
  BadgeListPageView,
  BadgeView,
  CountsView,
  HistoryItemView,
  HistoryPageView,
  LastErrorView,
  ResyncAcceptedView,
  SideCountsView,
  SourceAtView,
  SourcesPageView,
  SourceView,
} from './audit-responses.dto';

export interface AuditUserKey extends UserKey {
  userIdType: UserIdType;
}

/** The resync's audit row names the token as the actor ("resync by ops-oncall (was parked)"). */
const resyncDetail = (actor: string) => `resync by ${actor}`;

/** A user of a tenant the token may not see does not exist for it: the same 404 as an unknown user. */
function visible(principal: AuditPrincipal, key: UserKey): void {
  if (principal.tenants !== null && !principal.tenants.has(key.tenantKey)) throw unknownUser();
}

export const tenantsOf = (principal: AuditPrincipal): string[] | null => (principal.tenants === null ? null : [...principal.tenants]);
/** Names the tenant set a principal sees, equal for equal sets in any order: '*' for all (a key for shared reads). */
export const tenantScopeKey = (tenants: readonly string[] | null): string => (tenants === null ? '*' : JSON.stringify([...tenants].sort()));

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function side(webApp: number | null, gadget: number | null): SideCountsView | null {
  return webApp === null || gadget === null ? null : { web_app: webApp, gadget };
}

function sameSide(a: SideCountsView, b: SideCountsView | null): boolean {
  return b !== null && a.web_app === b.web_app && a.gadget === b.gadget;
}

function lastError(r: Pick<BadgeStateRow, 'last_error_code' | 'last_error_message' | 'last_error_log_id' | 'last_error_at'>): LastErrorView | null {
  if (r.last_error_code === null && r.last_error_message === null && r.last_error_at === null) return null;
  return { code: r.last_error_code, message: r.last_error_message, logId: r.last_error_log_id, at: iso(r.last_error_at) };
}

function historyItem(r: AuditRow): HistoryItemView {
  const item: HistoryItemView = { at: r.at, kind: r.kind };
  if (r.source !== null) item.source = r.source;
  if (r.sequence !== null) item.sequence = Number(r.sequence);
  if (r.event_id !== null) item.eventId = r.event_id;
  if (r.old_counts !== null) item.old = r.old_counts;
  if (r.new_counts !== null) item.new = r.new_counts;
  if (r.version !== null) item.version = r.version;
  if (r.outcome !== null) item.outcome = r.outcome;
  if (r.code !== null) item.code = r.code;
  if (r.http_status !== null) item.httpStatus = r.http_status;
  if (r.latency_ms !== null) item.latencyMs = r.latency_ms;
  if (r.log_id !== null) item.logId = r.log_id;
  if (r.detail !== null) item.detail = r.detail;
  return item;
}

function sourceItem(x: BadgeSourceRow): SourceView {
  return {
    source: x.source,
    counts: { pc: { web_app: x.pc_web_app, gadget: x.pc_gadget }, mobile: { web_app: x.mobile_web_app, gadget: x.mobile_gadget } },
    sequence: Number(x.sequence),
    eventId: x.event_id,
    occurredAt: x.occurred_at.toISOString(),
    updatedAt: x.updated_at.toISOString(),
  };
}

/** One more row than the page was read: whether there is a next page, and the page itself. */
function sourcesPage(rows: BadgeSourceRow[], limit: number): { items: SourceView[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return { items: page.map(sourceItem), nextCursor: rows.length > limit ? encodeSourcesCursor(page[page.length - 1].source) : null };
}

function listItem(r: StatusListRow): BadgeListItemView {
  return {
    userId: r.user_id,
    userIdType: r.user_id_type as UserIdType,
    tenantKey: r.tenant_key,
    status: r.status,
    desiredChangedAt: r.desired_changed_at.toISOString(),
    nextAttemptAt: r.next_attempt_at.toISOString(),
    attempts: r.attempts,
    lastError: lastError(r),
  };
}

/** Answers "why does this user see N?" and lets an operator force a push. */
@Injectable()
export class BadgeAuditService {
  constructor(
    private readonly repository: AuditRepository,
    private readonly lookback: AuditLookbackRepository,
  ) {}

  async badge(principal: AuditPrincipal, key: AuditUserKey): Promise<BadgeView> {
    visible(principal, key);
    const found = await this.repository.badge(key, AUDIT.badgeSources + 1);
    if (!found) throw unknownUser();
    const { state: s } = found;
    const sources = sourcesPage(found.sources, AUDIT.badgeSources);
    const desired: CountsView = {
      pc: { web_app: s.desired_pc_web_app, gadget: s.desired_pc_gadget },
      mobile: { web_app: s.desired_mobile_web_app, gadget: s.desired_mobile_gadget },
    };
    const applied = {
      pc: side(s.applied_pc_web_app, s.applied_pc_gadget),
      mobile: side(s.applied_mobile_web_app, s.applied_mobile_gadget),
    };
    return {
      userId: s.user_id,
      userIdType: s.user_id_type as UserIdType,
      tenantKey: s.tenant_key,
      desired,
      applied,
      inSync: s.desired_revision === s.pushed_revision && s.status === 'in_sync',
      appliedEqualsDesired: sameSide(desired.pc, applied.pc) && sameSide(desired.mobile, applied.mobile),
      status: s.status,
      nextAttemptAt: s.next_attempt_at.toISOString(),
      attempts: s.attempts,
      desiredRevision: Number(s.desired_revision),
      pushedRevision: Number(s.pushed_revision),
      lastVersion: s.last_version,
      lastPushedAt: iso(s.last_pushed_at),
      desiredChangedAt: s.desired_changed_at.toISOString(),
      sources: sources.items,
      sourcesNextCursor: sources.nextCursor,
      lastError: lastError(s),
    };
  }

  /**
   * The badge as it stood at `at`, from the change rows of the audit trail: per source, the counts its latest change
   * at or before `at` set; for a source changed only after `at`, the counts its first later change replaced; for a
   * source unchanged since before `at`, its current counts. Exact for any instant since the trail is kept.
   */
  async badgeAt(principal: AuditPrincipal, key: AuditUserKey, at: string): Promise<BadgeAtView> {
    visible(principal, key);
    const [check, keptSince, exists] = await Promise.all([this.lookback.checkAt(at), this.lookback.keptSince(), this.repository.userExists(key)]);
    if (!exists) throw unknownUser();
    if (check.future) throw new BadRequestException([`at is in the future (the audit clock says ${check.now})`]);
    const since = keptSince === null ? null : `${keptSince}T00:00:00.000Z`;
    if (since !== null && Date.parse(at) < Date.parse(since)) {
      throw new BadRequestException([`at is before the audit trail kept (from ${since}; AUDIT_RETENTION_DAYS)`]);
    }
    const { by, after, current } = await this.lookback.sourcesAt(key, at);
    const sources = new Map<string, SourceAtView>();
    for (const r of by) {
      if (r.counts !== null) sources.set(r.source, { source: r.source, counts: r.counts, sequence: Number(r.sequence), eventId: r.event_id ?? null, changedAt: r.at ?? null });
    }
    const changedLater = new Set<string>();
    for (const r of after) {
      if (sources.has(r.source)) continue;
      changedLater.add(r.source);
      if (r.counts !== null) sources.set(r.source, { source: r.source, counts: r.counts, sequence: null, eventId: null, changedAt: null });
    }
    for (const x of current) {
      if (sources.has(x.source) || changedLater.has(x.source) || x.updated_at.getTime() > Date.parse(at)) continue;
      const s = sourceItem(x);
      sources.set(x.source, { source: s.source, counts: s.counts, sequence: s.sequence, eventId: s.eventId, changedAt: s.updatedAt });
    }
    const list = [...sources.values()].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
    return {
      userId: key.userId,
      userIdType: key.userIdType,
      tenantKey: key.tenantKey,
      at,
      desired: sumCounts(list.map((x) => x.counts)),
      sources: list,
      historyKeptSince: since,
    };
  }

  async history(principal: AuditPrincipal, key: AuditUserKey, limit: number, cursor?: string): Promise<HistoryPageView> {
    visible(principal, key);
    const after = cursor === undefined ? undefined : (decodeHistoryCursor(cursor) ?? invalidCursor());
    const rows = await this.repository.history(key, limit + 1, after);
    if (rows.length === 0 && !(await this.repository.userExists(key))) throw unknownUser();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(historyItem), nextCursor: rows.length > limit ? encodeHistoryCursor({ at: last.at, id: last.id }) : null };
  }

  async sources(principal: AuditPrincipal, key: AuditUserKey, limit: number, cursor?: string): Promise<SourcesPageView> {
    visible(principal, key);
    const after = cursor === undefined ? undefined : (decodeSourcesCursor(cursor) ?? invalidCursor());
    const rows = await this.repository.sources(key, limit + 1, after);
    if (rows.length === 0 && !(await this.repository.userExists(key))) throw unknownUser();
    return sourcesPage(rows, limit);
  }

  async listByStatus(principal: AuditPrincipal, status: BadgeStatus, limit: number, cursor?: string): Promise<BadgeListPageView> {
    const after = cursor === undefined ? undefined : (decodeStatusCursor(cursor, status) ?? invalidCursor());
    const rows = await this.repository.listByStatus(status, limit + 1, after, tenantsOf(principal));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(listItem),
      nextCursor:
        rows.length > limit ? encodeStatusCursor(status, { tenantKey: last.tenant_key, userIdType: last.user_id_type, userId: last.user_id }) : null,
    };
  }

  async resync(principal: AuditPrincipal, key: AuditUserKey): Promise<ResyncAcceptedView> {
    visible(principal, key);
    const row = await this.repository.resync(key, resyncDetail(principal.name));
    if (!row) throw unknownUser();
    return {
      userId: row.user_id,
      userIdType: row.user_id_type as UserIdType,
      tenantKey: row.tenant_key,
      desiredRevision: Number(row.desired_revision),
      status: row.status,
    };
  }
}

/** The query DTO has validated the cursor already; this guards callers that bypass it. */
function invalidCursor(): never {
  throw new BadRequestException(['invalid cursor']);
}

function unknownUser(): NotFoundException {
  return new NotFoundException('unknown user (no badge state for this tenantKey, userIdType and userId)');
}
