import { Counts, SideCounts } from '@badges/contracts';

export interface AppliedState {
  pc: SideCounts | null;
  mobile: SideCounts | null;
}
export interface PushPlan {
  pc?: SideCounts;
  mobile?: SideCounts;
}

const same = (a: SideCounts, b: SideCounts | null) => b !== null && a.web_app === b.web_app && a.gadget === b.gadget;

/**
 * The sides to send: those whose desired counts differ from what Feishu last accepted, both when that is
 * unknown or a full re-push is asked for. null when Feishu already shows the desired badge.
 */
export function planPush(desired: Counts, applied: AppliedState, forceFull: boolean): PushPlan | null {
  const plan: PushPlan = {};
  if (forceFull || !same(desired.pc, applied.pc)) plan.pc = { ...desired.pc };
  if (forceFull || !same(desired.mobile, applied.mobile)) plan.mobile = { ...desired.mobile };
  return plan.pc || plan.mobile ? plan : null;
}
