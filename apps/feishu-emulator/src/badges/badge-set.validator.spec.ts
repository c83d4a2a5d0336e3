import { FeishuError } from '../common/feishu.error';
import { validateBadgeSet } from './badge-set.validator';

function failure(userIdType: unknown, body: unknown): FeishuError {
  try {
    validateBadgeSet(userIdType, body);
  } catch (error) {
    if (error instanceof FeishuError) return error;
    throw error;
  }
  throw new Error('expected a FeishuError');
}

const valid = { user_id: 'ou_1', version: '1664360599355', extra: '{}', pc: { web_app: 1, gadget: 2 } };

describe('validateBadgeSet', () => {
  it('reads a valid request, defaulting user_id_type to open_id', () => {
    expect(validateBadgeSet(undefined, valid)).toEqual({
      userIdType: 'open_id',
      userId: 'ou_1',
      version: 1664360599355n,
      versionText: '1664360599355',
      pc: { web_app: 1, gadget: 2 },
      mobile: null,
    });
    expect(validateBadgeSet('union_id', valid).userIdType).toBe('union_id');
    expect(validateBadgeSet('user_id', valid).userIdType).toBe('user_id');
  });

  it('reports every field violation at once with 99992402', () => {
    const error = failure('email', { version: 5, extra: {}, pc: { web_app: -1, gadget: 1.5 }, mobile: [] });
    expect(error).toMatchObject({ status: 400, code: 99992402, msg: 'field validation failed' });
    expect(error.options.fieldViolations!.map((v) => v.field)).toEqual([
      'user_id_type',
      'user_id',
      'version',
      'extra',
      'pc.web_app',
      'pc.gadget',
      'mobile',
    ]);
  });

  it.each([
    ['a non-object body', 'x', 'body'],
    ['an array body', [], 'body'],
    ['a number user_id', { ...valid, user_id: 1 }, 'user_id'],
    ['an empty user_id', { ...valid, user_id: '' }, 'user_id'],
    ['a null version', { ...valid, version: null }, 'version'],
    ['a string count', { ...valid, pc: { web_app: '1' } }, 'pc.web_app'],
    ['a count above int32', { ...valid, mobile: { gadget: 2 ** 31 } }, 'mobile.gadget'],
  ])('rejects %s', (_, body, field) => {
    expect(failure(undefined, body).options.fieldViolations).toEqual([expect.objectContaining({ field })]);
  });

  it.each(['', 'abc', '-1', '1.0', '99999999999999999999'])('answers 213005 for version %j', (version) => {
    expect(failure(undefined, { ...valid, version })).toMatchObject({ status: 400, code: 213005 });
  });

  it('answers 213003 when neither side is given', () => {
    expect(failure(undefined, { user_id: 'ou_1', version: '1', pc: null })).toMatchObject({ status: 400, code: 213003 });
  });

  it('takes a missing count inside a given side as 0', () => {
    expect(validateBadgeSet(undefined, { user_id: 'ou_1', version: '1', mobile: { gadget: 3 } }).mobile).toEqual({ web_app: 0, gadget: 3 });
  });
});
