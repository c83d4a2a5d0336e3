import { AUDIT_KINDS } from '../vocabulary';
import { AUDIT_KINDS_1764460800000 } from './1764460800000-audit-kind-check';

describe('the audit kind CHECK', () => {
  // When AUDIT_KINDS changes, a new migration replaces the CHECK with its own copy: point this test at that copy.
  it('allows exactly the kinds of the vocabulary', () => {
    expect([...AUDIT_KINDS_1764460800000]).toEqual([...AUDIT_KINDS]);
  });
});
