import { describe, expect, it } from "vitest";
import { bad } from "../../src/points/point.js";
import { deviationEvaluator, groupKey } from "../../src/rules/deviation.js";
import { deviationRule, feed, moduleCells, storeWith, T0 } from "./fixtures-rules.js";

describe("deviation rule", () => {
  it.each([
    ["cab1/s1/m3/c7/tempC", 2, "cab1/s1/m3"],
    ["cab1/s1/m3/c7/tempC", 3, "cab1/s1"],
    ["room-a/tempC", 5, "room-a"],
  ])("groups %s with trim %d as %s", (key, trim, group) => {
    expect(groupKey(key, trim)).toBe(group);
  });

  it("a cell 15 °C above its module's median is active, with the median in the evidence", () => {
    const m1 = moduleCells("cab1", 1, 8);
    const m2 = moduleCells("cab1", 2, 8);
    const store = storeWith([...m1, ...m2]);
    const rule = deviationEvaluator(deviationRule({ id: "dev", points: [...m1, ...m2], aboveMedian: 8 }));
    const values: Record<string, number> = {};
    m1.forEach((k, i) => (values[k] = 27 + i * 0.1));
    m2.forEach((k) => (values[k] = 40)); // a warmer module, uniformly: no deviation inside it
    values[m1[6]!] = 43;
    feed(store, values, T0);
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(true);
    expect(r.stage).toBe("pre_alarm");
    expect(r.evidence).toHaveLength(1);
    expect(r.evidence[0]).toMatchObject({ rule: "dev", point: m1[6], value: 43, quality: "good", threshold: 8 });
    expect(r.evidence[0]?.["groupMedian"]).toBeCloseTo(27.35, 5);
  });

  it("the median uses good points only; a bad cell is a fault of its own", () => {
    const m1 = moduleCells("cab1", 1, 4);
    const store = storeWith(m1);
    const rule = deviationEvaluator(deviationRule({ id: "dev", points: m1 }));
    feed(store, { [m1[0]!]: 27, [m1[1]!]: 27, [m1[2]!]: 37 }, T0);
    store.update(m1[3]!, bad("out_of_range", T0, "800 °C outside -50..800"));
    const r = rule.evaluate(store, T0);
    expect(r.evidence.map((e) => [e.point, e["groupMedian"]])).toEqual([[m1[2], 27]]);
    expect(r.faults.map((f) => [f.point, f.reason])).toEqual([[m1[3], "out_of_range"]]);
  });

  it("a group with fewer good points than minGroup is a fault for that group, never a pass", () => {
    const m1 = moduleCells("cab1", 1, 4);
    const store = storeWith(m1);
    const rule = deviationEvaluator(deviationRule({ id: "dev", points: m1, minGroup: 3 }));
    feed(store, { [m1[0]!]: 27, [m1[1]!]: 60 }, T0); // two never read: stale
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(false);
    expect(r.faults.map((f) => [f.point, f.reason])).toEqual([
      [m1[2], "stale"],
      [m1[3], "stale"],
      ["cab1/s1/m1", "group_too_small"],
    ]);
  });

  it("the deadband holds a deviating cell until it comes back by that much", () => {
    const m1 = moduleCells("cab1", 1, 5);
    const store = storeWith(m1);
    const rule = deviationEvaluator(deviationRule({ id: "dev", points: m1, aboveMedian: 8, deadband: 1 }));
    const at = (t: number, hot: number): boolean => {
      feed(store, Object.fromEntries(m1.map((k, i) => [k, i === 0 ? hot : 30])), t);
      return rule.evaluate(store, t).active;
    };
    expect(at(T0, 38)).toBe(true);
    expect(at(T0 + 1000, 37.5)).toBe(true);
    expect(at(T0 + 2000, 36.9)).toBe(false);
  });
});
