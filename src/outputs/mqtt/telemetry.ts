// Point telemetry is published on change and at most once per `minIntervalMs` per point; a change
// held back by the rate limit is sent when the interval ends, so the last value always gets out.
import type { Clock, TimerHandle } from "../../runtime/clock.js";
import type { PointKey, PointValue } from "../../points/point.js";

interface Slot {
  sent?: PointValue;
  sentAt: number;
  pending?: PointValue;
  timer?: TimerHandle;
}

function same(a: PointValue | undefined, b: PointValue): boolean {
  return a !== undefined && Object.is(a.value, b.value) && a.quality === b.quality && a.reason === b.reason;
}

export class PointThrottle {
  readonly #slots = new Map<PointKey, Slot>();

  readonly #clock: Clock;
  readonly #minIntervalMs: number;
  readonly #send: (key: PointKey, value: PointValue) => void;

  constructor(clock: Clock, minIntervalMs: number, send: (key: PointKey, value: PointValue) => void) {
    this.#clock = clock;
    this.#minIntervalMs = minIntervalMs;
    this.#send = send;
  }

  offer(key: PointKey, value: PointValue): void {
    let s = this.#slots.get(key);
    if (s === undefined) {
      s = { sentAt: -Infinity };
      this.#slots.set(key, s);
    }
    if (same(s.pending ?? s.sent, value)) return;
    const now = this.#clock.now();
    if (now - s.sentAt >= this.#minIntervalMs) {
      this.#emit(key, s, value, now);
      return;
    }
    if (same(s.sent, value)) {
      s.pending = undefined; // back to what was last sent: nothing new to say
      return;
    }
    s.pending = value;
    if (s.timer === undefined) {
      const slot = s;
      slot.timer = this.#clock.setTimeout(() => {
        slot.timer = undefined;
        const p = slot.pending;
        slot.pending = undefined;
        if (p !== undefined && !same(slot.sent, p)) this.#emit(key, slot, p, this.#clock.now());
      }, s.sentAt + this.#minIntervalMs - now);
    }
  }

  #emit(key: PointKey, s: Slot, value: PointValue, now: number): void {
    s.sent = value;
    s.sentAt = now;
    s.pending = undefined;
    this.#send(key, value);
  }

  stop(): void {
    for (const s of this.#slots.values()) s.timer?.cancel();
    this.#slots.clear();
  }
}
