import { FeishuError, type FieldViolation } from '../common/feishu.error';
import { CODES, DEFAULT_USER_ID_TYPE, LIMITS, MESSAGES, USER_ID_TYPES, type UserIdType } from '../emulator.constants';
import { parseBadgeVersion } from './badge-version.util';

export interface BadgeCounts {
  web_app: number;
  gadget: number;
}

export type BadgeSide = 'pc' | 'mobile';

export interface BadgeSetCommand {
  userIdType: UserIdType;
  userId: string;
  version: bigint;
  versionText: string;
  pc: BadgeCounts | null;
  mobile: BadgeCounts | null;
}

const COUNT_FIELDS: readonly (keyof BadgeCounts)[] = ['web_app', 'gadget'];

/**
 * Hand-written rather than schema-driven: this runs on every app_badge/set.
 * Order of rules: field validation (99992402, all violations at once), then 213005, then 213003.
 */
export function validateBadgeSet(userIdTypeParam: unknown, body: unknown): BadgeSetCommand {
  const violations: FieldViolation[] = [];

  let userIdType: UserIdType = DEFAULT_USER_ID_TYPE;
  if (userIdTypeParam !== undefined) {
    if (typeof userIdTypeParam === 'string' && (USER_ID_TYPES as readonly string[]).includes(userIdTypeParam)) {
      userIdType = userIdTypeParam as UserIdType;
    } else {
      violations.push({ field: 'user_id_type', description: `user_id_type must be one of ${USER_ID_TYPES.join(', ')}` });
    }
  }

  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    violations.push({ field: 'body', description: 'request body must be a JSON object' });
    throw fieldValidationFailed(violations);
  }
  const input = body as Record<string, unknown>;

  const userId = requiredString(input.user_id, 'user_id', violations);
  const versionText = requiredString(input.version, 'version', violations, true);
  if (input.extra !== undefined && input.extra !== null && typeof input.extra !== 'string') {
    violations.push({ field: 'extra', description: 'extra must be a string' });
  }
  const pc = counts(input.pc, 'pc', violations);
  const mobile = counts(input.mobile, 'mobile', violations);

  if (violations.length > 0) throw fieldValidationFailed(violations);

  const version = parseBadgeVersion(versionText as string);
  if (version === null) throw new FeishuError(400, CODES.invalidVersion, MESSAGES.invalidVersion);
  if (pc === null && mobile === null) throw new FeishuError(400, CODES.noData, MESSAGES.noData);

  return { userIdType, userId: userId as string, version, versionText: versionText as string, pc, mobile };
}

export function fieldValidationFailed(fieldViolations: FieldViolation[]): FeishuError {
  return new FeishuError(400, CODES.fieldValidation, MESSAGES.fieldValidation, { fieldViolations });
}

function requiredString(value: unknown, field: string, violations: FieldViolation[], allowEmpty = false): string | null {
  if (value === undefined || value === null || (!allowEmpty && value === '')) {
    violations.push({ field, description: `${field} is required` });
    return null;
  }
  if (typeof value !== 'string') {
    violations.push({ field, description: `${field} must be a string` });
    return null;
  }
  return value;
}

// A side that is given but lacks a count sets that count to 0 (a proto default); a guess.
function counts(value: unknown, side: BadgeSide, violations: FieldViolation[]): BadgeCounts | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    violations.push({ field: side, description: `${side} must be an object` });
    return null;
  }
  const input = value as Record<string, unknown>;
  const result: BadgeCounts = { web_app: 0, gadget: 0 };
  for (const field of COUNT_FIELDS) {
    const count = input[field];
    if (count === undefined || count === null) continue;
    const name = `${side}.${field}`;
    if (typeof count !== 'number' || !Number.isInteger(count)) {
      violations.push({ field: name, description: `${name} must be an integer` });
    } else if (count < 0) {
      violations.push({ field: name, description: `${name} must be >= 0` });
    } else if (count > LIMITS.maxBadgeCount) {
      violations.push({ field: name, description: `${name} must be <= ${LIMITS.maxBadgeCount}` });
    } else {
      result[field] = count;
    }
  }
  return result;
}
