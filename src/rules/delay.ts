// Per-point condition state shared by the rule kinds: on-delay / off-delay (a condition must hold,
// or stay gone, for a while before it counts) and deadband (hysteresis around a limit).
// Plain objects so the state can be inspected and, later, persisted.

export interface Delays {
  readonly onDelayMs: number;
  readonly offDelayMs: number;
}

export interface ConditionState {
  active: boolean;
  /** When the raw condition first disagreed with `active`; undefined while they agree. */
  changingSince: number | undefined;
}

/** Advance one condition by its raw value at `now`; returns the delayed (debounced) value. */
export function advanceCondition(s: ConditionState, raw: boolean, now: number, delays: Delays): boolean {
  if (raw === s.active) {
    s.changingSince = undefined;
    return s.active;
  }
  s.changingSince ??= now;
  if (now - s.changingSince >= (raw ? delays.onDelayMs : delays.offDelayMs)) {
    s.active = raw;
    s.changingSince = undefined;
  }
  return s.active;
}

export type Direction = "above" | "below";

/**
 * Whether `value` is past `limit` with hysteresis: to become true it must reach the limit; once true
 * it stays true until it comes back past the limit by `deadband` (with none: while it is at or past it).
 */
export function pastLimit(value: number, limit: number, deadband: number, direction: Direction, wasActive: boolean): boolean {
  // A value that makes the condition true keeps it true (`|| value >= limit`): with no deadband, a
  // reading exactly at the limit would otherwise turn it on and, judged again unchanged, off again.
  if (direction === "above") return wasActive ? value > limit - deadband || value >= limit : value >= limit;
  return wasActive ? value < limit + deadband || value <= limit : value <= limit;
}

/**
 * Condition states keyed by a name or number (a point, or a point and a level), created on first use.
 * Rules key by index where they can: a string per point and level is memory at 100,000 points.
 */
export type ConditionKey = string | number;

export class ConditionTable {
  readonly #states = new Map<ConditionKey, ConditionState>();
  /** The conditions that have `changingSince` set: time alone can change them (incremental rules re-step them). */
  readonly #pendingKeys = new Set<ConditionKey>();

  constructor(readonly delays: Delays) {}

  /** The delayed value before this evaluation (false for a condition never seen). */
  wasActive(key: ConditionKey): boolean {
    // Most of the time nothing is active or changing: skip the lookup (the hot path of every rule).
    if (this.#states.size === 0) return false;
    return this.#states.get(key)?.active ?? false;
  }

  /** Advance the condition named `key` by its raw value; returns whether it counts as active. */
  step(key: ConditionKey, raw: boolean, now: number): boolean {
    if (!raw && this.#states.size === 0) return false;
    let s = this.#states.get(key);
    if (s === undefined) {
      if (!raw) return false; // nothing to remember for a condition that never held
      s = { active: false, changingSince: undefined };
      this.#states.set(key, s);
    }
    const wasPending = s.changingSince !== undefined;
    const active = advanceCondition(s, raw, now, this.delays);
    const isPending = s.changingSince !== undefined;
    if (wasPending !== isPending) {
      if (isPending) this.#pendingKeys.add(key);
      else this.#pendingKeys.delete(key);
    }
    if (!active && !isPending) this.#states.delete(key);
    return active;
  }

  /** Whether some condition waits out an on- or off-delay: time alone can change the rule's result. */
  get pending(): boolean {
    return this.#pendingKeys.size > 0;
  }

  /** The keys of the conditions waiting out a delay (live view: copy before stepping them). */
  pendingKeys(): ReadonlySet<ConditionKey> {
    return this.#pendingKeys;
  }

  /**
   * Forget a condition: used when its point stops being good. A point we cannot read is a fault,
   * not a continuing alarm; the zone's latch keeps what was already raised.
   */
  drop(key: ConditionKey): void {
    if (this.#states.size === 0) return;
    const s = this.#states.get(key);
    if (s === undefined) return;
    if (s.changingSince !== undefined) this.#pendingKeys.delete(key);
    this.#states.delete(key);
  }
}
