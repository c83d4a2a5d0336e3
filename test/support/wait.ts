/**
 * Waiting on a condition, never on the clock alone: poll `check` until it returns something truthy (which is
 * returned) or the deadline passes; the failure names what was awaited and the last value or error seen.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  return poll(what, check, timeoutMs, everyMs, () => true) as Promise<Exclude<T, undefined | null | false | 0 | ''>>;
}

/** Like waitFor, but gives up at once when `stillWorthIt` says the awaited thing cannot happen any more. */
export async function until(what: string, check: () => Promise<unknown> | unknown, timeoutMs: number, everyMs: number, stillWorthIt: () => boolean = () => true): Promise<void> {
  await poll(what, check, timeoutMs, everyMs, stillWorthIt);
}

async function poll<T>(what: string, check: () => Promise<T> | T, timeoutMs: number, everyMs: number, stillWorthIt: () => boolean): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (!stillWorthIt()) throw new Error(`gave up waiting for ${what}: it can no longer happen`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
