import { decodeEvent, describeRejection, type AppType } from '@badges/contracts';
import type { ChunkOutcome, SnapshotLine } from '@badges/store';

/** The loader's side effects, so its line handling is testable without a database. */
export interface SnapshotSink {
  applyChunk(lines: readonly SnapshotLine[]): Promise<ChunkOutcome>;
}

export interface Rejected {
  line: number;
  reason: string;
  text: string;
}

export interface SnapshotTotals {
  lines: number;
  applied: number;
  rejected: number;
  usersChanged: number;
  bytes: number;
}

export interface LoaderOptions {
  appType: AppType;
  chunkLines: number;
  /** Each bad line, as soon as it is known (written to the rejects file). */
  onReject: (r: Rejected) => void;
  /** After every chunk. */
  onProgress?: (t: SnapshotTotals) => void;
}

/** Longest text of a bad line kept in the rejects file. */
const MAX_REJECT_TEXT = 4096;

/**
 * Reads lines in the input event format (one JSON event per line) and applies them a chunk at a time, each chunk on
 * the next free sink (a connection of its own), so decoding the next chunk overlaps the database applying the
 * last ones. Chunks on different sinks may touch one user: the sinks take ingest's per-user locks and the newest
 * sequence wins, so the order they commit in changes nothing. A bad line is counted and handed to onReject with
 * its reason; it never stops the load. Blank lines are skipped. The first failure of a sink fails the load.
 */
export async function loadSnapshot(input: AsyncIterable<Buffer | string>, sinks: SnapshotSink | readonly SnapshotSink[], o: LoaderOptions): Promise<SnapshotTotals> {
  const pool = Array.isArray(sinks) ? [...sinks] : [sinks as SnapshotSink];
  const totals: SnapshotTotals = { lines: 0, applied: 0, rejected: 0, usersChanged: 0, bytes: 0 };
  let chunk: SnapshotLine[] = [];
  let texts = new Map<number, string>();
  const free: SnapshotSink[] = [...pool];
  const busy = new Set<Promise<void>>();
  let failure: unknown = null;
  const reject = (line: number, reason: string, text: string) => {
    totals.rejected++;
    o.onReject({ line, reason, text: text.length > MAX_REJECT_TEXT ? `${text.slice(0, MAX_REJECT_TEXT)}…` : text });
  };
  const flush = async () => {
    if (chunk.length === 0) return;
    while (free.length === 0) await Promise.race(busy);
    if (failure !== null) return; // the load stops: what is in flight ends first, then the failure is thrown
    const sink = free.pop()!;
    const lines = chunk;
    const kept = texts;
    chunk = [];
    texts = new Map();
    const job: Promise<void> = sink
      .applyChunk(lines)
      .then((r) => {
        totals.applied += r.applied;
        totals.usersChanged += r.usersChanged;
        for (const f of r.refused) reject(f.line, f.reason, kept.get(f.line) ?? '');
        o.onProgress?.(totals);
      })
      .catch((e: unknown) => {
        failure ??= e;
      })
      .finally(() => {
        busy.delete(job);
        free.push(sink);
      });
    busy.add(job);
  };
  const take = (raw: Buffer) => {
    totals.lines++;
    const line = totals.lines;
    const text = raw.toString('utf8').replace(/\r$/, '');
    if (text.trim() === '') return;
    const d = decodeEvent(Buffer.from(text, 'utf8'), { appType: o.appType });
    if (!d.ok) return reject(line, describeRejection(d.rejection), text);
    chunk.push({ line, event: { ...d.event, bulk: true } });
    texts.set(line, text);
  };
  let rest: Buffer = Buffer.alloc(0);
  for await (const piece of input) {
    if (failure !== null) break;
    const buf = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    totals.bytes += buf.length;
    const data = rest.length > 0 ? Buffer.concat([rest, buf]) : buf;
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      take(data.subarray(start, nl));
      start = nl + 1;
      if (chunk.length >= o.chunkLines) await flush();
      if (failure !== null) break;
    }
    rest = Buffer.from(data.subarray(start));
  }
  if (failure === null) {
    if (rest.length > 0) take(rest);
    await flush();
  }
  await Promise.all(busy);
  if (failure !== null) throw failure;
  return totals;
}
