import { describe, expect, it } from "vitest";
import { bad } from "../../src/points/point.js";
import { offgasEvaluator } from "../../src/rules/offgas.js";
import { feed, offgasRule, storeWith, T0 } from "./fixtures-rules.js";

const P = "offgas-a/ppm";
const R1 = "ref-1/ppm";
const R2 = "ref-2/ppm";
const R3 = "ref-3/ppm";

describe("offgas rule", () => {
  it.each([
    // ppm, stage (baseline 0, levels 10 → pre_alarm, 50 → alarm)
    [3, undefined],
    [12, "pre_alarm"],
    [48.2, "pre_alarm"],
    [60, "alarm"],
  ])("without references, %d ppm raises %s", (ppm, stage) => {
    const store = storeWith([P]);
    const rule = offgasEvaluator(offgasRule({ id: "og", points: [P] }));
    feed(store, { [P]: ppm }, T0);
    const r = rule.evaluate(store, T0);
    expect(r.stage).toBe(stage);
    expect(r.active).toBe(stage !== undefined);
  });

  it("with references, the baseline is their median: common-mode background does not alarm", () => {
    const store = storeWith([P, R1, R2, R3]);
    const rule = offgasEvaluator(offgasRule({ id: "og", points: [P], referencePoints: [R1, R2, R3] }));
    feed(store, { [P]: 35, [R1]: 30, [R2]: 31, [R3]: 60 }, T0);
    expect(rule.evaluate(store, T0).active).toBe(false);
    feed(store, { [P]: 45 }, T0 + 1000);
    const r = rule.evaluate(store, T0 + 1000);
    expect(r.stage).toBe("pre_alarm");
    expect(r.evidence[0]).toMatchObject({ point: P, value: 45, baseline: 31, baselineSource: "references", ppmAboveBaseline: 14, threshold: 10 });
  });

  it("a bad reference is a fault and the others still give the baseline", () => {
    const store = storeWith([P, R1, R2]);
    const rule = offgasEvaluator(offgasRule({ id: "og", points: [P], referencePoints: [R1, R2] }));
    feed(store, { [P]: 25, [R1]: 10 }, T0);
    store.update(R2, bad("comm_fail", T0));
    const r = rule.evaluate(store, T0);
    expect(r.stage).toBe("pre_alarm");
    expect(r.faults.map((f) => [f.point, f.reason])).toEqual([[R2, "comm_fail"]]);
  });

  it("all references bad is a fault, and the configured baseline keeps the detector watching", () => {
    const store = storeWith([P, R1]);
    const rule = offgasEvaluator(offgasRule({ id: "og", points: [P], referencePoints: [R1], baselinePpm: 5 }));
    feed(store, { [P]: 70 }, T0);
    const r = rule.evaluate(store, T0);
    expect(r.faults.map((f) => f.reason)).toEqual(["stale", "no_reference"]);
    expect(r.stage).toBe("alarm");
    expect(r.evidence[0]).toMatchObject({ baseline: 5, baselineSource: "configured" });
  });

  it("levels clear through the deadband one at a time", () => {
    const store = storeWith([P]);
    const rule = offgasEvaluator(offgasRule({ id: "og", points: [P], deadband: 2 }));
    const stageAt = (i: number, ppm: number) => {
      feed(store, { [P]: ppm }, T0 + i * 1000);
      return rule.evaluate(store, T0 + i * 1000).stage;
    };
    expect(stageAt(0, 55)).toBe("alarm");
    expect(stageAt(1, 49)).toBe("alarm");
    expect(stageAt(2, 47)).toBe("pre_alarm");
    expect(stageAt(3, 8.5)).toBe("pre_alarm");
    expect(stageAt(4, 7.9)).toBeUndefined();
  });

  it("a stuck or silent sensor gives fault, never alarm", () => {
    const store = storeWith([P]);
    const rule = offgasEvaluator(offgasRule({ id: "og", points: [P] }));
    store.update(P, bad("sentinel", T0, "raw 0xFFFF: no measurement"));
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(false);
    expect(r.faults).toEqual([{ rule: "og", point: P, quality: "bad", reason: "sentinel", detail: "raw 0xFFFF: no measurement" }]);
  });
});
