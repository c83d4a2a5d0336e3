import { z } from 'zod';
import { LIMITS, USER_ID_TYPES } from '../emulator.constants';

const share = z.number().min(0).max(1);
const millis = z.number().int().min(0).max(600_000);
const seconds = z.number().positive().max(30 * 24 * 3600);

export const faultPatchSchema = z.strictObject({
  http5xxRate: share.optional(),
  http5xxStatuses: z.array(z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)])).min(1).optional(),
  ambiguousRate: share.optional(),
  latencyMs: millis.optional(),
  latencyJitterMs: millis.optional(),
  hangRate: share.optional(),
  dropRate: share.optional(),
  outage: z.union([z.boolean(), z.strictObject({ seconds })]).optional(),
  rateLimitStorm: z
    .union([z.literal(false), z.strictObject({ seconds, resetSeconds: z.number().int().min(1).max(3600).optional() })])
    .optional(),
});

const userIds = z.array(z.string().min(1)).optional();
export const userStatusPatchSchema = z.strictObject({ invalid: userIds, invisible: userIds, normal: userIds });

const limit = z.number().int().min(0).max(1_000_000).optional();
export const rateLimitPatchSchema = z.strictObject({ appBadgeSet: limit, token: limit });

export const tokenSettingsPatchSchema = z.strictObject({
  ttlSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
  refreshRatio: share.optional(),
});

const count = (fallback: number, max: number) => z.coerce.number().int().min(0).max(max).default(fallback);

export const badgeListQuerySchema = z.object({
  offset: count(0, Number.MAX_SAFE_INTEGER),
  limit: count(LIMITS.badgeListDefault, LIMITS.badgeListMax),
  tenantKey: z.string().min(1).optional(),
});

export const badgeQuerySchema = z.object({
  tenantKey: z.string().min(1).optional(),
  userIdType: z.enum(USER_ID_TYPES).optional(),
});
