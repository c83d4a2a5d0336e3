import { LIMITS } from '../emulator.constants';

const DIGITS = /^\d+$/;

/** A version is a decimal string of an int64 >= 0; anything else is Feishu's 213005. */
export function parseBadgeVersion(text: string): bigint | null {
  if (!DIGITS.test(text)) return null;
  const value = BigInt(text);
  return value > LIMITS.maxVersion ? null : value;
}

/** Compared as numbers, so "9" < "10" and "007" equals "7". */
export function isNewerVersion(candidate: bigint, latest: bigint | null): boolean {
  return latest === null || candidate > latest;
}
