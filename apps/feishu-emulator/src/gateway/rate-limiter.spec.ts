import { ManualClock } from '../../testing/manual-clock';
import { parseEmulatorConfig } from '../config/emulator.config';
import { RateLimiter } from './rate-limiter.service';

describe('RateLimiter', () => {
  const setup = (env: Record<string, string> = {}) => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 0));
    const sut = new RateLimiter(parseEmulatorConfig({ EMULATOR_RATE_LIMIT: '3', ...env }), clock);
    return { clock, sut };
  };

  it('accepts up to the limit within one second, then refuses until the next window', () => {
    const { clock, sut } = setup();
    const answers = [1, 2, 3, 4].map(() => sut.take('app_badge/set', 'cli_a', 't1').allowed);
    expect(answers).toEqual([true, true, true, false]);
    clock.advance(999);
    expect(sut.take('app_badge/set', 'cli_a', 't1').allowed).toBe(false);
    clock.advance(1);
    expect(sut.take('app_badge/set', 'cli_a', 't1').allowed).toBe(true);
  });

  it('uses fixed windows aligned to whole seconds, not a sliding one', () => {
    const { clock, sut } = setup();
    clock.advance(900);
    for (let i = 0; i < 3; i += 1) expect(sut.take('app_badge/set', 'cli_a', 't1').allowed).toBe(true);
    clock.advance(100);
    for (let i = 0; i < 3; i += 1) expect(sut.take('app_badge/set', 'cli_a', 't1').allowed).toBe(true);
    expect(sut.maxAcceptedPerWindow()['app_badge/set']['cli_a/t1']).toBe(3);
  });

  it('announces the limit and the whole seconds to the reset, at least 1', () => {
    const { clock, sut } = setup();
    clock.advance(10);
    for (let i = 0; i < 3; i += 1) sut.take('app_badge/set', 'cli_a', 't1');
    expect(sut.take('app_badge/set', 'cli_a', 't1')).toEqual({ allowed: false, limit: 3, resetSeconds: 1 });
    clock.advance(989);
    expect(sut.take('app_badge/set', 'cli_a', 't1')).toEqual({ allowed: false, limit: 3, resetSeconds: 1 });
  });

  it('keeps separate windows per API, app and tenant', () => {
    const { sut } = setup({ EMULATOR_TOKEN_RATE_LIMIT: '1' });
    for (let i = 0; i < 3; i += 1) sut.take('app_badge/set', 'cli_a', 't1');
    expect(sut.take('app_badge/set', 'cli_a', 't2').allowed).toBe(true);
    expect(sut.take('app_badge/set', 'cli_b', 't1').allowed).toBe(true);
    expect(sut.take('token', 'cli_a', 't1').allowed).toBe(true);
    expect(sut.take('token', 'cli_a', 't1').allowed).toBe(false);
  });

  it('treats a limit of 0 as unlimited but still records the peak accepted', () => {
    const { sut } = setup({ EMULATOR_RATE_LIMIT: '0' });
    for (let i = 0; i < 500; i += 1) expect(sut.take('app_badge/set', 'cli_a', 't1').allowed).toBe(true);
    expect(sut.maxAcceptedPerWindow()).toEqual({ 'app_badge/set': { 'cli_a/t1': 500 } });
  });

  it('records the most accepted in any window, never the refused ones', () => {
    const { clock, sut } = setup();
    for (let i = 0; i < 2; i += 1) sut.take('app_badge/set', 'cli_a', 't1');
    clock.advance(1000);
    for (let i = 0; i < 10; i += 1) sut.take('app_badge/set', 'cli_a', 't1');
    clock.advance(1000);
    sut.take('app_badge/set', 'cli_a', 't1');
    expect(sut.maxAcceptedPerWindow()['app_badge/set']['cli_a/t1']).toBe(3);
  });

  it('changes limits at run time and resets to the configured ones', () => {
    const { sut } = setup();
    sut.setLimits({ 'app_badge/set': 1 });
    expect(sut.take('app_badge/set', 'cli_a', 't1').allowed).toBe(true);
    expect(sut.take('app_badge/set', 'cli_a', 't1').allowed).toBe(false);
    sut.reset();
    expect(sut.getLimits()).toEqual({ 'app_badge/set': 3, token: 1000 });
    expect(sut.maxAcceptedPerWindow()).toEqual({});
  });
});
