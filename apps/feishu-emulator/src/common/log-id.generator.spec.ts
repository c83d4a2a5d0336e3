import { ManualClock } from '../../testing/manual-clock';
import { ScriptedRandom } from '../../testing/scripted-random';
import { LogIdGenerator } from './log-id.generator';

describe('LogIdGenerator', () => {
  it('writes Beijing time, then 20 upper-case hex digits, never twice the same', () => {
    const sut = new LogIdGenerator(new ManualClock(Date.UTC(2026, 10, 26, 4, 5, 6)), new ScriptedRandom());
    const ids = Array.from({ length: 1000 }, () => sut.next());
    expect(ids[0]).toMatch(/^20261126120506[0-9A-F]{20}$/);
    expect(new Set(ids).size).toBe(1000);
  });
});
