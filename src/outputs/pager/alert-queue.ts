// Alerts waiting for Alertmanager: one per label set, the newest post superseding an older one for
// the same alert (only the latest endsAt matters to Alertmanager), bounded, with drops counted.
// Full: the oldest waiting alert goes first.
import { labelKey, type PostableAlert } from "./alerts.js";

export class AlertQueue {
  readonly #limit: number;
  readonly #waiting = new Map<string, PostableAlert>();
  dropped = 0;

  constructor(limit: number) {
    if (!(limit >= 1)) throw new RangeError(`queue limit must be >= 1, got ${limit}`);
    this.#limit = limit;
  }

  get size(): number {
    return this.#waiting.size;
  }

  push(a: PostableAlert): void {
    const key = labelKey(a.labels);
    this.#waiting.delete(key); // re-inserted: the newest takes the newest place
    this.#waiting.set(key, a);
    while (this.#waiting.size > this.#limit) {
      const oldest = this.#waiting.keys().next().value as string;
      this.#waiting.delete(oldest);
      this.dropped++;
    }
  }

  /** Up to `max` alerts, oldest first; they leave the queue. */
  take(max: number): PostableAlert[] {
    const out: PostableAlert[] = [];
    for (const [key, a] of this.#waiting) {
      if (out.length >= max) break;
      out.push(a);
      this.#waiting.delete(key);
    }
    return out;
  }

  /** A batch that failed goes back, except where a newer post for the same alert arrived meanwhile. */
  putBack(batch: readonly PostableAlert[]): void {
    const back = new Map<string, PostableAlert>();
    for (const a of batch) {
      const key = labelKey(a.labels);
      if (!this.#waiting.has(key)) back.set(key, a);
    }
    const rest = [...this.#waiting];
    this.#waiting.clear();
    for (const [k, a] of back) this.#waiting.set(k, a);
    for (const [k, a] of rest) this.#waiting.set(k, a);
    while (this.#waiting.size > this.#limit) {
      const oldest = this.#waiting.keys().next().value as string;
      this.#waiting.delete(oldest);
      this.dropped++;
    }
  }
}
