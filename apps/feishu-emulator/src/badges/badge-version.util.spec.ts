import fc from 'fast-check';
import { isNewerVersion, parseBadgeVersion } from './badge-version.util';

describe('parseBadgeVersion', () => {
  it('reads decimal strings as int64 numbers', () => {
    expect(parseBadgeVersion('1664360599355')).toBe(1664360599355n);
    expect(parseBadgeVersion('0')).toBe(0n);
    expect(parseBadgeVersion('007')).toBe(7n);
    expect(parseBadgeVersion('9223372036854775807')).toBe(9223372036854775807n);
  });

  it.each(['', ' 1', '1 ', '-1', '+1', '1.5', '1e3', '0x10', 'abc', '9223372036854775808', '１２'])(
    'refuses %j',
    (text) => {
      expect(parseBadgeVersion(text)).toBeNull();
    },
  );

  it('agrees with BigInt for every int64 >= 0, with or without leading zeros', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 9223372036854775807n }), fc.nat({ max: 5 }), (value, zeros) => {
        expect(parseBadgeVersion('0'.repeat(zeros) + value.toString())).toBe(value);
      }),
    );
  });
});

describe('isNewerVersion', () => {
  it('accepts anything when there is no latest version yet', () => {
    expect(isNewerVersion(0n, null)).toBe(true);
  });

  it('compares numerically, not as text', () => {
    expect(isNewerVersion(parseBadgeVersion('10')!, parseBadgeVersion('9'))).toBe(true);
    expect(isNewerVersion(parseBadgeVersion('9')!, parseBadgeVersion('10'))).toBe(false);
    expect(isNewerVersion(parseBadgeVersion('007')!, parseBadgeVersion('7'))).toBe(false);
  });

  it('is a strict order: newer exactly when greater', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), (a, b) => {
        expect(isNewerVersion(a, b)).toBe(a > b);
        if (a !== b) expect(isNewerVersion(a, b)).toBe(!isNewerVersion(b, a));
      }),
    );
  });
});
