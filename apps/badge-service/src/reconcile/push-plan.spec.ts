import fc from 'fast-check';
import { Counts } from '@badges/contracts';
import { AppliedState, planPush } from './push-plan';

const side = fc.record({ web_app: fc.integer({ min: 0, max: 5 }), gadget: fc.integer({ min: 0, max: 5 }) });
const counts = fc.record({ pc: side, mobile: side });
const applied = fc.record({ pc: fc.option(side, { nil: null }), mobile: fc.option(side, { nil: null }) });

/** What Feishu shows after applying a plan: a side left out keeps its value. */
const apply = (a: AppliedState, p: ReturnType<typeof planPush>): AppliedState => ({ pc: p?.pc ?? a.pc, mobile: p?.mobile ?? a.mobile });

describe('planPush', () => {
  const c = (pw: number, mw: number): Counts => ({ pc: { web_app: pw, gadget: 0 }, mobile: { web_app: mw, gadget: 0 } });

  it('pushes only the side that differs', () => {
    expect(planPush(c(2, 1), { pc: { web_app: 1, gadget: 0 }, mobile: { web_app: 1, gadget: 0 } }, false)).toEqual({ pc: { web_app: 2, gadget: 0 } });
  });
  it('pushes both sides when Feishu state is unknown or a full push is forced', () => {
    expect(planPush(c(0, 0), { pc: null, mobile: null }, false)).toEqual(c(0, 0));
    expect(planPush(c(1, 1), { pc: { web_app: 1, gadget: 0 }, mobile: { web_app: 1, gadget: 0 } }, true)).toEqual(c(1, 1));
  });
  it('pushes nothing when Feishu already shows the desired badge', () => {
    expect(planPush(c(3, 4), { pc: { web_app: 3, gadget: 0 }, mobile: { web_app: 4, gadget: 0 } }, false)).toBeNull();
  });
  it('after applying the plan Feishu shows exactly the desired badge, and no side is sent needlessly (property)', () => {
    fc.assert(
      fc.property(counts, applied, fc.boolean(), (d, a, force) => {
        const p = planPush(d, a, force);
        expect(apply(a, p)).toEqual(d);
        if (!force) {
          if (p?.pc) expect(a.pc).not.toEqual(d.pc);
          if (p?.mobile) expect(a.mobile).not.toEqual(d.mobile);
        }
      }),
    );
  });
});
