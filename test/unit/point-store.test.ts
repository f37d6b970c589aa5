import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bad, good, type PointValue } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { leastSquaresSlope } from "../../src/rules/rate-of-rise.js";

const T0 = Date.UTC(2026, 10, 25, 3, 0, 0);

function store(): PointStore {
  const s = new PointStore({ historyCapacity: 10 });
  s.declare({ key: "d1/a", deviceId: "d1", pointId: "a", unit: "" }, 3000);
  s.declare({ key: "d1/b", deviceId: "d1", pointId: "b", unit: "" }, 3000, 0);
  s.declare({ key: "d2/x", deviceId: "d2", pointId: "x", unit: "" }, 5000);
  return s;
}

describe("PointStore", () => {
  it("reads back what was written, through keys and handles alike, and listeners see the point's index", () => {
    const s = store();
    const seen: [string, PointValue, number][] = [];
    s.onChange((k, v, i) => seen.push([k, v, i]));
    const h = s.handle("d1/b")!;
    expect(h.index).toBe(1);
    s.update("d1/a", good(21.5, T0));
    s.updateHandle(h, bad("sentinel", T0, "raw 0xFFFF"));
    expect(s.read("d1/a", T0 + 1000)).toEqual({ value: 21.5, quality: "good", sourceTs: T0 });
    expect(s.readHandle(s.handle("d1/a")!, T0 + 1000)).toEqual(s.read("d1/a", T0 + 1000));
    expect(s.read("d1/b", T0 + 1000)).toEqual({ value: null, quality: "bad", reason: "sentinel", detail: "raw 0xFFFF", sourceTs: T0 });
    expect(seen.map(([k, , i]) => [k, i])).toEqual([["d1/a", 0], ["d1/b", 1]]);
    expect(s.handle("nope")).toBeUndefined();
  });

  it("a good reading past its stale limit reads bad/stale, never its old value; an unread point reads stale", () => {
    const s = store();
    s.update("d1/a", good(21.5, T0));
    expect(s.read("d1/a", T0 + 3001)).toMatchObject({ value: null, quality: "bad", reason: "stale" });
    expect(s.read("d2/x", T0)).toMatchObject({ quality: "bad", reason: "stale", detail: "no reading yet" });
    s.update("d2/x", { value: 1, quality: "uncertain", reason: "stuck", sourceTs: T0 });
    expect(s.read("d2/x", T0 + 6000)).toMatchObject({ quality: "bad", reason: "stale" });
  });

  it("the stale scan visits exactly the points a read would call stale, and only devices whose time has come", () => {
    const s = store();
    const visited = (now: number): string[] => {
      const out: string[] = [];
      s.visitStale(now, (k) => out.push(k));
      return out.sort();
    };
    expect(visited(T0)).toEqual(["d1/a", "d1/b", "d2/x"]); // never read
    s.update("d1/a", good(1, T0));
    s.update("d1/b", bad("comm_fail", T0, "down")); // bad never goes stale: it already says why
    s.update("d2/x", good(1, T0 + 1000));
    expect(visited(T0 + 100)).toEqual([]);
    expect(visited(T0 + 3001)).toEqual(["d1/a"]);
    expect(visited(T0 + 3002)).toEqual(["d1/a"]); // still stale: visited at every scan until written
    expect(visited(T0 + 6001)).toEqual(["d1/a", "d2/x"]);
    s.update("d1/a", good(2, T0 + 6100));
    expect(visited(T0 + 6200)).toEqual(["d2/x"]);
    for (const now of [T0 + 6300, T0 + 9101, T0 + 20_000]) {
      const byRead = ["d1/a", "d1/b", "d2/x"].filter((k) => s.read(k, now).reason === "stale");
      expect(visited(now)).toEqual(byRead);
    }
  });

  it("a full history ring keeps the newest samples, and its trend is the least-squares line over them", () => {
    const s = new PointStore({ historyCapacity: 7 });
    for (const id of ["a", "b"]) s.declare({ key: `d/${id}`, deviceId: "d", pointId: id, unit: "" }, 60_000);
    for (let k = 0; k < 20; k++) {
      s.update("d/a", good(20 + k * 0.5 + (k % 3) * 0.1, T0 + k * 1000));
      s.update("d/b", good(-k, T0 + k * 1000)); // a neighbour in the same pool must not bleed in
    }
    s.update("d/a", good(99, T0 + 19_000)); // same time again: not a new sample
    const all = s.history("d/a", 0);
    expect(all.map((x) => x.t)).toEqual(Array.from({ length: 7 }, (_, i) => T0 + (13 + i) * 1000));
    const from = T0 + 15_500;
    const tr = s.trend("d/a", from);
    const samples = s.history("d/a", from);
    expect(tr).toMatchObject({ samples: 4, spanMs: 3000, firstMs: T0 + 16_000 });
    expect(tr.slopePerMs).toBeCloseTo(leastSquaresSlope(samples), 12);
    expect(s.trend("d/b", 0).slopePerMs).toBeCloseTo(-0.001, 12);
  });
});

describe("trend from running sums", () => {
  it("equals the two-pass least-squares slope over the samples in the window, over many turns of the ring", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        // A window that only slides forward (one rule: the incremental path), or one that jumps about.
        fc.option(fc.integer({ min: 0, max: 120_000 })),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 5000 }), v: fc.double({ min: -500, max: 500, noNaN: true }), back: fc.integer({ min: 0, max: 120_000 }), ask: fc.boolean() }), { minLength: 1, maxLength: 400 }),
        (cap, window, steps) => {
          const s = new PointStore({ historyCapacity: cap });
          s.declare({ key: "d/a", deviceId: "d", pointId: "a", unit: "" }, 1e12);
          const h = s.handle("d/a")!;
          let t = T0;
          for (const step of steps) {
            t += step.dt; // 0: the same time again, not a new sample
            s.update("d/a", good(step.v, t));
            if (!step.ask) continue; // pushes between questions
            const from = t - (window ?? step.back);
            expect({ ...s.trendHandle(h, from) }).toEqual(s.trend("d/a", from));
            const samples = s.history("d/a", from);
            const tr = s.trend("d/a", from);
            expect(tr.samples).toBe(samples.length);
            if (samples.length === 0) continue;
            expect(tr.firstMs).toBe(samples[0]!.t);
            expect(tr.spanMs).toBe(samples[samples.length - 1]!.t - samples[0]!.t);
            const want = samples.length < 2 ? 0 : leastSquaresSlope(samples);
            // Values up to 500 over spans of up to a few minutes: slopes to 1e-9 per ms (6e-5 per minute) and closer.
            expect(Math.abs(tr.slopePerMs - want)).toBeLessThanOrEqual(1e-9 + 1e-9 * Math.abs(want));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("stays exact over a long run: the sums are rebuilt from the samples once per turn of the ring", () => {
    const s = new PointStore({ historyCapacity: 77 });
    s.declare({ key: "d/a", deviceId: "d", pointId: "a", unit: "" }, 1e12);
    let t = T0;
    for (let k = 0; k < 300_000; k++) s.update("d/a", good(25 + 0.001 * k + Math.sin(k) * 3, (t += 1000 + (k % 7))));
    const from = t - 60_000;
    const want = leastSquaresSlope(s.history("d/a", from));
    expect(Math.abs(s.trend("d/a", from).slopePerMs - want)).toBeLessThanOrEqual(1e-12 * Math.abs(want) + 1e-15);
  });

  it("a flat series has a slope of exactly 0, however long it runs", () => {
    const s = new PointStore({ historyCapacity: 77 });
    s.declare({ key: "d/a", deviceId: "d", pointId: "a", unit: "" }, 1e12);
    for (let k = 0; k < 10_000; k++) s.update("d/a", good(25.3, T0 + k * 1000));
    expect(s.trend("d/a", T0 + 9_940_000).slopePerMs).toBe(0);
  });
});

describe("change detection", () => {
  it("a repeated reading is not a change; a new value, quality or detail is, and so is any write after a reader saw the point stale", () => {
    const store = new PointStore();
    store.declare({ key: "d/a", deviceId: "d", pointId: "a", unit: "" }, 3000);
    const flags: boolean[] = [];
    store.onChange((_k, _v, _i, changed) => flags.push(changed));
    store.update("d/a", good(20, 1000)); // first reading
    store.update("d/a", good(20, 2000)); // same reading, later
    store.update("d/a", good(21, 3000)); // new value
    store.update("d/a", bad("sentinel", 4000, "raw 0xFFFF"));
    store.update("d/a", bad("sentinel", 5000, "raw 0xFFFF")); // same bad reading
    store.update("d/a", bad("sentinel", 6000, "raw 0x8000")); // other detail
    store.update("d/a", good(21, 7000));
    expect(store.goodValueHandle(store.handle("d/a")!, 20_000)).toBeUndefined(); // a rule sees it stale
    store.update("d/a", good(21, 21_000)); // same value, but it reads good again
    store.update("d/a", good(21, 22_000));
    expect(flags).toEqual([true, false, true, true, false, true, true, true, false]);
  });

  it("says when a reading can next change by time alone: when it goes stale, then as its age in seconds moves on", () => {
    const store = new PointStore();
    store.declare({ key: "d/a", deviceId: "d", pointId: "a", unit: "" }, 3000);
    const h = store.handle("d/a")!;
    expect(store.recheckAfterHandle(h, 0)).toBe(Infinity); // never read: "no reading yet" does not change
    store.update("d/a", good(20, 1000));
    expect(store.recheckAfterHandle(h, 1500)).toBe(3999);
    // Stale at 5,000 ("4 s old"): the detail says 5 s from 5,500 on.
    expect(store.readHandle(h, 5000).detail).toBe("last reading 4 s old");
    expect(store.recheckAfterHandle(h, 5000)).toBe(5499);
    store.update("d/a", bad("comm_fail", 6000));
    expect(store.recheckAfterHandle(h, 6000)).toBe(Infinity);
  });
});
