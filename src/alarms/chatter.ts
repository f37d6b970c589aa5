// The chattering filter: an alarm whose condition changes more than `maxChanges` times within
// `windowMs` is annunciated once, marked `chattering`, and then updated silently until a whole
// window passes without a change (one event then). Pure: a track in, a track out.
import type { AlarmPriority, AlarmStateName } from "../events.js";

export interface ChatterLimits {
  readonly maxChanges: number;
  readonly windowMs: number;
}

/** One alarm's recent condition changes and what was last published about it while chattering. */
export interface ChatterTrack {
  /** Clock times of the condition changes within the window, oldest first. */
  readonly changes: readonly number[];
  /** The state and priority last announced in an event (set while chattering). */
  readonly announced?: { readonly state: AlarmStateName; readonly priority: AlarmPriority };
}

/** Record a condition change at `now`; changes older than the window are forgotten. */
export function noteChange(track: ChatterTrack | undefined, now: number, limits: ChatterLimits): ChatterTrack {
  const from = now - limits.windowMs;
  const changes = (track?.changes ?? []).filter((t) => t > from);
  changes.push(now);
  return { ...track, changes };
}

/** More changes in the window than the limit allows. */
export function chatters(track: ChatterTrack, limits: ChatterLimits): boolean {
  return track.changes.length > limits.maxChanges;
}

/** When a track calms down: one whole window after its last change. */
export function calmAt(track: ChatterTrack, limits: ChatterLimits): number {
  return (track.changes[track.changes.length - 1] ?? -Infinity) + limits.windowMs;
}
