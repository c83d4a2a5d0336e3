export const RECONCILE = {
  /** Push at this share of FEISHU_RATE_LIMIT: slot timers fire a little late, and a late push must not land in
   * the next one-second window beside that window's full quota. */
  rateHeadroom: 0.99,
  /** How far ahead a replica may reserve push slots. */
  slotHorizonMs: 250,
  minSleepMs: 20,
  readyTickAgeMs: 10_000,
  gaugeIntervalMs: 5_000,
  tokenCheckCacheMs: 30_000,
} as const;
