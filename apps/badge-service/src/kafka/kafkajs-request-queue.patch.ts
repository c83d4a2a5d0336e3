import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (its last release) keeps a 1 ms timer running on every broker connection for as long as it is open:
 * after each request its queue schedules the next check of pending requests `throttledUntil - now` from now, and
 * `throttledUntil` is -1 until a broker throttles, so the delay is negative, Node runs it after 1 ms (with a
 * TimeoutNegativeWarning), and the check schedules itself again. Measured here: an idle api replica woke ~1,000 times
 * a second per connection and used 3–4% of a core doing nothing (bench/scale.bench.mjs). tulios/kafkajs#1556,
 * #1704 and #1751 report it; the fixes (#1667, #1768) were never merged.
 *
 * This replaces that one method with kafkajs's own logic minus the loop: a check is scheduled when requests are
 * pending (when the throttle ends, or after kafkajs's 10 ms interval) or while a throttle is in effect, and not when
 * nothing waits. Nothing depends on the idle timer: push() sends at once or enqueues and schedules, and every
 * response and request timeout checks the queue again.
 */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

export interface RequestQueueState {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
}

export function scheduleCheckPendingRequests(this: RequestQueueState, now: number = Date.now()): void {
  if (this.throttleCheckTimeoutId) return;
  const untilUnthrottled = this.throttledUntil - now;
  let delay: number;
  if (this.pending.length > 0) delay = untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  else if (untilUnthrottled > 0) delay = untilUnthrottled;
  else return; // nothing waits and no throttle: the next push() or response checks the queue
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

let patched = false;

/** Installs the fixed method on kafkajs's RequestQueue (once; before any connection is made is best, any time works). */
export function patchKafkajsRequestQueue(): void {
  if (patched) return;
  const load = createRequire(require.resolve('kafkajs'));
  const version = (load('./package.json') as { version: string }).version;
  // The method is replaced only in the release it was read in; a later kafkajs is left as it comes.
  if (version !== '2.2.4') return;
  const RequestQueue = load('./src/network/requestQueue/index.js') as { prototype: { scheduleCheckPendingRequests: () => void } };
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueState) {
    scheduleCheckPendingRequests.call(this);
  };
  patched = true;
}
