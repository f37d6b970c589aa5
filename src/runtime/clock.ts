// Time is injected (README.md#how-the-code-is-laid-out): deciding code asks a Clock, never Date.now(). The daemon, the
// simulator and the demo can share an accelerated clock so that a minutes-long incident plays in
// seconds while every rule still sees physically plausible rates.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch, on this clock's timeline. */
  now(): number;
  /** Run fn after delayMs of this clock's time. */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  /** Run fn every periodMs of this clock's time. */
  setInterval(fn: () => void, periodMs: number): TimerHandle;
  /** How many clock milliseconds pass per real millisecond (1 for the system clock). */
  readonly speed: number;
}

function realTimer(fn: () => void, realMs: number, repeat: boolean): TimerHandle {
  const t = repeat ? setInterval(fn, realMs) : setTimeout(fn, realMs);
  return { cancel: () => (repeat ? clearInterval(t) : clearTimeout(t)) };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => realTimer(fn, ms, false),
  setInterval: (fn, ms) => realTimer(fn, ms, true),
  speed: 1,
};

/**
 * A clock that runs `speed` times faster than real time from `epochMs` (the real time at which both
 * timelines agree). Two processes given the same epoch and speed agree on the time.
 */
export function acceleratedClock(speed: number, epochMs: number = Date.now()): Clock {
  if (!(speed >= 1)) throw new RangeError(`clock speed must be >= 1, got ${speed}`);
  return {
    now: () => epochMs + (Date.now() - epochMs) * speed,
    setTimeout: (fn, ms) => realTimer(fn, Math.max(0, ms / speed), false),
    setInterval: (fn, ms) => realTimer(fn, Math.max(1, ms / speed), true),
    speed,
  };
}

/** A clock for tests: time moves only when the test says so, and due timers fire in order. */
export class FakeClock implements Clock {
  readonly speed = 1;
  #now: number;
  #seq = 0;
  #timers = new Map<number, { at: number; fn: () => void; periodMs?: number }>();

  constructor(startMs = Date.UTC(2026, 10, 25, 3, 0, 0)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    return this.#add(fn, delayMs);
  }

  setInterval(fn: () => void, periodMs: number): TimerHandle {
    if (!(periodMs > 0)) throw new RangeError(`interval must be > 0, got ${periodMs}`);
    return this.#add(fn, periodMs, periodMs);
  }

  /** Move time forward by ms, firing every timer that falls due, in time order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.#timers) {
        if (t.at <= end && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const t = this.#timers.get(nextId)!;
      this.#now = t.at;
      if (t.periodMs !== undefined) t.at += t.periodMs;
      else this.#timers.delete(nextId);
      t.fn();
    }
    this.#now = end;
  }

  #add(fn: () => void, delayMs: number, periodMs?: number): TimerHandle {
    const id = ++this.#seq;
    this.#timers.set(id, periodMs === undefined ? { at: this.#now + delayMs, fn } : { at: this.#now + delayMs, fn, periodMs });
    return { cancel: () => void this.#timers.delete(id) };
  }
}
