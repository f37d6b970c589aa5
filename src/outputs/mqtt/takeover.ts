// Counting session takeovers: another client connecting with our client id makes the broker drop
// us. Once is an accident (a restarted twin, an operator's test); more than `limit` in `windowMs` is
// a fight over the id that would flap forever: trouble, and a growing backoff. Pure: time passed in.

/** The site trouble alarm raised while another client fights us for our client id. */
export const SESSION_TAKEOVER_ALARM_ID = "mqtt-session-takeover";

/** More than 3 takeovers in 60 s is a fight, not an accident [operational choice, issue 9]. */
export const TAKEOVER_LIMIT = 3;
export const TAKEOVER_WINDOW_MS = 60_000;
/** Reconnect after a takeover: 1 s doubling per takeover in the window, at most 60 s [operational choice]. */
export const TAKEOVER_BACKOFF_BASE_MS = 1000;
export const TAKEOVER_BACKOFF_MAX_MS = 60_000;

export interface TakeoverState {
  /** Takeovers in the window ending now. */
  readonly count: number;
  /** More than `limit` takeovers in the window, and not yet a quiet window since. */
  readonly active: boolean;
  /** `active` differs from before this call. */
  readonly changed: boolean;
}

export class TakeoverWatch {
  readonly #limit: number;
  readonly #windowMs: number;
  /** Times of the takeovers in the window, oldest first. */
  #times: number[] = [];
  #active = false;

  constructor(limit = TAKEOVER_LIMIT, windowMs = TAKEOVER_WINDOW_MS) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** A takeover happened at `now`. */
  note(now: number): TakeoverState {
    this.#times.push(now);
    return this.check(now);
  }

  /**
   * What time alone changes. A fight ends only after a whole window connected without a takeover
   * (`connectedSince`: when the current connection began, undefined while disconnected): a long
   * backoff alone must not end it, or the alarm would flap with every slow round of the fight.
   */
  check(now: number, connectedSince?: number): TakeoverState {
    this.#times = this.#times.filter((t) => t > now - this.#windowMs);
    const count = this.#times.length;
    const was = this.#active;
    const quiet = count === 0 && connectedSince !== undefined && now - connectedSince >= this.#windowMs;
    this.#active = was ? !quiet : count > this.#limit;
    return { count, active: this.#active, changed: this.#active !== was };
  }

  get active(): boolean {
    return this.#active;
  }

  /** When check() can next change something, or undefined when nothing is pending. */
  nextCheckAt(connectedSince?: number): number | undefined {
    const last = this.#times.at(-1);
    if (!this.#active) return last === undefined ? undefined : last + this.#windowMs;
    if (connectedSince === undefined) return undefined; // checked again once connected
    return Math.max(last ?? -Infinity, connectedSince) + this.#windowMs;
  }

  /** How long to wait before reconnecting after the latest takeover. */
  backoffMs(): number {
    const n = Math.max(1, this.#times.length);
    return Math.min(TAKEOVER_BACKOFF_MAX_MS, TAKEOVER_BACKOFF_BASE_MS * 2 ** Math.min(16, n - 1));
  }
}
