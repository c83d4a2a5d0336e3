import type { ChunkOutcome, SnapshotLine } from '@badges/store';
import { loadSnapshot, Rejected, SnapshotSink } from './snapshot-loader';

const line = (i: number) => JSON.stringify({ eventId: `e${i}`, userId: `ou_${i % 7}`, source: 'boot', sequence: i + 1, counts: { pc: { web_app: i % 3 } }, occurredAt: '2026-12-01T00:00:00Z' });

/** A sink that records the lines it got and takes its time, so several work at once. */
function sink(seen: number[][], delayMs = 1): SnapshotSink {
  return {
    applyChunk: async (lines: readonly SnapshotLine[]): Promise<ChunkOutcome> => {
      await new Promise((r) => setTimeout(r, delayMs));
      seen.push(lines.map((l) => l.line));
      return { applied: lines.length, usersChanged: 1, refused: [] };
    },
  };
}

/** The input cut into arbitrary pieces, as a stream delivers it. */
async function* pieces(text: string, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < text.length; i += size) yield Buffer.from(text.slice(i, i + size));
}

describe('loadSnapshot', () => {
  it('applies every good line exactly once across several sinks, numbering lines across chunk and piece boundaries', async () => {
    const lines = Array.from({ length: 103 }, (_, i) => line(i));
    lines.splice(50, 0, 'not json', '');
    const text = lines.join('\r\n'); // CRLF, no newline at the end
    const seen: number[][] = [];
    const rejects: Rejected[] = [];
    const totals = await loadSnapshot(pieces(text, 37), [sink(seen, 3), sink(seen, 1)], { appType: 'custom', chunkLines: 10, onReject: (r) => rejects.push(r) });
    expect(totals).toMatchObject({ lines: 105, applied: 103, rejected: 1 });
    const applied = seen.flat().sort((a, b) => a - b);
    expect(applied).toEqual([...Array.from({ length: 50 }, (_, i) => i + 1), ...Array.from({ length: 53 }, (_, i) => i + 53)]);
    expect(rejects).toEqual([{ line: 51, reason: expect.any(String), text: 'not json' }]);
    expect(seen.every((c) => c.length <= 10)).toBe(true);
  });

  it('fails the load when a sink fails, after the chunks in flight have ended', async () => {
    let inFlight = 0;
    const failing: SnapshotSink = {
      applyChunk: async () => {
        inFlight++;
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        throw new Error('database gone');
      },
    };
    const text = Array.from({ length: 100 }, (_, i) => line(i)).join('\n');
    await expect(loadSnapshot(pieces(text, 64), [failing, failing], { appType: 'custom', chunkLines: 5, onReject: () => undefined })).rejects.toThrow('database gone');
    expect(inFlight).toBe(0);
  });
});
