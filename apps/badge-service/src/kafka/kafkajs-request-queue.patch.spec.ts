import { createRequire } from 'node:module';
import { patchKafkajsRequestQueue, RequestQueueState } from './kafkajs-request-queue.patch';

type Queue = RequestQueueState & { maxInFlightRequests: number; inflight: Map<number, unknown>; destroy(): void; scheduleCheckPendingRequests(): void };
const load = createRequire(require.resolve('kafkajs'));
const RequestQueue = load('./src/network/requestQueue/index.js') as { new (o: object): Queue; prototype: Queue };
const shipped = RequestQueue.prototype.scheduleCheckPendingRequests;
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const queue = () => new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'c', broker: 'b:9092', logger: silent });

describe('kafkajs request queue patch', () => {
  const made: Queue[] = [];
  const fresh = () => { const q = queue(); made.push(q); return q; };
  afterEach(() => { made.splice(0).forEach((q) => q.destroy()); jest.useRealTimers(); });

  it('kafkajs 2.2.4 as shipped re-arms a timer after a check with nothing pending (the idle loop it fixes)', () => {
    const q = fresh();
    shipped.call(q);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
  });

  it('after the patch, a check with nothing pending and no throttle schedules nothing', () => {
    patchKafkajsRequestQueue();
    const q = fresh();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still checks pending requests 10 ms later when they cannot be sent, and at the end of a throttle', () => {
    jest.useFakeTimers();
    patchKafkajsRequestQueue();
    const q = fresh();
    const checks = jest.spyOn(q, 'checkPendingRequests').mockImplementation(() => undefined);
    q.pending.push({});
    q.scheduleCheckPendingRequests();
    jest.advanceTimersByTime(9);
    expect(checks).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(checks).toHaveBeenCalledTimes(1);

    q.throttledUntil = Date.now() + 250;
    q.scheduleCheckPendingRequests();
    jest.advanceTimersByTime(249);
    expect(checks).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(1);
    expect(checks).toHaveBeenCalledTimes(2);
  });

  it('keeps a throttle check scheduled with nothing pending, as kafkajs does', () => {
    jest.useFakeTimers();
    patchKafkajsRequestQueue();
    const q = fresh();
    const checks = jest.spyOn(q, 'checkPendingRequests').mockImplementation(() => undefined);
    q.throttledUntil = Date.now() + 100;
    q.scheduleCheckPendingRequests();
    jest.advanceTimersByTime(100);
    expect(checks).toHaveBeenCalledTimes(1);
  });
});
