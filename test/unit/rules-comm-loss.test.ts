import { describe, expect, it } from "vitest";
import { bad } from "../../src/points/point.js";
import { RuleEngine } from "../../src/rules/engine.js";
import { commLossRule, device, feed, siteConfig, storeWith, T0 } from "./fixtures-rules.js";

const points = ["cab1/a", "cab1/b"];

function setup(afterMs = 3000) {
  const store = storeWith(points);
  const engine = new RuleEngine(siteConfig({ rules: [commLossRule({ id: "comm", devices: ["cab1"], afterMs })], devices: [device("cab1", ["a", "b"])] }));
  return { store, evaluate: (t: number) => engine.evaluate(store, t)[0]! };
}

describe("comm-loss rule", () => {
  it("a device with all points failing for afterMs is active trouble, with no stage", () => {
    const { store, evaluate } = setup();
    for (const p of points) store.update(p, bad("comm_fail", T0, "ECONNREFUSED"));
    expect(evaluate(T0).active).toBe(false);
    expect(evaluate(T0 + 2999).active).toBe(false);
    const r = evaluate(T0 + 3000);
    expect(r.active).toBe(true);
    expect(r.stage).toBeUndefined();
    expect(r.evidence[0]).toMatchObject({ rule: "comm", device: "cab1", reason: "comm_fail" });
  });

  it("a device that went silent (stale) counts as lost", () => {
    const { store, evaluate } = setup(0);
    feed(store, { "cab1/a": 1, "cab1/b": 2 }, T0);
    expect(evaluate(T0 + 1000).active).toBe(false);
    expect(evaluate(T0 + 10_000).active).toBe(true);
  });

  it("one good point means the device answers: not comm loss", () => {
    const { store, evaluate } = setup(0);
    store.update("cab1/a", bad("timeout", T0));
    feed(store, { "cab1/b": 2 }, T0);
    expect(evaluate(T0).active).toBe(false);
  });

  it("a bad reading from a live device is not comm loss", () => {
    const { store, evaluate } = setup(0);
    for (const p of points) store.update(p, bad("out_of_range", T0));
    expect(evaluate(T0).active).toBe(false);
  });

  it("recovers as soon as the device answers again", () => {
    const { store, evaluate } = setup(0);
    for (const p of points) store.update(p, bad("timeout", T0));
    expect(evaluate(T0).active).toBe(true);
    feed(store, { "cab1/a": 1 }, T0 + 1000);
    expect(evaluate(T0 + 1000).active).toBe(false);
  });
});
