// Whether a device is polled as often as configured: overruns (a poll that took longer than the
// interval, so the next slot was skipped) and late polls (a poll that started well after its slot:
// the event loop was busy) are counted, and the achieved poll rate over a sliding window is
// compared with the configured one. Pure: the poller passes the times in and logs what changes.

/** Below this fraction of the configured rate, sustained over the window, the device is overloaded (issue 13: 90 %). */
export const MIN_RATE_FRACTION = 0.9;
/** The rate is judged over this many configured intervals: one slow poll is not overload. */
export const RATE_WINDOW_POLLS = 10;
/**
 * A change of state must hold for this many further intervals before it is reported: a stall of a
 * few intervals (a GC pause, a busy machine) dips the sliding rate for about one window and would
 * otherwise raise and clear the trouble alarm each time, a chattering nuisance alarm (ISA-18.2).
 * "Stays below 90 %" means below for two windows in a row.
 */
export const RATE_HOLD_POLLS = 10;
/** A poll that starts more than this fraction of an interval after its slot is late. */
export const LATE_FRACTION = 0.5;

export type LoadState = "ok" | "overloaded";

export interface PollLoadStatus {
  readonly overruns: number;
  readonly latePolls: number;
  /** Polls per second over the last window; undefined until a window has passed. */
  readonly achievedPerS?: number;
  readonly configuredPerS: number;
  readonly loadState: LoadState;
}

/** The rate judged at the latest poll (a whole window had passed): what the poll-rate trouble alarm shows. */
export interface RateVerdict {
  readonly state: LoadState;
  readonly achievedPerS: number;
  readonly configuredPerS: number;
  /** The window the rate is measured over, in seconds. */
  readonly windowS: number;
}

export interface LoadChange {
  readonly state: LoadState;
  readonly detail: string;
}

export class PollLoad {
  readonly #intervalMs: number;
  /** Start times of the polls within the window, oldest first. */
  readonly #starts: number[] = [];
  #firstAt: number | undefined;
  #overruns = 0;
  #late = 0;
  #state: LoadState = "ok";
  #achieved: number | undefined;
  /** The latest note() judged a whole window. */
  #judged = false;
  /** Whether a whole window has ever been judged since the last restart of the window. */
  #everJudged = false;
  /** Since when the judged rate has asked for the other state (undefined: it agrees with #state). */
  #otherSince: number | undefined;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * A poll planned for `plannedAt` started at `startedAt`; `overrun` when it ended past its next
   * slot. Returns the change of state when there is one (log it once), else undefined.
   */
  note(plannedAt: number, startedAt: number, overrun: boolean): LoadChange | undefined {
    const interval = this.#intervalMs;
    this.#judged = false;
    if (overrun) this.#overruns++;
    if (startedAt - plannedAt > interval * LATE_FRACTION) this.#late++;
    this.#firstAt ??= startedAt;
    const window = interval * RATE_WINDOW_POLLS;
    this.#starts.push(startedAt);
    while (this.#starts.length > 0 && this.#starts[0]! <= startedAt - window) this.#starts.shift();
    if (startedAt - this.#firstAt < window) return undefined; // not a whole window yet
    this.#achieved = (this.#starts.length * 1000) / window;
    this.#judged = true;
    const configured = 1000 / interval;
    const next: LoadState = this.#achieved < configured * MIN_RATE_FRACTION ? "overloaded" : "ok";
    if (next === this.#state) {
      this.#otherSince = undefined;
      this.#everJudged = true;
      return undefined;
    }
    // The first whole window is reported as it is (it may clear an alarm restored from before a
    // restart, or raise one); after that a change must hold for RATE_HOLD_POLLS more intervals.
    if (this.#everJudged) {
      this.#otherSince ??= startedAt;
      if (startedAt - this.#otherSince < interval * RATE_HOLD_POLLS) return undefined;
    }
    this.#everJudged = true;
    this.#otherSince = undefined;
    this.#state = next;
    const figures = `${this.#achieved.toFixed(2)} polls/s of ${configured.toFixed(2)} configured over the last ${window / 1000} s (${this.#overruns} overruns, ${this.#late} late polls so far)`;
    return {
      state: next,
      detail: next === "overloaded" ? `polled below ${MIN_RATE_FRACTION * 100} % of its rate: ${figures}; raise poll_interval_ms or split the device's load` : `polled at its rate again: ${figures}`,
    };
  }

  /**
   * A failed poll or a reconnect: a device in backoff polls slower on purpose, which is a comm fault
   * (reported as such), not overload. The rate is measured again over a whole healthy window.
   */
  restartWindow(): void {
    this.#starts.length = 0;
    this.#firstAt = undefined;
    this.#judged = false;
    this.#otherSince = undefined;
  }

  /** The state and rates judged by the latest note(), or undefined when it had no whole window. */
  verdict(): RateVerdict | undefined {
    if (!this.#judged || this.#achieved === undefined) return undefined;
    const configuredPerS = 1000 / this.#intervalMs;
    return { state: this.#state, achievedPerS: this.#achieved, configuredPerS, windowS: (this.#intervalMs * RATE_WINDOW_POLLS) / 1000 };
  }

  status(): PollLoadStatus {
    return {
      overruns: this.#overruns,
      latePolls: this.#late,
      ...(this.#achieved === undefined ? {} : { achievedPerS: this.#achieved }),
      configuredPerS: 1000 / this.#intervalMs,
      loadState: this.#state,
    };
  }
}
