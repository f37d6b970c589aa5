// Judges a protective action's read-back (README "Protective actions"): every expected point must
// read good, within its tolerance of the expected value, from a reading taken after the write
// (`since`): a value polled before the write proves nothing. Pure.
import type { ProtectiveAction } from "../config/types.js";
import type { ActionReadBack } from "../events.js";
import type { PointValue } from "../points/point.js";

export interface ReadBackVerdict {
  readonly confirmed: boolean;
  readonly readBack: readonly ActionReadBack[];
}

/** `read` gives the point's current value by key (`<device>/<point>`), as the rules see it. */
export function judgeReadBack(action: ProtectiveAction, read: (key: string) => PointValue, since: number): ReadBackVerdict {
  const readBack = action.expect.map((e): ActionReadBack => {
    const v = read(`${action.device}/${e.point}`);
    const fresh = v.sourceTs >= since;
    const value = v.quality === "good" ? v.value : null;
    const ok = fresh && value !== null && Math.abs(value - e.value) <= e.tolerance;
    return { point: e.point, expected: e.value, value, quality: v.quality, ok };
  });
  return { confirmed: readBack.every((r) => r.ok), readBack };
}

/** "s1/contactorClosed = 1 (expected 0), s1/currentA bad/timeout": for the alarm and the log. */
export function describeReadBack(rb: readonly ActionReadBack[]): string {
  return rb.map((r) => `${r.point} ${r.value === null ? r.quality : `= ${r.value}`} (expected ${r.expected})${r.ok ? "" : " ✗"}`).join(", ");
}
