/** The desired and applied counts of a badge_state row, as node-pg returns them. */
export interface BadgeCountColumns {
  desired_pc_web_app: number;
  desired_pc_gadget: number;
  desired_mobile_web_app: number;
  desired_mobile_gadget: number;
  applied_pc_web_app: number | null;
  applied_pc_gadget: number | null;
  applied_mobile_web_app: number | null;
  applied_mobile_gadget: number | null;
}
