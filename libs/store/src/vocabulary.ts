/**
 * The service's words, each defined once: the API's enums, the DTOs' validation and the database's CHECKs all
 * read them from here. UserIdType belongs to the event schema (@badges/contracts); it is repeated here only so
 * that one import gives all three.
 */
export { USER_ID_TYPES, type UserIdType } from '@badges/contracts';

/** badge_state.status (its CHECK is in the initial schema). */
export const BADGE_STATUSES = ['pending', 'in_sync', 'backing_off', 'parked'] as const;
export type BadgeStatus = (typeof BADGE_STATUSES)[number];

/**
 * badge_audit.kind, the entries of a user's history: an accepted source change; an event not newer than the stored
 * one (stale) or refused (rejected, also sent to the DLQ); a push attempt, including one whose holder lost its lease
 * (outcome unknown); a resync by an operator or by drift repair. A new kind needs a migration that replaces the
 * CHECK (see 1764460800000-audit-kind-check.ts).
 */
export const AUDIT_KINDS = ['change', 'stale', 'rejected', 'push', 'resync'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** A kind as an SQL literal for the statements that write or filter the audit trail: the compiler refuses a kind
 * outside AUDIT_KINDS, and the kinds are plain words, so quoting is all they need. */
export const sqlKind = (kind: AuditKind): string => `'${kind}'`;
