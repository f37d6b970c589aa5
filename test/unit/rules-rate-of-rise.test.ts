import { describe, expect, it } from "vitest";
import { bad } from "../../src/points/point.js";
import { leastSquaresSlope, rateOfRiseEvaluator } from "../../src/rules/rate-of-rise.js";
import { feed, rateOfRiseRule, storeWith, T0 } from "./fixtures-rules.js";

const P = "cab1/s1/m1/c1/tempC";

/** Deterministic noise in [-amp, amp] (a small LCG), so the test means the same every run. */
function noise(seed: number, amp: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 0xffffffff - 0.5) * 2 * amp;
  };
}

function run(valueAt: (sec: number) => number, seconds: number, ruleOverrides = {}) {
  const store = storeWith([P]);
  const rule = rateOfRiseEvaluator(rateOfRiseRule({ id: "ror", points: [P], ratePerMin: 2, ...ruleOverrides }));
  let last = rule.evaluate(store, T0);
  for (let s = 0; s <= seconds; s++) {
    feed(store, { [P]: valueAt(s) }, T0 + s * 1000);
    last = rule.evaluate(store, T0 + s * 1000);
  }
  return last;
}

describe("rate-of-rise rule", () => {
  it("the least-squares slope of a line at epoch times is exact", () => {
    const samples = Array.from({ length: 30 }, (_, i) => ({ t: T0 + i * 1000, v: 25 + 0.05 * i }));
    expect(leastSquaresSlope(samples) * 60_000).toBeCloseTo(3, 9);
  });

  it("a 3 °C/min ramp under ±0.5 °C noise is active with its rate in the evidence", () => {
    const n = noise(7, 0.5);
    const r = run((s) => 25 + (3 * s) / 60 + n(), 90);
    expect(r.active).toBe(true);
    expect(r.stage).toBe("watch");
    expect(r.evidence[0]?.["ratePerMin"]).toBeGreaterThan(2.5);
    expect(r.evidence[0]?.["ratePerMin"]).toBeLessThan(3.5);
  });

  it("±0.5 °C noise on a flat temperature is not a rise", () => {
    const n = noise(11, 0.5);
    const r = run(() => 25 + n(), 300);
    expect(r.active).toBe(false);
    expect(r.faults).toEqual([]);
  });

  it("too few samples is neither active nor a fault while the point is good", () => {
    const r = run((s) => 25 + s, 5); // 60 °C/min, but only 6 samples over 5 s
    expect(r.active).toBe(false);
    expect(r.faults).toEqual([]);
  });

  it("samples spanning less than half the window are not enough data", () => {
    // 20 samples at 0.1 s: enough count, 1.9 s span of a 60 s window
    const store = storeWith([P]);
    const rule = rateOfRiseEvaluator(rateOfRiseRule({ id: "ror", points: [P] }));
    for (let i = 0; i < 20; i++) feed(store, { [P]: 25 + i }, T0 + i * 100);
    expect(rule.evaluate(store, T0 + 1900).active).toBe(false);
  });

  it("a stale point is a fault, not a pass", () => {
    const store = storeWith([P]);
    const rule = rateOfRiseEvaluator(rateOfRiseRule({ id: "ror", points: [P] }));
    for (let s = 0; s <= 60; s++) feed(store, { [P]: 25 + s / 10 }, T0 + s * 1000);
    expect(rule.evaluate(store, T0 + 60_000).active).toBe(true);
    const r = rule.evaluate(store, T0 + 70_000);
    expect(r.active).toBe(false);
    expect(r.faults.map((f) => [f.point, f.reason])).toEqual([[P, "stale"]]);
  });

  it("a stuck or silent sensor gives fault, never alarm", () => {
    const store = storeWith([P]);
    const rule = rateOfRiseEvaluator(rateOfRiseRule({ id: "ror", points: [P] }));
    for (let s = 0; s <= 60; s++) feed(store, { [P]: 25 + s / 10 }, T0 + s * 1000);
    store.update(P, bad("timeout", T0 + 61_000));
    const r = rule.evaluate(store, T0 + 61_000);
    expect(r.active).toBe(false);
    expect(r.faults.map((f) => f.reason)).toEqual(["timeout"]);
  });
});
