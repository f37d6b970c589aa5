// Which point values go into the history: a value that differs from the last one written (number,
// quality or reason), or the same value once `heartbeatMs` has passed since it was written, so a
// flat line still has points in every panel's time range. Pure: time comes with each value.
import type { PointKey, PointValue } from "../../points/point.js";

interface Last {
  readonly value: number | null;
  readonly quality: string;
  readonly reason: string | undefined;
  readonly at: number;
}

export class ChangeFilter {
  readonly #heartbeatMs: number;
  readonly #last = new Map<PointKey, Last>();

  /** heartbeatMs 0: on change only. */
  constructor(heartbeatMs: number) {
    this.#heartbeatMs = heartbeatMs;
  }

  /** Whether to write this value (and remember it as written if so). */
  offer(key: PointKey, v: PointValue): boolean {
    const l = this.#last.get(key);
    const same = l !== undefined && Object.is(l.value, v.value) && l.quality === v.quality && l.reason === v.reason;
    if (same && (this.#heartbeatMs === 0 || v.sourceTs - l.at < this.#heartbeatMs)) return false;
    this.#last.set(key, { value: v.value, quality: v.quality, reason: v.reason, at: v.sourceTs });
    return true;
  }
}
