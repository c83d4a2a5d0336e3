/* The /v1 shapes the console reads (see the OpenAPI document at /docs). */

export type UserIdType = 'open_id' | 'union_id' | 'user_id';
export type BadgeStatus = 'pending' | 'in_sync' | 'backing_off' | 'parked';
export interface SideCounts {
  web_app: number;
  gadget: number;
}
export interface Counts {
  pc: SideCounts;
  mobile: SideCounts;
}
export interface LastError {
  code: number | null;
  message: string | null;
  logId: string | null;
  at: string | null;
}
export interface Source {
  source: string;
  counts: Counts;
  sequence: number;
  eventId: string;
  occurredAt: string;
  updatedAt: string;
}
export interface Badge {
  userId: string;
  userIdType: UserIdType;
  tenantKey: string;
  desired: Counts;
  applied: { pc: SideCounts | null; mobile: SideCounts | null };
  inSync: boolean;
  appliedEqualsDesired: boolean;
  status: BadgeStatus;
  nextAttemptAt: string;
  attempts: number;
  lastVersion: string;
  lastPushedAt: string | null;
  desiredChangedAt: string;
  sources: Source[];
  sourcesNextCursor: string | null;
  lastError: LastError | null;
}
export interface SourceAt {
  source: string;
  counts: Counts;
  sequence: number | null;
  eventId: string | null;
  changedAt: string | null;
}
export interface BadgeAt {
  at: string;
  desired: Counts;
  sources: SourceAt[];
  historyKeptSince: string | null;
}
export interface HistoryItem {
  at: string;
  kind: string;
  source?: string;
  sequence?: number;
  eventId?: string;
  old?: Counts;
  new?: Partial<Counts>;
  version?: string;
  outcome?: string;
  code?: number;
  httpStatus?: number;
  latencyMs?: number;
  logId?: string;
  detail?: string;
}
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
export interface ListItem {
  userId: string;
  userIdType: UserIdType;
  tenantKey: string;
  status: BadgeStatus;
  desiredChangedAt: string;
  nextAttemptAt: string;
  attempts: number;
  lastError: LastError | null;
}
export interface Stats {
  users: Record<BadgeStatus | 'total', number>;
  dirty: number;
  oldestPendingAgeSeconds: number | null;
  pushesLastHour: { byOutcome: Record<string, number>; byCode: Record<string, number> };
  consumerLag: { partitions: Record<string, number>; total: number; measuredAt: string } | null;
}
export interface Series {
  from: string;
  to: string;
  bucketSeconds: number;
  outcomes: string[];
  buckets: { at: string; pushes: Record<string, number>; eventToApplied: { count: number; p50Ms: number; p95Ms: number; maxMs: number } | null }[];
}
export interface ResyncAccepted {
  status: BadgeStatus;
  desiredRevision: number;
}
