import type { SlotGrid } from '@badges/store';
import { RECONCILE } from './reconcile.constants';

/**
 * The push slots' spacing for a FEISHU_RATE_LIMIT: tight while one replica pushes on a budget (its SendWindow keeps
 * the count per window), wider while several do (only the spacing keeps it then), and a gap of one window when a
 * replica joins a budget another has been pushing on alone (whose pushes may have been sent late, bunched, up to
 * the end of its slots: see RECONCILE.soleSenderLatenessMs).
 */
export function slotGrid(rateLimit: number): SlotGrid {
  return {
    spacingMs: 1000 / (rateLimit * RECONCILE.rateHeadroom),
    shared: {
      spacingMs: (1000 + RECONCILE.sharedJitterMs) / rateLimit,
      joinGapMs: 1000 + RECONCILE.sharedJitterMs + RECONCILE.maxSlotLatenessMs,
      memoryMs: RECONCILE.sharedMemoryMs,
      unusedWithinMs: RECONCILE.unusedWithinMs,
    },
  };
}
