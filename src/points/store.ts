// The current-value store: the latest PointValue of every point, a short history per point for
// rate and baseline computations, and staleness applied at read time. Drivers write; rules read.
import type { PointInfo, PointKey, PointValue } from "./point.js";

export interface HistorySample {
  readonly t: number;
  readonly v: number;
}

/** Fixed-capacity ring of good samples; oldest dropped first. Typed arrays: no garbage per sample. */
class History {
  readonly #t: Float64Array;
  readonly #v: Float64Array;
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#t = new Float64Array(capacity);
    this.#v = new Float64Array(capacity);
  }

  push(t: number, v: number): void {
    const cap = this.#t.length;
    if (this.#size > 0 && t <= this.#t[(this.#start + this.#size - 1) % cap]!) return; // same or older sample
    const i = (this.#start + this.#size) % cap;
    this.#t[i] = t;
    this.#v[i] = v;
    if (this.#size < cap) this.#size++;
    else this.#start = (this.#start + 1) % cap;
  }

  since(fromT: number): HistorySample[] {
    const cap = this.#t.length;
    const out: HistorySample[] = [];
    for (let k = 0; k < this.#size; k++) {
      const i = (this.#start + k) % cap;
      const t = this.#t[i]!;
      if (t >= fromT) out.push({ t, v: this.#v[i]! });
    }
    return out;
  }

  clear(): void {
    this.#size = 0;
    this.#start = 0;
  }
}

export interface StoreOptions {
  /** Samples kept per point (at 1 s polls, 300 is five minutes). */
  readonly historyCapacity?: number;
}

interface Entry {
  readonly info: PointInfo;
  readonly staleAfterMs: number;
  value: PointValue | undefined;
  history: History;
}

export type ChangeListener = (key: PointKey, value: PointValue) => void;

export class PointStore {
  readonly #entries = new Map<PointKey, Entry>();
  readonly #listeners: ChangeListener[] = [];
  readonly #capacity: number;

  constructor(opts: StoreOptions = {}) {
    this.#capacity = opts.historyCapacity ?? 300;
  }

  /** Declare a point before any value arrives: until one does, it reads bad/stale ("never read"). */
  declare(info: PointInfo, staleAfterMs: number): void {
    if (this.#entries.has(info.key)) throw new Error(`point ${info.key} declared twice`);
    this.#entries.set(info.key, { info, staleAfterMs, value: undefined, history: new History(this.#capacity) });
  }

  onChange(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  /** Record a new value. Good values also go into the point's history. */
  update(key: PointKey, value: PointValue): void {
    const e = this.#entries.get(key);
    if (e === undefined) throw new Error(`update of undeclared point ${key}`);
    e.value = value;
    if (value.quality === "good" && value.value !== null) e.history.push(value.sourceTs, value.value);
    for (const l of this.#listeners) l(key, value);
  }

  /**
   * The value as of `now`: a good value older than the point's stale limit reads bad/stale, and a
   * point never read reads bad/stale with "no reading yet". Never undefined for a declared point.
   */
  read(key: PointKey, now: number): PointValue {
    const e = this.#entries.get(key);
    if (e === undefined) return { value: null, quality: "bad", reason: "config", detail: `unknown point ${key}`, sourceTs: now };
    const v = e.value;
    if (v === undefined) return { value: null, quality: "bad", reason: "stale", detail: "no reading yet", sourceTs: now };
    if (v.quality !== "bad" && now - v.sourceTs > e.staleAfterMs) {
      return { value: null, quality: "bad", reason: "stale", detail: `last reading ${Math.round((now - v.sourceTs) / 1000)} s old`, sourceTs: v.sourceTs };
    }
    return v;
  }

  /** Good samples of a point from `fromT` on, oldest first. */
  history(key: PointKey, fromT: number): HistorySample[] {
    return this.#entries.get(key)?.history.since(fromT) ?? [];
  }

  /** How many declared points have never received a value (of any quality). */
  neverWritten(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.value === undefined) n++;
    return n;
  }

  info(key: PointKey): PointInfo | undefined {
    return this.#entries.get(key)?.info;
  }

  keys(): IterableIterator<PointKey> {
    return this.#entries.keys();
  }

  get size(): number {
    return this.#entries.size;
  }
}
