export const RECONCILE = {
  /** While one replica pushes on a budget: push at this share of FEISHU_RATE_LIMIT (slot timers fire a little late,
   * and a late push must not land in the next one-second window beside that window's full quota). Its SendWindow,
   * on answer times, keeps the count per window whatever the delays. */
  rateHeadroom: 0.985,
  /** While several replicas push on one budget, each SendWindow counts only its own pushes: the grid's spacing alone
   * keeps the count per window. Slots are then (1000 + this) / FEISHU_RATE_LIMIT ms apart, so a window at Feishu
   * receives more than the limit only if a push arrives this much later than the push FEISHU_RATE_LIMIT slots after
   * it (measured here: arrival delays up to 79 ms on an idle box; see the quota notes in bench/RESULTS.md). */
  sharedJitterMs: 150,
  /** A budget counts as shared until this long after another replica's last slot. */
  sharedMemoryMs: 2000,
  /** A replica that keeps up alone keeps a budget alone: the others stand by, rather than make every replica push at
   * the shared spacing. It does not keep up when its claims leave slots of its running grid unused (slots that
   * came and went no more than this long after its last one). */
  unusedWithinMs: 1000,
  /** A push that could not leave within this long after its slot gives the slot up and is re-slotted, so an
   * event-loop stall cannot bunch late pushes into one window. */
  maxSlotLatenessMs: 15,
  /** SendWindow: a push leaves only once the push FEISHU_RATE_LIMIT places before it was answered 1000 ms plus this
   * long ago (a margin for the clocks' granularity; the network's and Feishu's delays are covered by the answer). */
  sendWindowMarginMs: 2,
  /** While this replica holds every slot of the grid (SlotRun), a push may leave up to this late: SendWindow keeps
   * the count per window, so a stalled event loop costs no slots. Later than this it is re-slotted. */
  soleSenderLatenessMs: 500,
  /** Slots are reserved starting this far ahead, so the first is not already late when the claim commits. */
  slotLeadMs: 25,
  /** How far ahead a replica may reserve push slots. */
  slotHorizonMs: 1000,
  /** Bulk work (priority lanes) reserves slots only this far ahead, once half of it is free: a live change waits
   * behind at most this much bulk work, however large the backlog. */
  bulkHorizonMs: 60,
  minSleepMs: 20,
  /** Of each lease, the end kept for writing the results: every push step ends before it. At most a quarter. */
  completionReserveMs: 1000,
  /** Push results are written in groups: at most this many, at most this long after the first is ready. */
  completionGroupMax: 32,
  completionGroupMs: 20,
  /** Store apps: tenants with due work considered per tick (a fair share of the capacity each). */
  maxScopesPerTick: 1000,
  readyTickAgeMs: 10_000,
  gaugeIntervalMs: 5_000,
  tokenCheckCacheMs: 30_000,
  /** The event callback logs each refusal reason at most once per this interval (with a count of the rest). */
  callbackLogIntervalMs: 60_000,
  /** Largest body the callback's own port reads (Feishu's events are a few KiB). */
  callbackMaxBodyBytes: 64 * 1024,
} as const;
