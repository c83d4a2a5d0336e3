import { ManualClock } from '../../apps/feishu-emulator/testing/manual-clock';
import { BADGE_PATH, expectFeishuError, expectSuccess, startEmulator, waitFor, type TestEmulator } from './support/emulator-harness';

describe('POST /open-apis/application/v6/app_badge/set', () => {
  // Injected latency waits on this clock, so a request stays in flight until the test moves it.
  const clock = new ManualClock();
  let emulator: TestEmulator;
  let token: string;
  beforeAll(async () => {
    emulator = await startEmulator({
      EMULATOR_APP_ID: 'cli_badge_rules',
      EMULATOR_INVALID_USERS: 'ou_resigned',
      EMULATOR_INVISIBLE_USERS: 'ou_out_of_scope',
      EMULATOR_RATE_LIMIT: '0',
    }, { clock });
    token = await emulator.tenantToken();
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.admin('reset', {}));

  const set = (body: unknown, query?: Record<string, string>) => emulator.setBadge(token, body, query);
  const readBack = async (userId: string, query?: Record<string, string>) => emulator.get(`/_emulator/badges/${userId}`, { query });
  const violations = (answer: { body: any }) => answer.body.error.field_violations as Array<{ field: string; description: string }>;

  it('accepts the example request of the official page and answers {code:0, msg:"success", data:{}}', async () => {
    const answer = await set(
      {
        user_id: 'ou_d317f090b7258ad0372aa53963cda70d',
        version: '1664360599355',
        extra: '{}',
        pc: { web_app: 1, gadget: 2 },
        mobile: { web_app: 1, gadget: 2 },
      },
      { user_id_type: 'open_id' },
    );
    expectSuccess(answer);
    expect((await readBack('ou_d317f090b7258ad0372aa53963cda70d')).body).toEqual(
      expect.objectContaining({
        pc: { web_app: 1, gadget: 2, version: '1664360599355' },
        mobile: { web_app: 1, gadget: 2, version: '1664360599355' },
      }),
    );
  });

  describe('field validation: HTTP 400, 99992402 "field validation failed" with field_violations', () => {
    it.each([
      ['user_id missing', { version: '1', pc: { web_app: 1 } }, 'user_id'],
      ['user_id not a string', { user_id: 42, version: '1', pc: { web_app: 1 } }, 'user_id'],
      ['version missing', { user_id: 'ou_1', pc: { web_app: 1 } }, 'version'],
      ['version a number', { user_id: 'ou_1', version: 5, pc: { web_app: 1 } }, 'version'],
      ['extra not a string', { user_id: 'ou_1', version: '1', extra: {}, pc: { web_app: 1 } }, 'extra'],
      ['pc not an object', { user_id: 'ou_1', version: '1', pc: 3 }, 'pc'],
      ['mobile an array', { user_id: 'ou_1', version: '1', mobile: [1, 2] }, 'mobile'],
      ['a negative count', { user_id: 'ou_1', version: '1', pc: { web_app: -1, gadget: 0 } }, 'pc.web_app'],
      ['a fractional count', { user_id: 'ou_1', version: '1', mobile: { web_app: 0, gadget: 1.5 } }, 'mobile.gadget'],
      ['a count as text', { user_id: 'ou_1', version: '1', mobile: { web_app: '2' } }, 'mobile.web_app'],
    ])('%s', async (_, body, field) => {
      const answer = await set(body);
      expectFeishuError(answer, 400, 99992402);
      expect(answer.body.msg).toBe('field validation failed');
      expect(violations(answer)).toEqual([{ field, description: expect.any(String) }]);
    });

    it('lists every violation of one request', async () => {
      const answer = await set({ user_id: '', version: 1, pc: { web_app: -2, gadget: 'x' } }, { user_id_type: 'email' });
      expectFeishuError(answer, 400, 99992402);
      expect(violations(answer).map((v) => v.field)).toEqual(['user_id_type', 'user_id', 'version', 'pc.web_app', 'pc.gadget']);
    });

    it('treats a body that is not JSON, or not an object, as a field violation', async () => {
      const broken = await emulator.post(BADGE_PATH, undefined, { headers: { authorization: `Bearer ${token}` }, raw: '{"user_id":' });
      expectFeishuError(broken, 400, 99992402);
      expect(violations(broken)).toEqual([{ field: 'body', description: expect.any(String) }]);
      expect(violations(await set([1, 2]))).toEqual([{ field: 'body', description: expect.any(String) }]);
    });
  });

  describe('user_id_type', () => {
    it('defaults to open_id and keeps union_id and user_id users apart', async () => {
      expectSuccess(await set({ user_id: 'same_id', version: '1', pc: { web_app: 1, gadget: 0 } }));
      expectSuccess(await set({ user_id: 'same_id', version: '1', pc: { web_app: 2, gadget: 0 } }, { user_id_type: 'union_id' }));
      expectSuccess(await set({ user_id: 'same_id', version: '1', pc: { web_app: 3, gadget: 0 } }, { user_id_type: 'user_id' }));
      const webApp = async (userIdType: string) => (await readBack('same_id', { userIdType })).body.pc.web_app;
      expect([await webApp('open_id'), await webApp('union_id'), await webApp('user_id')]).toEqual([1, 2, 3]);
      expect((await readBack('same_id')).body.userIdType).toBe('open_id');
    });

    it('answers any other value with a field violation on user_id_type', async () => {
      const answer = await set({ user_id: 'ou_1', version: '1', pc: { web_app: 1 } }, { user_id_type: 'email' });
      expectFeishuError(answer, 400, 99992402);
      expect(violations(answer)).toEqual([{ field: 'user_id_type', description: expect.any(String) }]);
    });
  });

  describe('version', () => {
    it.each(['abc', '', '-5', '1.5', ' 7', '99999999999999999999'])('answers %j with 213005 "invalid version"', async (version) => {
      const answer = await set({ user_id: 'ou_1', version, pc: { web_app: 1 } });
      expectFeishuError(answer, 400, 213005);
      expect(answer.body.msg).toBe('invalid version');
    });

    it('answers 213001 "pc version conflict" with the latest version when pc is not above it', async () => {
      expectSuccess(await set({ user_id: 'ou_1', version: '1700000000000', pc: { web_app: 5, gadget: 0 } }));
      for (const version of ['1700000000000', '1699999999999']) {
        const answer = await set({ user_id: 'ou_1', version, pc: { web_app: 9, gadget: 0 } });
        expectFeishuError(answer, 400, 213001);
        expect(answer.body.msg).toBe('pc version conflict, latest version: 1700000000000');
      }
      expect((await readBack('ou_1')).body.pc).toEqual({ web_app: 5, gadget: 0, version: '1700000000000' });
    });

    it('answers 213002 "mobile version conflict" and applies neither side', async () => {
      expectSuccess(await set({ user_id: 'ou_1', version: '10', mobile: { web_app: 1, gadget: 1 } }));
      const answer = await set({ user_id: 'ou_1', version: '9', pc: { web_app: 4, gadget: 4 }, mobile: { web_app: 4, gadget: 4 } });
      expectFeishuError(answer, 400, 213002);
      expect(answer.body.msg).toBe('mobile version conflict, latest version: 10');
      expect((await readBack('ou_1')).body).toEqual(expect.objectContaining({ pc: null, mobile: { web_app: 1, gadget: 1, version: '10' } }));
    });

    it('compares versions as numbers: "10" is above "9", "007" is not above "7"', async () => {
      expectSuccess(await set({ user_id: 'ou_1', version: '9', pc: { web_app: 1, gadget: 0 } }));
      expectSuccess(await set({ user_id: 'ou_1', version: '10', pc: { web_app: 2, gadget: 0 } }));
      expectSuccess(await set({ user_id: 'ou_2', version: '7', pc: { web_app: 1, gadget: 0 } }));
      expectFeishuError(await set({ user_id: 'ou_2', version: '007', pc: { web_app: 1, gadget: 0 } }), 400, 213001);
    });

    it('keeps a latest version per side: a side left out keeps its value, and its version does not block the other side', async () => {
      expectSuccess(await set({ user_id: 'ou_1', version: '100', pc: { web_app: 3, gadget: 1 } }));
      expectSuccess(await set({ user_id: 'ou_1', version: '50', mobile: { web_app: 8, gadget: 0 } }));
      expectSuccess(await set({ user_id: 'ou_1', version: '60', mobile: { web_app: 0, gadget: 0 } }));
      const body = (await readBack('ou_1')).body;
      expect(body.pc).toEqual({ web_app: 3, gadget: 1, version: '100' });
      expect(body.mobile).toEqual({ web_app: 0, gadget: 0, version: '60' });
      expect(body.history.map((h: { code: number; version: string }) => [h.version, h.code])).toEqual([
        ['100', 0],
        ['50', 0],
        ['60', 0],
      ]);
    });
  });

  it('answers 213003 "no data" when neither pc nor mobile is given', async () => {
    const answer = await set({ user_id: 'ou_1', version: '1', extra: '{}' });
    expectFeishuError(answer, 400, 213003);
    expect(answer.body.msg).toBe('no data');
  });

  describe('user status', () => {
    it('answers users configured invalid with 213006 and invisible with 213007', async () => {
      const invalid = await set({ user_id: 'ou_resigned', version: '1', pc: { web_app: 1 } });
      expectFeishuError(invalid, 400, 213006);
      expect(invalid.body.msg).toBe('user status not valid');
      const invisible = await set({ user_id: 'ou_out_of_scope', version: '1', pc: { web_app: 1 } });
      expectFeishuError(invisible, 400, 213007);
      expect(invisible.body.msg).toBe('user is invisible');
      expect((await readBack('ou_resigned')).status).toBe(404);
    });

    it('marks users at run time through /_emulator/users, and reset restores the configured lists', async () => {
      expect(await emulator.admin('users', { invalid: ['ou_1'], invisible: ['ou_2'], normal: ['ou_resigned'] })).toEqual({
        invalid: ['ou_1'],
        invisible: ['ou_out_of_scope', 'ou_2'],
      });
      expectFeishuError(await set({ user_id: 'ou_1', version: '1', pc: { web_app: 1 } }), 400, 213006);
      expectFeishuError(await set({ user_id: 'ou_2', version: '1', pc: { web_app: 1 } }), 400, 213007);
      expectSuccess(await set({ user_id: 'ou_resigned', version: '1', pc: { web_app: 1 } }));
      await emulator.admin('users', { normal: ['ou_1'] });
      expectSuccess(await set({ user_id: 'ou_1', version: '2', pc: { web_app: 1 } }));
      await emulator.admin('reset', {});
      expect(await emulator.admin('users')).toEqual({ invalid: ['ou_resigned'], invisible: ['ou_out_of_scope'] });
    });
  });

  describe('213004: a second request for a user while one is in flight', () => {
    it('answers the overlapping request 213004 and counts the overlap per user', async () => {
      await emulator.admin('faults', { latencyMs: 300 });
      const first = set({ user_id: 'ou_busy', version: '1', pc: { web_app: 1, gadget: 0 } });
      await waitFor('the first request to be in flight', async () => (await emulator.admin('stats')).faultsInjected.delayed === 1);
      const second = await set({ user_id: 'ou_busy', version: '2', pc: { web_app: 2, gadget: 0 } });
      expectFeishuError(second, 400, 213004);
      expect(second.body.msg).toBe('set same user data concurrently');
      const other = set({ user_id: 'ou_idle', version: '1', pc: { web_app: 1, gadget: 0 } });
      await waitFor('the other user to be in flight too', async () => (await emulator.admin('stats')).faultsInjected.delayed === 2);
      clock.advance(300);
      expectSuccess(await first);
      expectSuccess(await other);
      expect((await readBack('ou_busy')).body.pc.version).toBe('1');

      const stats = await emulator.admin('stats');
      expect(stats.concurrency).toEqual(
        expect.objectContaining({ peakConcurrentPerUser: 2, usersOverOne: 1, usersOverOneSample: ['tenant_emulator/open_id/ou_busy'] }),
      );
      expect(stats.codes['app_badge/set']).toEqual({ '0': 2, '213004': 1 });
    });
  });
});

describe('latest version left out of the conflict message', () => {
  it('answers 213001 with a bare message when EMULATOR_LATEST_VERSION_IN_MESSAGE=false', async () => {
    const emulator = await startEmulator({ EMULATOR_LATEST_VERSION_IN_MESSAGE: 'false' });
    try {
      const token = await emulator.tenantToken();
      expectSuccess(await emulator.setBadge(token, { user_id: 'ou_1', version: '5', pc: { web_app: 1 } }));
      const answer = await emulator.setBadge(token, { user_id: 'ou_1', version: '4', pc: { web_app: 1 } });
      expectFeishuError(answer, 400, 213001);
      expect(answer.body.msg).toBe('pc version conflict');
    } finally {
      await emulator.close();
    }
  });
});
