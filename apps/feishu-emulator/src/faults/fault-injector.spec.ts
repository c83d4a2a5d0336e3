import { ManualClock } from '../../testing/manual-clock';
import { ScriptedRandom } from '../../testing/scripted-random';
import { parseEmulatorConfig } from '../config/emulator.config';
import { FaultInjector } from './fault-injector.service';

function setup(env: Record<string, string> = {}) {
  const clock = new ManualClock();
  const random = new ScriptedRandom();
  return { sut: new FaultInjector(parseEmulatorConfig(env), clock, random), clock, random };
}

describe('FaultInjector', () => {
  it('draws nothing, and consumes no randomness, when no share is set', () => {
    const { sut, random } = setup();
    expect(sut.draw()).toBe('none');
    expect(random.remaining()).toBe(0);
  });

  it('cuts one uniform draw into 5xx, ambiguous, hang and drop slices in that order', () => {
    const { sut, random } = setup({
      EMULATOR_FAULT_5XX_RATE: '0.1',
      EMULATOR_FAULT_AMBIGUOUS_RATE: '0.2',
      EMULATOR_FAULT_HANG_RATE: '0.3',
      EMULATOR_FAULT_DROP_RATE: '0.1',
    });
    random.script(0, 0.09, 0.11, 0.29, 0.31, 0.59, 0.61, 0.69, 0.71, 0.99);
    const draws = Array.from({ length: 10 }, () => sut.draw());
    expect(draws).toEqual(['http5xx', 'http5xx', 'ambiguous', 'ambiguous', 'hang', 'hang', 'drop', 'drop', 'none', 'none']);
  });

  it('picks the 5xx status among the configured ones and counts it', () => {
    const { sut, random } = setup({ EMULATOR_FAULT_5XX_STATUSES: '502,503' });
    random.script(0.49, 0.5);
    expect([sut.http5xxStatus(), sut.http5xxStatus()]).toEqual([502, 503]);
    expect(sut.countersSnapshot().http5xx).toBe(2);
  });

  it('adds base latency plus uniform jitter, inclusive of the top', () => {
    const { sut, random } = setup({ EMULATOR_LATENCY_MS: '100', EMULATOR_LATENCY_JITTER_MS: '50' });
    random.script(0, 0.999999);
    expect([sut.delayMs(), sut.delayMs()]).toEqual([100, 150]);
  });

  it('keeps a timed outage until its end and an open one until turned off', () => {
    const { sut, clock } = setup();
    sut.update({ outage: { seconds: 2 } });
    expect(sut.inOutage()).toBe(true);
    clock.advance(1999);
    expect(sut.inOutage()).toBe(true);
    clock.advance(1);
    expect(sut.inOutage()).toBe(false);
    sut.update({ outage: true });
    clock.advance(1e9);
    expect(sut.state().outage).toEqual({ active: true, until: null });
    sut.update({ outage: false });
    expect(sut.inOutage()).toBe(false);
  });

  it('announces the storm reset while a 429 storm lasts', () => {
    const { sut, clock } = setup();
    expect(sut.stormResetSecondsNow()).toBeNull();
    sut.update({ rateLimitStorm: { seconds: 3, resetSeconds: 7 } });
    expect(sut.stormResetSecondsNow()).toBe(7);
    clock.advance(3000);
    expect(sut.stormResetSecondsNow()).toBeNull();
    expect(sut.countersSnapshot().rateLimitStorm).toBe(1);
  });

  it('resets to the configured faults', () => {
    const { sut } = setup({ EMULATOR_LATENCY_MS: '5' });
    sut.update({ latencyMs: 500, http5xxRate: 1, outage: true });
    sut.reset();
    expect(sut.state()).toEqual(expect.objectContaining({ latencyMs: 5, http5xxRate: 0, outage: { active: false, until: null } }));
  });
});
