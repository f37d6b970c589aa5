import { describe, expect, it } from "vitest";
import { bad } from "../../src/points/point.js";
import { leastSquaresSlope, rateOfRiseEvaluator, sampleSpanProblem } from "../../src/rules/rate-of-rise.js";
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

describe("rate of rise: the sample span a window needs (what check-config warns about)", () => {
  const cases: { name: string; windowS: number; minSamples: number; intervalS: number; never: RegExp | undefined }[] = [
    { name: "60 s window, 10 samples, polled every second: judges", windowS: 60, minSamples: 10, intervalS: 1, never: undefined },
    { name: "60 s window, 10 samples, every 6 s: 11 samples fit, judges", windowS: 60, minSamples: 10, intervalS: 6, never: undefined },
    { name: "60 s window, 10 samples, every 7 s: 9 fit, never judges", windowS: 60, minSamples: 10, intervalS: 7, never: /at most 9 samples .* fewer than min_samples 10/ },
    { name: "60 s window, 3 samples, every 40 s: 2 fit", windowS: 60, minSamples: 3, intervalS: 40, never: /at most 2 samples/ },
    { name: "60 s window, 2 samples, every 31 s: enough samples, but they span 31 s of 60: judges", windowS: 60, minSamples: 2, intervalS: 31, never: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = sampleSpanProblem(c.windowS * 1000, c.minSamples, c.intervalS * 1000);
      if (c.never === undefined) expect(p).toBeUndefined();
      else expect(p).toMatch(c.never);
    });
  }

  it("agrees with the evaluator: points polled every 7 s never get a verdict from a 60 s / 10-sample rule, every 6 s they do", () => {
    for (const [intervalS, judged] of [[7, false], [6, true]] as const) {
      const ev = rateOfRiseEvaluator(rateOfRiseRule({ id: "ror", points: [P], ratePerMin: 1, windowMs: 60_000, minSamples: 10 }));
      const store = storeWith([P]);
      let last = T0;
      for (let i = 0; i <= 30; i++) {
        last = T0 + i * intervalS * 1000;
        feed(store, { [P]: 20 + i * intervalS }, last); // +1 degC per second: far above 1 per minute
      }
      expect(ev.evaluate(store, last).active).toBe(judged);
    }
  });
});
