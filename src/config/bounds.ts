// Bounds for every duration, threshold and count in the site config and profiles. Each limit is
// far past any sensible setting, so a value beyond it is a typo or a unit slip (ms written where
// s is meant, an exponent too many), never a choice; the message names the unit and the limit.
import { z } from "zod";

/**
 * Rule and zone delays (on_delay_s, off_delay_s, clear_hold_s, after_s): at most a day. A fire
 * detector that waits a day before it counts a condition is not detecting; 86,400 is also what a
 * value in ms written as s first exceeds.
 */
export const MAX_DELAY_S = 86_400;
/** Rate-of-rise window: an hour. Runaway heating is minutes (UL 9540A heaters: 4-7 °C/min). */
export const MAX_WINDOW_S = 3_600;
/** Samples a rate-of-rise fit needs: an hour of 1 s polls at most. */
export const MAX_MIN_SAMPLES = 3_600;
/**
 * A reading or threshold in a point's unit. No quantity in a battery room reaches a billion in
 * its unit: the largest is energy in Wh of a multi-MWh system (~1e7). Catches 1e20 and 1e308.
 */
export const MAX_READING = 1e9;
/** Gas concentrations: 1,000,000 ppm is the whole atmosphere. */
export const MAX_PPM = 1_000_000;
/** Rate of rise, in the point's unit per minute: a gas going from 0 to 100 % in a minute is 1e6 ppm/min. */
export const MAX_RATE_PER_MIN = 1_000_000;
/**
 * Polling and publishing periods: at most a minute. Off-gas gives about 6 minutes of warning
 * before runaway (DNV-GL single-cell test via Nexceris, 2024; README "Where the numbers come from");
 * a slower poll spends a sixth of it between two readings.
 */
export const MAX_POLL_MS = 60_000;
/** Staleness and telemetry intervals: an hour. */
export const MAX_HOUR_MS = 3_600_000;
/** MQTT reconnect backoff: ten minutes; alarms queue while the broker is away, and no one should wait longer to get them. */
export const MAX_RECONNECT_MS = 600_000;
/** Messages queued while the broker is away: each is a few hundred bytes, so a million is a few hundred MB, the most an edge box should hold. */
export const MAX_QUEUE = 1_000_000;
/** Rules at alarm for a double knock, members of a deviation group: more than any zone holds. */
export const MAX_COUNT = 100_000;

/** A duration in seconds, 0..max (or above 0 with `positive`). */
export function secondsUpTo(max: number, opts: { positive?: boolean } = {}) {
  const n = z.number();
  return (opts.positive === true ? n.gt(0, "must be more than 0 s") : n.min(0, "must be at least 0 s")).max(max, `must be at most ${max} s`);
}

/** A whole number of milliseconds in min..max. */
export function msBetween(min: number, max: number) {
  return z.number().int(`must be a whole number of ms`).min(min, `must be at least ${min} ms`).max(max, `must be at most ${max} ms`);
}

/** A whole count in min..max; `what` names the unit ("rules", "samples", "messages"). */
export function countBetween(min: number, max: number, what: string) {
  return z.number().int(`must be a whole number of ${what}`).min(min, `must be at least ${min} ${what}`).max(max, `must be at most ${max} ${what}`);
}

/** A quantity in `unit` (a string for the message) in min..max; `gt` makes min exclusive. */
export function quantity(min: number, max: number, unit: string, opts: { gt?: boolean } = {}) {
  const n = z.number();
  return (opts.gt === true ? n.gt(min, `must be more than ${min} ${unit}`) : n.min(min, `must be at least ${min} ${unit}`)).max(max, `must be at most ${max} ${unit}`);
}
