/** `badge.unread-count-changed.v1`: the only input the service accepts. */
export const USER_ID_TYPES = ['open_id', 'union_id', 'user_id'] as const;
export type UserIdType = (typeof USER_ID_TYPES)[number];
export const SIDES = ['pc', 'mobile'] as const;
export type Side = (typeof SIDES)[number];
export const FIELDS = ['web_app', 'gadget'] as const;
export type Field = (typeof FIELDS)[number];

export const MAX_COUNT = 2 ** 31 - 1;
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;
export const MAX_EVENT_BYTES = 64 * 1024;
export const MAX_ID_LENGTH = 128;
export const SOURCE_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface SideCounts {
  web_app: number;
  gadget: number;
}
export interface Counts {
  pc: SideCounts;
  mobile: SideCounts;
}

/** A user's badge identity: Feishu scopes user ids by tenant and id type. Custom apps use tenant ''. */
export interface BadgeKey {
  tenantKey: string;
  userIdType: UserIdType;
  userId: string;
}

export interface BadgeEvent extends BadgeKey {
  eventId: string;
  source: string;
  sequence: number;
  counts: Counts;
  occurredAt: Date;
  /**
   * Bulk work (priority lanes): pushed only with the quota live work leaves. Not part of the JSON: set from the
   * Kafka header `badge-priority: bulk`, and by the snapshot loader.
   */
  bulk?: boolean;
}

export const ZERO_COUNTS: Readonly<Counts> = Object.freeze({
  pc: Object.freeze({ web_app: 0, gadget: 0 }),
  mobile: Object.freeze({ web_app: 0, gadget: 0 }),
});
