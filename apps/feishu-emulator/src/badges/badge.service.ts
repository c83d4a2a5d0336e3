import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.service';
import { FeishuError } from '../common/feishu.error';
import { EMULATOR_CONFIG } from '../common/injection.tokens';
import type { EmulatorConfig } from '../config/emulator.config';
import { CODES, LIMITS, MESSAGES, type UserIdType } from '../emulator.constants';
import type { BadgeCounts, BadgeSetCommand, BadgeSide } from './badge-set.validator';
import { isNewerVersion } from './badge-version.util';
import { UserStatusService } from './user-status.service';

interface SideState extends BadgeCounts {
  version: bigint;
}

export interface HistoryEntry {
  at: number;
  version: string;
  code: number;
  pc: BadgeCounts | null;
  mobile: BadgeCounts | null;
  /** Set when the change was applied but the client was told something else (an ambiguous 500). */
  answeredStatus?: number;
}

interface BadgeRecord {
  tenantKey: string;
  userIdType: UserIdType;
  userId: string;
  pc: SideState | null;
  mobile: SideState | null;
  history: HistoryEntry[];
}

export interface SideView extends BadgeCounts {
  version: string;
}

export interface BadgeView {
  userId: string;
  userIdType: UserIdType;
  tenantKey: string;
  pc: SideView | null;
  mobile: SideView | null;
}

export interface BadgeHistoryView extends Omit<HistoryEntry, 'at'> {
  at: string;
}

export interface ConcurrencyStats {
  /** Most requests for one user seen in flight at once (a second one is answered 213004). */
  peakConcurrentPerUser: number;
  usersOverOne: number;
  usersOverOneSample: string[];
}

const CONFLICT = {
  pc: { code: CODES.pcVersionConflict, msg: MESSAGES.pcVersionConflict },
  mobile: { code: CODES.mobileVersionConflict, msg: MESSAGES.mobileVersionConflict },
} as const;

const recordKey = (tenantKey: string, userIdType: string, userId: string) => `${tenantKey}\u0001${userIdType}\u0001${userId}`;

/** Badge state per tenant x user_id_type x user_id, with a latest version per side. */
@Injectable()
export class BadgeService {
  private readonly records = new Map<string, BadgeRecord>();
  private readonly inFlight = new Map<string, number>();
  private peakConcurrentPerUser = 0;
  private readonly usersOverOne = new Set<string>();

  constructor(
    @Inject(EMULATOR_CONFIG) private readonly config: EmulatorConfig,
    private readonly clock: Clock,
    private readonly users: UserStatusService,
  ) {}

  /**
   * `whileInFlight` runs after the request is counted as in flight for its user and before the
   * versions are compared: injected latency goes there, so overlapping requests see 213004.
   */
  async set(tenantKey: string, command: BadgeSetCommand, whileInFlight?: () => Promise<void> | null): Promise<HistoryEntry> {
    const key = recordKey(tenantKey, command.userIdType, command.userId);
    const status = this.users.statusOf(command.userId);
    if (status === 'invalid') throw this.reject(key, tenantKey, command, CODES.userStatusInvalid, MESSAGES.userStatusInvalid);
    if (status === 'invisible') throw this.reject(key, tenantKey, command, CODES.userInvisible, MESSAGES.userInvisible);

    const concurrent = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, concurrent);
    if (concurrent > this.peakConcurrentPerUser) this.peakConcurrentPerUser = concurrent;
    if (concurrent > 1) {
      this.usersOverOne.add(key);
      this.leave(key);
      throw this.reject(key, tenantKey, command, CODES.concurrentSet, MESSAGES.concurrentSet);
    }
    try {
      const pending = whileInFlight?.();
      if (pending) await pending;
      const record = this.recordFor(key, tenantKey, command);
      this.checkSide(record, command, 'pc');
      this.checkSide(record, command, 'mobile');
      if (command.pc !== null) record.pc = { ...command.pc, version: command.version };
      if (command.mobile !== null) record.mobile = { ...command.mobile, version: command.version };
      return this.remember(record, command, CODES.ok);
    } finally {
      this.leave(key);
    }
  }

  find(tenantKey: string, userIdType: string, userId: string): { badge: BadgeView | null; history: BadgeHistoryView[] } | null {
    const record = this.records.get(recordKey(tenantKey, userIdType, userId));
    if (record === undefined) return null;
    return { badge: isSet(record) ? toView(record) : null, history: record.history.map(historyView) };
  }

  /** Users whose badge was set at least once, in first-touch order. */
  list(offset: number, limit: number, tenantKey?: string): { total: number; items: BadgeView[] } {
    const items: BadgeView[] = [];
    let total = 0;
    for (const record of this.records.values()) {
      if (!isSet(record) || (tenantKey !== undefined && record.tenantKey !== tenantKey)) continue;
      if (total >= offset && items.length < limit) items.push(toView(record));
      total += 1;
    }
    return { total, items };
  }

  concurrency(): ConcurrencyStats {
    const sample: string[] = [];
    for (const key of this.usersOverOne) {
      if (sample.length >= LIMITS.usersOverOneSample) break;
      sample.push(key.split('\u0001').join('/'));
    }
    return {
      peakConcurrentPerUser: this.peakConcurrentPerUser,
      usersOverOne: this.usersOverOne.size,
      usersOverOneSample: sample,
    };
  }

  reset(): void {
    this.records.clear();
    this.usersOverOne.clear();
    this.peakConcurrentPerUser = 0;
    for (const count of this.inFlight.values()) {
      if (count > this.peakConcurrentPerUser) this.peakConcurrentPerUser = count;
    }
  }

  private checkSide(record: BadgeRecord, command: BadgeSetCommand, side: BadgeSide): void {
    const current = record[side];
    if (command[side] === null || current === null || isNewerVersion(command.version, current.version)) return;
    const { code, msg } = CONFLICT[side];
    this.remember(record, command, code);
    const message = this.config.latestVersionInMessage ? `${msg}, latest version: ${current.version}` : msg;
    throw new FeishuError(400, code, message);
  }

  private reject(key: string, tenantKey: string, command: BadgeSetCommand, code: number, msg: string): FeishuError {
    this.remember(this.recordFor(key, tenantKey, command), command, code);
    return new FeishuError(400, code, msg);
  }

  private recordFor(key: string, tenantKey: string, command: BadgeSetCommand): BadgeRecord {
    let record = this.records.get(key);
    if (record === undefined) {
      record = { tenantKey, userIdType: command.userIdType, userId: command.userId, pc: null, mobile: null, history: [] };
      this.records.set(key, record);
    }
    return record;
  }

  private remember(record: BadgeRecord, command: BadgeSetCommand, code: number): HistoryEntry {
    const entry: HistoryEntry = {
      at: this.clock.now(),
      version: command.versionText,
      code,
      pc: command.pc,
      mobile: command.mobile,
    };
    record.history.push(entry);
    if (record.history.length > LIMITS.badgeHistory) record.history.shift();
    return entry;
  }

  private leave(key: string): void {
    const remaining = (this.inFlight.get(key) ?? 1) - 1;
    if (remaining <= 0) this.inFlight.delete(key);
    else this.inFlight.set(key, remaining);
  }
}

const isSet = (record: BadgeRecord) => record.pc !== null || record.mobile !== null;

const sideView = (side: SideState | null): SideView | null =>
  side === null ? null : { web_app: side.web_app, gadget: side.gadget, version: side.version.toString() };

const toView = (record: BadgeRecord): BadgeView => ({
  userId: record.userId,
  userIdType: record.userIdType,
  tenantKey: record.tenantKey,
  pc: sideView(record.pc),
  mobile: sideView(record.mobile),
});

const historyView = (entry: HistoryEntry): BadgeHistoryView => ({ ...entry, at: new Date(entry.at).toISOString() });
