/** Limits of the audit API and the audit trail's maintenance schedule. */
export const AUDIT = {
  /** Longest user id, tenant key or event id the contract allows. */
  maxIdLength: 128,
  maxCursorLength: 1024,
  defaultPageSize: 50,
  maxPageSize: 200,
  /** Sources inline in GET /v1/badges/{userId}; the rest through /sources (sourcesNextCursor). */
  badgeSources: 100,
  pushWindowSeconds: 3600,
  /** GET /v1/stats/series: per-minute buckets over this many hours back. */
  seriesDefaultHours: 3,
  seriesMaxHours: 24,
  /** Daily partitions kept ready: from this many days back to this many ahead (UTC days). */
  partitionsBehindDays: 1,
  partitionsAheadDays: 3,
  maintenanceIntervalMs: 3_600_000,
  /** Each replica's next pass is spread over ±10% of the interval. */
  maintenanceJitter: 0.1,
  /** After a failed pass (database down, lock timeout), try again sooner than the hour. */
  maintenanceRetryMs: 60_000,
  /** Folding badge_status_delta into the totals (GET /v1/stats reads both): keeps the deltas to seconds of writes. */
  statusFoldIntervalMs: 10_000,
  /** GET /v1/stats and /stats/series share concurrent reads; one still running after this no longer holds the rest. */
  sharedReadDeadlineMs: 5_000,
} as const;
