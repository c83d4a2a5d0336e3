import { ManualClock } from '../../testing/manual-clock';
import { FeishuError } from '../common/feishu.error';
import { parseEmulatorConfig } from '../config/emulator.config';
import type { BadgeSetCommand } from './badge-set.validator';
import { BadgeService } from './badge.service';
import { UserStatusService } from './user-status.service';

function setup(env: Record<string, string> = {}) {
  const config = parseEmulatorConfig(env);
  const clock = new ManualClock();
  const users = new UserStatusService(config);
  return { sut: new BadgeService(config, clock, users), users, clock };
}

function command(version: string, sides: Partial<Pick<BadgeSetCommand, 'pc' | 'mobile'>>, userId = 'ou_1'): BadgeSetCommand {
  return { userIdType: 'open_id', userId, version: BigInt(version), versionText: version, pc: null, mobile: null, ...sides };
}

async function rejection(promise: Promise<unknown>): Promise<FeishuError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FeishuError) return error;
    throw error;
  }
  throw new Error('expected a FeishuError');
}

const counts = (web_app: number, gadget: number) => ({ web_app, gadget });

describe('BadgeService', () => {
  it('keeps a latest version per side, and a side left out keeps its value and version', async () => {
    const { sut } = setup();
    await sut.set('t', command('10', { pc: counts(1, 2), mobile: counts(3, 4) }));
    await sut.set('t', command('11', { mobile: counts(5, 6) }));
    expect(sut.find('t', 'open_id', 'ou_1')!.badge).toEqual({
      userId: 'ou_1',
      userIdType: 'open_id',
      tenantKey: 't',
      pc: { web_app: 1, gadget: 2, version: '10' },
      mobile: { web_app: 5, gadget: 6, version: '11' },
    });
  });

  it('answers 213001 for a pc version not above the latest, naming it', async () => {
    const { sut } = setup();
    await sut.set('t', command('10', { pc: counts(1, 1) }));
    const error = await rejection(sut.set('t', command('10', { pc: counts(2, 2) })));
    expect(error).toMatchObject({ status: 400, code: 213001, msg: 'pc version conflict, latest version: 10' });
    expect(sut.find('t', 'open_id', 'ou_1')!.badge!.pc).toEqual({ web_app: 1, gadget: 1, version: '10' });
  });

  it('answers 213002 for a mobile conflict and leaves both sides alone', async () => {
    const { sut } = setup();
    await sut.set('t', command('5', { pc: counts(1, 1) }));
    await sut.set('t', command('9', { mobile: counts(1, 1) }));
    const error = await rejection(sut.set('t', command('7', { pc: counts(2, 2), mobile: counts(2, 2) })));
    expect(error).toMatchObject({ code: 213002, msg: 'mobile version conflict, latest version: 9' });
    expect(sut.find('t', 'open_id', 'ou_1')!.badge!.pc!.version).toBe('5');
  });

  it('checks only the sides a request carries: an older version may set the other side', async () => {
    const { sut } = setup();
    await sut.set('t', command('100', { pc: counts(1, 1) }));
    await sut.set('t', command('50', { mobile: counts(2, 2) }));
    expect(sut.find('t', 'open_id', 'ou_1')!.badge!.mobile!.version).toBe('50');
  });

  it('leaves the latest version out of the message when configured so', async () => {
    const { sut } = setup({ EMULATOR_LATEST_VERSION_IN_MESSAGE: 'false' });
    await sut.set('t', command('10', { pc: counts(1, 1) }));
    expect((await rejection(sut.set('t', command('9', { pc: counts(1, 1) })))).msg).toBe('pc version conflict');
  });

  it('keeps users apart by tenant and by user_id_type', async () => {
    const { sut } = setup();
    await sut.set('t1', command('10', { pc: counts(1, 1) }));
    await sut.set('t2', command('5', { pc: counts(2, 2) }));
    await sut.set('t1', { ...command('5', { pc: counts(3, 3) }), userIdType: 'user_id' });
    expect(sut.list(0, 10)).toEqual({ total: 3, items: expect.any(Array) });
    expect(sut.find('t2', 'open_id', 'ou_1')!.badge!.pc!.web_app).toBe(2);
  });

  it('answers 213004 to a request for a user that already has one in flight, and counts the overlap', async () => {
    const { sut, clock } = setup();
    const first = sut.set('t', command('1', { pc: counts(1, 1) }), () => clock.sleep(100));
    const second = await rejection(sut.set('t', command('2', { pc: counts(2, 2) })));
    expect(second).toMatchObject({ status: 400, code: 213004 });
    await sut.set('t', command('3', { pc: counts(3, 3) }, 'ou_other'));
    clock.advance(100);
    await first;
    await sut.set('t', command('4', { pc: counts(4, 4) }));
    expect(sut.concurrency()).toEqual({ peakConcurrentPerUser: 2, usersOverOne: 1, usersOverOneSample: ['t/open_id/ou_1'] });
    expect(sut.find('t', 'open_id', 'ou_1')!.history.map((h) => h.code)).toEqual([213004, 0, 0]);
  });

  it('answers 213006 and 213007 for users marked invalid or invisible, and serves them again when normal', async () => {
    const { sut, users } = setup({ EMULATOR_INVALID_USERS: 'ou_bad', EMULATOR_INVISIBLE_USERS: 'ou_hidden' });
    expect(await rejection(sut.set('t', command('1', { pc: counts(1, 1) }, 'ou_bad')))).toMatchObject({ code: 213006 });
    expect(await rejection(sut.set('t', command('1', { pc: counts(1, 1) }, 'ou_hidden')))).toMatchObject({ code: 213007 });
    users.mark(['ou_bad'], 'normal');
    await sut.set('t', command('1', { pc: counts(1, 1) }, 'ou_bad'));
    expect(sut.find('t', 'open_id', 'ou_hidden')).toEqual({ badge: null, history: [expect.objectContaining({ code: 213007 })] });
  });

  it('keeps the last 50 requests of a user', async () => {
    const { sut } = setup();
    for (let v = 1; v <= 60; v += 1) await sut.set('t', command(String(v), { pc: counts(v, 0) }));
    const history = sut.find('t', 'open_id', 'ou_1')!.history;
    expect(history).toHaveLength(50);
    expect(history[0].version).toBe('11');
    expect(history[49]).toEqual(expect.objectContaining({ version: '60', code: 0, pc: counts(60, 0), mobile: null }));
  });

  it('pages through users whose badge was set', async () => {
    const { sut } = setup();
    for (let i = 0; i < 5; i += 1) await sut.set('t', command('1', { pc: counts(i, 0) }, `ou_${i}`));
    const page = sut.list(1, 2);
    expect(page.total).toBe(5);
    expect(page.items.map((b) => b.userId)).toEqual(['ou_1', 'ou_2']);
    expect(sut.list(0, 10, 'other').total).toBe(0);
  });
});
