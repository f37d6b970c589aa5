import { describe, expect, it } from "vitest";
import { bad } from "../../src/points/point.js";
import { thresholdEvaluator } from "../../src/rules/threshold.js";
import { feed, storeWith, T0, thresholdRule } from "./fixtures-rules.js";

const P = "room-a/tempC";
const levels = [
  { name: "high" as const, value: 55, stage: "pre_alarm" as const },
  { name: "high_high" as const, value: 90, stage: "alarm" as const },
];

describe("threshold rule", () => {
  it.each([
    // value, active, stage
    [20, false, undefined],
    [54.9, false, undefined],
    [55, true, "pre_alarm"],
    [89, true, "pre_alarm"],
    [95, true, "alarm"],
  ])("at %d °C: active %s, stage %s", (value, active, stage) => {
    const store = storeWith([P]);
    const rule = thresholdEvaluator(thresholdRule({ id: "t", points: [P], levels }));
    feed(store, { [P]: value }, T0);
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(active);
    expect(r.stage).toBe(stage);
    expect(r.faults).toEqual([]);
  });

  it("low levels trip below their value", () => {
    const store = storeWith([P]);
    const rule = thresholdEvaluator(thresholdRule({ id: "t", points: [P], levels: [{ name: "low", value: 5, stage: "watch" }] }));
    feed(store, { [P]: 4 }, T0);
    expect(rule.evaluate(store, T0).stage).toBe("watch");
    feed(store, { [P]: 6 }, T0 + 1000);
    expect(rule.evaluate(store, T0 + 1000).active).toBe(false);
  });

  it("the deadband holds a tripped level until the value falls back past it", () => {
    const store = storeWith([P]);
    const rule = thresholdEvaluator(thresholdRule({ id: "t", points: [P], levels, deadband: 2 }));
    const seq: [number, boolean][] = [
      [54, false],
      [55, true],
      [53.5, true], // inside the deadband: still active
      [54.9, true],
      [52.9, false], // past the deadband: clear
      [54.5, false], // below the level again: does not re-trip
      [55, true],
    ];
    seq.forEach(([v, expected], i) => {
      const t = T0 + i * 1000;
      feed(store, { [P]: v }, t);
      expect(rule.evaluate(store, t).active, `step ${i} at ${v}`).toBe(expected);
    });
  });

  it("the on-delay needs the level held for its time; the off-delay holds it after it clears", () => {
    const store = storeWith([P]);
    const rule = thresholdEvaluator(thresholdRule({ id: "t", points: [P], levels, onDelayMs: 3000, offDelayMs: 2000 }));
    const at = (s: number, v: number): boolean => {
      feed(store, { [P]: v }, T0 + s * 1000);
      return rule.evaluate(store, T0 + s * 1000).active;
    };
    expect(at(0, 60)).toBe(false);
    expect(at(2, 60)).toBe(false);
    expect(at(3, 60)).toBe(true);
    expect(at(4, 20)).toBe(true); // off-delay running: still active
    expect(at(5, 20)).toBe(true);
    expect(at(6, 20)).toBe(false);
    // a blip shorter than the on-delay never trips
    expect(at(7, 60)).toBe(false);
    expect(at(8, 20)).toBe(false);
    expect(at(11, 20)).toBe(false);
  });

  it("evidence names the point, its value and the threshold, worst first", () => {
    const a = "cab1/s1/m1/c1/tempC";
    const b = "cab1/s1/m1/c2/tempC";
    const store = storeWith([a, b]);
    const rule = thresholdEvaluator(thresholdRule({ id: "cell-temp", points: [a, b], levels }));
    feed(store, { [a]: 60, [b]: 92 }, T0);
    const r = rule.evaluate(store, T0);
    expect(r.evidence.map((e) => [e.point, e.value, e["threshold"], e.quality])).toEqual([
      [b, 92, 90, "good"],
      [a, 60, 55, "good"],
    ]);
  });

  it("a stuck or silent sensor gives fault, never alarm", () => {
    const store = storeWith([P]);
    const rule = thresholdEvaluator(thresholdRule({ id: "t", points: [P], levels }));
    store.update(P, bad("stuck", T0, "value unchanged for 600 s"));
    const stuck = rule.evaluate(store, T0);
    expect(stuck.active).toBe(false);
    expect(stuck.faults).toEqual([{ rule: "t", point: P, quality: "bad", reason: "stuck", detail: "value unchanged for 600 s" }]);
  });

  it("a stale point is a fault, not a pass", () => {
    const store = storeWith([P]);
    const rule = thresholdEvaluator(thresholdRule({ id: "t", points: [P], levels }));
    feed(store, { [P]: 95 }, T0);
    expect(rule.evaluate(store, T0).stage).toBe("alarm");
    const later = rule.evaluate(store, T0 + 10_000);
    expect(later.active).toBe(false);
    expect(later.faults.map((f) => f.reason)).toEqual(["stale"]);
  });

  it("is active on good points and in fault on others at the same time", () => {
    const a = "cab1/s1/m1/c1/tempC";
    const b = "cab1/s1/m1/c2/tempC";
    const store = storeWith([a, b]);
    const rule = thresholdEvaluator(thresholdRule({ id: "t", points: [a, b], levels }));
    feed(store, { [a]: 95 }, T0);
    store.update(b, bad("sentinel", T0, "raw 0x8000"));
    const r = rule.evaluate(store, T0);
    expect(r.stage).toBe("alarm");
    expect(r.faults.map((f) => f.point)).toEqual([b]);
  });
});
