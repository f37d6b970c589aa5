import { describe, expect, it } from "vitest";
import type { DisagreeRule } from "../../src/config/types.js";
import { bad, good, type PointValue } from "../../src/points/point.js";
import { disagreeEvaluator } from "../../src/rules/disagree.js";
import type { RuleResult } from "../../src/rules/result.js";
import { disagreeRule, storeWith, T0 } from "./fixtures-rules.js";

const pair = ["og-1/ppm", "og-2/ppm"];
const trio = ["room-a/tempC", "room-b/tempC", "room-c/tempC"];

/** Evaluate once a second with the same readings from 0 to `endS`; returns the last result. */
function hold(rule: Partial<DisagreeRule> & Pick<DisagreeRule, "points">, readings: readonly (number | PointValue)[], endS: number): RuleResult {
  const store = storeWith(rule.points);
  const evaluator = disagreeEvaluator(disagreeRule({ id: "dis", ...rule }));
  let r: RuleResult | undefined;
  for (let s = 0; s <= endS; s++) {
    const t = T0 + s * 1000;
    rule.points.forEach((k, i) => {
      const v = readings[i]!;
      store.update(k, typeof v === "number" ? good(v, t) : { ...v, sourceTs: t });
    });
    r = evaluator.evaluate(store, t);
  }
  return r!;
}

describe("disagree rule", () => {
  it.each<{ name: string; rule: Partial<DisagreeRule> & Pick<DisagreeRule, "points">; readings: (number | PointValue)[]; endS: number; named: string[] }>([
    { name: "two detectors within max_difference agree", rule: { points: pair, maxDifference: 5 }, readings: [2, 6], endS: 10, named: [] },
    { name: "two detectors apart by more: both are named (which one drifts cannot be told)", rule: { points: pair, maxDifference: 5 }, readings: [2, 12], endS: 0, named: pair },
    { name: "three sensors: only the odd one out", rule: { points: trio, maxDifference: 3 }, readings: [24, 24.5, 29], endS: 0, named: ["room-c/tempC"] },
    { name: "the on-delay must run out first", rule: { points: pair, maxDifference: 5, onDelayMs: 300_000 }, readings: [2, 12], endS: 299, named: [] },
    { name: "... and then it is trouble", rule: { points: pair, maxDifference: 5, onDelayMs: 300_000 }, readings: [2, 12], endS: 300, named: pair },
  ])("$name", ({ rule, readings, endS, named }) => {
    const r = hold(rule, readings, endS);
    expect(r.evidence.map((e) => e.point).sort()).toEqual([...named].sort());
    expect(r.active).toBe(named.length > 0);
    expect(r.stage).toBeUndefined(); // trouble, never a stage
    expect(r.faults).toEqual([]);
  });

  it("the evidence carries the peers' median and the difference", () => {
    const r = hold({ points: trio, maxDifference: 3 }, [24, 24.5, 29], 0);
    expect(r.evidence[0]).toMatchObject({ rule: "dis", point: "room-c/tempC", value: 29, reason: "disagree", peerMedian: 24.25, difference: 4.75, threshold: 3 });
  });

  it("with one of two bad there is nothing to cross-check: a fault, never a pass", () => {
    const r = hold({ points: pair, maxDifference: 5 }, [2, bad("sentinel", 0, "raw 0xFFFF")], 0);
    expect(r.active).toBe(false);
    expect(r.faults.map((f) => [f.point, f.reason])).toEqual([
      ["og-2/ppm", "sentinel"],
      [undefined, "no_peer"],
    ]);
  });

  it("the deadband holds the trouble until they come back closer by that much", () => {
    const store = storeWith(pair);
    const evaluator = disagreeEvaluator(disagreeRule({ id: "dis", points: pair, maxDifference: 5, deadband: 1 }));
    const at = (s: number, b: number): boolean => {
      store.update(pair[0]!, good(0, T0 + s * 1000));
      store.update(pair[1]!, good(b, T0 + s * 1000));
      return evaluator.evaluate(store, T0 + s * 1000).active;
    };
    expect([at(0, 5), at(1, 4.5), at(2, 3.9), at(3, 4.9)]).toEqual([true, true, false, false]);
  });
});
