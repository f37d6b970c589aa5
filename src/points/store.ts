// The current-value store: the latest PointValue of every point, a short history per point for
// rate and baseline computations, and staleness applied at read time. Drivers write; rules read.
import type { PointInfo, PointKey, PointValue } from "./point.js";

export interface HistorySample {
  readonly t: number;
  readonly v: number;
}

/**
 * Sample slots for every ring, in large shared blocks: a ring is an offset into a block, not
 * buffers or views of its own (at 100,000 points, those cost more than the samples they hold).
 */
class SamplePool {
  static readonly #BLOCK = 1 << 21;
  block = new Float64Array(0);
  #used = 0;

  /** Reserve `n` slots; returns the offset in `block` (read `block` after the call: it may be new). */
  take(n: number): number {
    if (this.#used + n > this.block.length) {
      this.block = new Float64Array(Math.max(SamplePool.#BLOCK, n));
      this.#used = 0;
    }
    const at = this.#used;
    this.#used += n;
    return at;
  }
}

/**
 * Per-ring state kept after the samples in the block: time and value bases, Σt, Σv, Σt², Σtv over the
 * window (about the bases), pushes since the bases were taken, samples before the window, and the
 * window's start as last asked.
 */
const STATE = 9;
const BASE_T = 0, BASE_V = 1, S_T = 2, S_V = 3, S_TT = 4, S_TV = 5, PUSHES = 6, SKIP = 7, FROM = 8;

/**
 * Fixed-capacity ring of good samples; oldest dropped first. Typed arrays: no garbage per sample.
 * Slot k holds its time at `at + 2k` and its value at `at + 2k + 1` of the shared block.
 *
 * After the slots, running sums over the samples of the last window asked for (STATE): the rate-of-
 * rise rule asks for the trend of every point it reads after each poll, with a window start that only
 * moves forward, so a trend costs the samples that entered and left the window since, not every
 * sample. A window start that moves back (a second rule with a longer window) sums it again. The sums
 * are about bases taken from the window's oldest sample and are rebuilt from the samples once per
 * turn of the ring, so the numbers stay small and rounding cannot accumulate.
 */
class History {
  readonly #buf: Float64Array;
  readonly #at: number;
  readonly #cap: number;
  #start = 0;
  #size = 0;

  constructor(capacity: number, pool?: SamplePool) {
    this.#cap = capacity;
    const slots = capacity === 0 ? 0 : 2 * capacity + STATE;
    if (pool === undefined || capacity === 0) {
      this.#buf = new Float64Array(slots);
      this.#at = 0;
    } else {
      this.#at = pool.take(slots);
      this.#buf = pool.block;
    }
    if (capacity > 0) this.#buf[this.#at + 2 * capacity + FROM] = -Infinity;
  }

  /** Buffer index of the time of ring slot i (its value follows). */
  #slot(i: number): number {
    return this.#at + 2 * i;
  }

  push(t: number, v: number): void {
    const cap = this.#cap;
    if (cap === 0) return;
    const buf = this.#buf;
    if (this.#size > 0 && t <= buf[this.#slot(this.#ring(this.#size - 1))]!) return; // same or older sample
    const st = this.#at + 2 * cap;
    if (this.#size === cap) {
      // The oldest sample leaves the ring, and the window if it was in it.
      if (buf[st + SKIP]! > 0) buf[st + SKIP] = buf[st + SKIP]! - 1;
      else {
        const o = this.#slot(this.#start);
        this.#sum(st, buf[o]!, buf[o + 1]!, -1);
      }
    }
    const j = this.#slot(this.#size < cap ? this.#ring(this.#size) : this.#start);
    buf[j] = t;
    buf[j + 1] = v;
    if (this.#size < cap) this.#size++;
    else if (++this.#start === cap) this.#start = 0;
    if (t < buf[st + FROM]!) buf[st + SKIP] = buf[st + SKIP]! + 1; // before the window (a clock stepped back)
    else if (this.#size === 1 || (buf[st + PUSHES] = buf[st + PUSHES]! + 1) >= cap) this.#rebuild(st);
    else this.#sum(st, t, v, 1);
  }

  #sum(st: number, t: number, v: number, sign: 1 | -1): void {
    const buf = this.#buf;
    const dt = t - buf[st + BASE_T]!;
    const dv = v - buf[st + BASE_V]!;
    buf[st + S_T] = buf[st + S_T]! + sign * dt;
    buf[st + S_V] = buf[st + S_V]! + sign * dv;
    buf[st + S_TT] = buf[st + S_TT]! + sign * dt * dt;
    buf[st + S_TV] = buf[st + S_TV]! + sign * dt * dv;
  }

  /** The ring index of the k-th oldest sample. */
  #ring(k: number): number {
    const i = this.#start + k;
    return i >= this.#cap ? i - this.#cap : i;
  }

  /** Sums recomputed from the window's samples, about new bases at its oldest one. */
  #rebuild(st: number): void {
    const buf = this.#buf;
    const skip = buf[st + SKIP]!;
    const o = this.#slot(this.#ring(skip));
    buf[st + BASE_T] = skip < this.#size ? buf[o]! : 0;
    buf[st + BASE_V] = skip < this.#size ? buf[o + 1]! : 0;
    buf[st + S_T] = buf[st + S_V] = buf[st + S_TT] = buf[st + S_TV] = buf[st + PUSHES] = 0;
    for (let k = skip; k < this.#size; k++) {
      const j = this.#slot(this.#ring(k));
      this.#sum(st, buf[j]!, buf[j + 1]!, 1);
    }
  }

  since(fromT: number): HistorySample[] {
    const out: HistorySample[] = [];
    for (let k = 0; k < this.#size; k++) {
      const j = this.#slot((this.#start + k) % this.#cap);
      const t = this.#buf[j]!;
      if (t >= fromT) out.push({ t, v: this.#buf[j + 1]! });
    }
    return out;
  }

  /**
   * Least-squares trend of the samples from `fromT` on, without copying them (the rate-of-rise hot
   * path), written into `out`.
   */
  trend(fromT: number, out: MutableTrend): MutableTrend {
    const cap = this.#cap;
    const size = this.#size;
    if (size === 0) return emptyTrend(out);
    const buf = this.#buf;
    const st = this.#at + 2 * cap;
    if (fromT < buf[st + FROM]!) {
      // The window grew back: sum it all again from the oldest sample.
      buf[st + SKIP] = 0;
      this.#rebuild(st);
    }
    buf[st + FROM] = fromT;
    // Samples are in time order: the window's oldest ones that are now before fromT leave it.
    let skip = buf[st + SKIP]!;
    const skipped = skip;
    while (skip < size) {
      const j = this.#slot(this.#ring(skip));
      if (buf[j]! >= fromT) break;
      this.#sum(st, buf[j]!, buf[j + 1]!, -1);
      skip++;
    }
    buf[st + SKIP] = skip;
    const n = size - skip;
    if (n === 0) return emptyTrend(out);
    // More samples left the window in this call than are in it: the difference of the sums would be
    // mostly rounding. Summing the few left costs less than the ones that left.
    if (skip - skipped > n) this.#rebuild(st);
    const first = buf[this.#slot(this.#ring(skip))]!;
    const last = buf[this.#slot(this.#ring(size - 1))]!;
    // Σ(t - t̄)² and Σ(t - t̄)(v - v̄) from the sums about the bases.
    const sT = buf[st + S_T]!;
    const den = buf[st + S_TT]! - (sT * sT) / n;
    const num = buf[st + S_TV]! - (sT * buf[st + S_V]!) / n;
    out.samples = n;
    out.spanMs = last - first;
    out.slopePerMs = n < 2 || !(den > 0) ? 0 : num / den;
    out.firstMs = first;
    return out;
  }
}

type MutableTrend = { -readonly [K in keyof Trend]: Trend[K] };

function emptyTrend(out: MutableTrend): MutableTrend {
  out.samples = 0;
  out.spanMs = 0;
  out.slopePerMs = 0;
  // Not `delete`: that would turn the reused object into a slow dictionary for good.
  out.firstMs = undefined;
  return out;
}

/** trendHandle()'s answer, reused: valid until the next call (the rate-of-rise rule reads it at once). */
const scratchTrend: MutableTrend = { samples: 0, spanMs: 0, slopePerMs: 0, firstMs: 0 };

/** A least-squares line through a point's good samples: how many, over what span, and its slope. */
export interface Trend {
  readonly samples: number;
  readonly spanMs: number;
  /** Value units per ms; 0 when every sample has the same time. */
  readonly slopePerMs: number;
  /** Time of the oldest sample in it (absent when empty): the window changes by time alone once it drops out. */
  readonly firstMs?: number;
}

/** Samples kept per point by default (at 1 s polls, 300 is five minutes). */
export const DEFAULT_HISTORY = 300;

export interface StoreOptions {
  /** Samples kept per point (at 1 s polls, 300 is five minutes). */
  readonly historyCapacity?: number;
}

/**
 * A point's slot. A plain good reading is kept as two numbers, not as the PointValue it came in:
 * an object kept for a poll interval outlives the young generation, so at 100,000 points per
 * second the old generation filled with dead readings (heap and RSS twice the live data).
 * Anything else (bad, uncertain, with a detail) is kept as given: those are few, or shared.
 * The numbers and flags of every point live in columns by index (PointStore below), not here.
 */
interface Entry extends PointHandle {
  readonly info: PointInfo;
  readonly staleAfterMs: number;
  /** The last value when it is not a plain good reading; undefined for a plain good one or none. */
  value: PointValue | undefined;
  history: History;
  readonly group: StaleGroup;
}

/** Column flags: the last reading is plain good (its number in `num`, its time in `ts`). */
const GOOD = 1;
/** A reader was told this reading is stale: the next write is news even when its value is the same. */
const SEEN_STALE = 2;

/** A device's points, and a time before which none of them can go stale (a lower bound). */
interface StaleGroup {
  readonly entries: Entry[];
  dueAt: number;
}

/**
 * Called on every write with the point's key, the value, its index (declaration order, from 0) and
 * whether it reads differently from before: false when value, quality, reason and detail equal the
 * last write's and no reader has been told the last one was stale (only its time and history moved).
 */
export type ChangeListener = (key: PointKey, value: PointValue, index: number, changed: boolean) => void;

/**
 * onChange() without the value: for readers that only need to know which point was written (the
 * rule engine's marks). A write of a plain good number reaches these without a PointValue being
 * built, unless some onChange() listener wants it.
 */
export type MarkListener = (index: number, changed: boolean) => void;

/** Two writes of a point that read alike apart from their time. */
function sameReading(a: PointValue, b: PointValue): boolean {
  return a.quality === b.quality && a.value === b.value && a.reason === b.reason && a.detail === b.detail;
}

/**
 * A declared point, resolved once: reads and writes through a handle skip the lookup by key (at
 * 100,000 points the Map lookups were a fifth of the deciding path, measured with bench/probe.ts).
 * Opaque to callers.
 */
export interface PointHandle {
  readonly info: PointInfo;
  /** Declaration order, from 0: lets readers keep per-point tables as arrays. */
  readonly index: number;
}

export class PointStore {
  readonly #entries = new Map<PointKey, Entry>();
  readonly #groups = new Map<string, StaleGroup>();
  readonly #listeners: ChangeListener[] = [];
  readonly #markers: MarkListener[] = [];
  readonly #byIndex: Entry[] = [];
  readonly #capacity: number;
  readonly #pool = new SamplePool();
  /** Every point without history shares this one: it never holds a sample. */
  readonly #noHistory = new History(0);
  /** Declared points that never received a value. */
  #unread = 0;
  // The hot per-point fields as columns by point index: a device's points are declared together, so
  // a poll writes them in order, through a few lines of memory, instead of an object (and a boxed
  // number for each double field) per point. At 100,000 points the writes were cache misses first.
  /** The last plain good reading (valid with GOOD). */
  #num = new Float64Array(0);
  /** Its time: the source time of the last reading of any quality. */
  #ts = new Float64Array(0);
  #flags = new Uint8Array(0);

  constructor(opts: StoreOptions = {}) {
    this.#capacity = opts.historyCapacity ?? DEFAULT_HISTORY;
  }

  /**
   * Declare a point before any value arrives: until one does, it reads bad/stale ("never read").
   * `historyCapacity` overrides the store's for this point (0: keep no history).
   */
  declare(info: PointInfo, staleAfterMs: number, historyCapacity?: number): void {
    if (this.#entries.has(info.key)) throw new Error(`point ${info.key} declared twice`);
    const capacity = historyCapacity ?? this.#capacity;
    let group = this.#groups.get(info.deviceId);
    if (group === undefined) this.#groups.set(info.deviceId, (group = { entries: [], dueAt: -Infinity }));
    const index = this.#entries.size;
    if (index >= this.#num.length) this.#grow(Math.max(1024, 2 * this.#num.length));
    const e: Entry = { info, index, staleAfterMs, value: undefined, history: capacity === 0 ? this.#noHistory : new History(capacity, this.#pool), group };
    group.entries.push(e);
    group.dueAt = -Infinity; // never read: reads stale now
    this.#entries.set(info.key, e);
    this.#byIndex.push(e);
    this.#unread++;
  }

  #grow(n: number): void {
    const num = new Float64Array(n);
    const ts = new Float64Array(n);
    const flags = new Uint8Array(n);
    num.set(this.#num);
    ts.set(this.#ts);
    flags.set(this.#flags);
    this.#num = num;
    this.#ts = ts;
    this.#flags = flags;
  }

  onChange(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  onMark(listener: MarkListener): void {
    this.#markers.push(listener);
  }

  /** The key of the point declared `index`-th (from 0), or undefined. */
  keyAt(index: number): PointKey | undefined {
    return this.#byIndex[index]?.info.key;
  }

  /** The handle of a declared point (undefined for an unknown key). */
  handle(key: PointKey): PointHandle | undefined {
    return this.#entries.get(key);
  }

  /** Record a new value. Good values also go into the point's history. */
  update(key: PointKey, value: PointValue): void {
    const e = this.#entries.get(key);
    if (e === undefined) throw new Error(`update of undeclared point ${key}`);
    this.#write(e, value);
  }

  /** update() through a handle from this store's handle(). */
  updateHandle(h: PointHandle, value: PointValue): void {
    this.#write(h as Entry, value);
  }

  /**
   * update() of a plain good reading (good quality, no reason or detail) through a handle, given as
   * its number and time: the decoders' hot path, with no PointValue built unless an onChange()
   * listener is there to receive it.
   */
  updateGoodHandle(h: PointHandle, num: number, ts: number): void {
    this.#writeGood(h as Entry, num, ts, undefined);
  }

  #write(e: Entry, value: PointValue): void {
    if (value.quality === "good" && value.value !== null && value.reason === undefined && value.detail === undefined) {
      this.#writeGood(e, value.value, value.sourceTs, value);
      return;
    }
    const i = e.index;
    const flags = this.#flags[i]!;
    if (e.value === undefined && (flags & GOOD) === 0) this.#unread--;
    // Change detection: a repeat of the last reading (most of a healthy site's polls) marks no rule.
    const changed = (flags & SEEN_STALE) !== 0 || e.value === undefined || !sameReading(e.value, value);
    this.#flags[i] = 0;
    e.value = value;
    this.#num[i] = 0;
    this.#ts[i] = value.sourceTs;
    if (value.quality !== "bad") {
      const staleAt = value.sourceTs + e.staleAfterMs;
      if (staleAt < e.group.dueAt) e.group.dueAt = staleAt;
      if (value.quality === "good" && value.value !== null) e.history.push(value.sourceTs, value.value);
    }
    this.#tell(e, changed, value);
  }

  /**
   * A plain good reading, kept as its number. `value` is the PointValue it came in, when there was
   * one; otherwise one is built only if an onChange() listener is there to receive it.
   */
  #writeGood(e: Entry, num: number, ts: number, value: PointValue | undefined): void {
    const i = e.index;
    const flags = this.#flags[i]!;
    if (e.value === undefined && (flags & GOOD) === 0) this.#unread--;
    // Changed unless the last reading was plain good, with the same number, and no reader was told it was stale.
    const changed = flags !== GOOD || this.#num[i] !== num;
    this.#flags[i] = GOOD;
    e.value = undefined;
    this.#num[i] = num;
    this.#ts[i] = ts;
    const staleAt = ts + e.staleAfterMs;
    if (staleAt < e.group.dueAt) e.group.dueAt = staleAt;
    e.history.push(ts, num);
    this.#tell(e, changed, value ?? (this.#listeners.length === 0 ? undefined : { value: num, quality: "good", sourceTs: ts }));
  }

  #tell(e: Entry, changed: boolean, value: PointValue | undefined): void {
    for (const m of this.#markers) m(e.index, changed);
    if (value !== undefined) for (const l of this.#listeners) l(e.info.key, value, e.index, changed);
  }

  /**
   * The value as of `now`: a good value older than the point's stale limit reads bad/stale, and a
   * point never read reads bad/stale with "no reading yet". Never undefined for a declared point.
   */
  read(key: PointKey, now: number): PointValue {
    const e = this.#entries.get(key);
    if (e === undefined) return { value: null, quality: "bad", reason: "config", detail: `unknown point ${key}`, sourceTs: now };
    return this.readHandle(e, now);
  }

  /** read() through a handle from this store's handle(). */
  readHandle(h: PointHandle, now: number): PointValue {
    const e = h as Entry;
    const i = e.index;
    if ((this.#flags[i]! & GOOD) !== 0) {
      const ts = this.#ts[i]!;
      if (now - ts > e.staleAfterMs) return this.#stale(e, { value: null, quality: "bad", reason: "stale", detail: `last reading ${Math.round((now - ts) / 1000)} s old`, sourceTs: ts });
      return { value: this.#num[i]!, quality: "good", sourceTs: ts };
    }
    const v = e.value;
    if (v === undefined) return { value: null, quality: "bad", reason: "stale", detail: "no reading yet", sourceTs: now };
    if (v.quality !== "bad" && now - v.sourceTs > e.staleAfterMs) {
      return this.#stale(e, { value: null, quality: "bad", reason: "stale", detail: `last reading ${Math.round((now - v.sourceTs) / 1000)} s old`, sourceTs: v.sourceTs });
    }
    return v;
  }

  #stale(e: Entry, v: PointValue): PointValue {
    this.#flags[e.index]! |= SEEN_STALE;
    return v;
  }

  /**
   * A time before which read() of the handle gives the same as now with no new write (a lower
   * bound, 1 ms early against rounding): when a fresh reading goes stale, or the seconds in a
   * stale reading's detail move on. Infinity for a bad reading or none (those never change by time).
   * Incremental rules re-judge a point they did not see written once this has passed.
   */
  recheckAfterHandle(h: PointHandle, now: number): number {
    const e = h as Entry;
    let ts: number;
    if ((this.#flags[e.index]! & GOOD) !== 0) ts = this.#ts[e.index]!;
    else {
      const v = e.value;
      if (v === undefined || v.quality === "bad") return Infinity;
      ts = v.sourceTs;
    }
    const age = now - ts;
    if (age > e.staleAfterMs) return ts + (Math.round(age / 1000) + 0.5) * 1000 - 1;
    return ts + e.staleAfterMs - 1;
  }

  /**
   * The number of a handle's reading when read() would give it as good at `now`; undefined
   * otherwise (read() then says why). The rules' hot path: no object per read.
   */
  goodValueHandle(h: PointHandle, now: number): number | undefined {
    const e = h as Entry;
    const i = e.index;
    if ((this.#flags[i]! & GOOD) !== 0) {
      if (now - this.#ts[i]! <= e.staleAfterMs) return this.#num[i]!;
      this.#flags[i]! |= SEEN_STALE;
      return undefined;
    }
    const v = e.value;
    if (v === undefined || v.quality === "bad") return undefined;
    if (now - v.sourceTs > e.staleAfterMs) this.#flags[i]! |= SEEN_STALE;
    else if (v.quality === "good" && v.value !== null) return v.value;
    return undefined;
  }

  /**
   * Calls `visit` with every point that reads stale at `now` (a good or uncertain value past its
   * limit, or never read): what a write would have reported, for the readers that evaluate only
   * what changed. Only devices whose earliest possible stale time has passed are scanned; a device
   * with stale points is scanned (and its points visited) at every call until they are written.
   */
  visitStale(now: number, visit: (key: PointKey) => void): void {
    for (const g of this.#groups.values()) {
      if (!(now > g.dueAt)) continue;
      let due = Infinity;
      for (const e of g.entries) {
        const good = (this.#flags[e.index]! & GOOD) !== 0;
        const ts = this.#ts[e.index]!;
        const judged = good || (e.value !== undefined && e.value.quality !== "bad");
        if ((!good && e.value === undefined) || (judged && now - ts > e.staleAfterMs)) {
          this.#flags[e.index]! |= SEEN_STALE;
          visit(e.info.key);
          due = now;
        } else if (judged && ts + e.staleAfterMs < due) {
          due = ts + e.staleAfterMs;
        }
      }
      g.dueAt = due;
    }
  }

  /** Good samples of a point from `fromT` on, oldest first. */
  history(key: PointKey, fromT: number): HistorySample[] {
    return this.#entries.get(key)?.history.since(fromT) ?? [];
  }

  /** The trend of a point's good samples from `fromT` on (same figures as leastSquaresSlope over history()). */
  trend(key: PointKey, fromT: number): Trend {
    const t = this.#entries.get(key)?.history.trend(fromT, { samples: 0, spanMs: 0, slopePerMs: 0, firstMs: undefined });
    return t === undefined || t.firstMs === undefined ? { samples: 0, spanMs: 0, slopePerMs: 0 } : t;
  }

  /**
   * trend() through a handle from this store's handle(). The answer is one object reused by every
   * call: read it before the next (no object per point per evaluation).
   */
  trendHandle(h: PointHandle, fromT: number): Trend {
    return (h as Entry).history.trend(fromT, scratchTrend);
  }

  /** How many declared points have never received a value (of any quality). */
  neverWritten(): number {
    return this.#unread;
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
