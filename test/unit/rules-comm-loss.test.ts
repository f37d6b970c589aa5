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

  it("a device answering every request with a Modbus exception is comm-loss trouble, with the exception named", () => {
    const { store, evaluate } = setup(1000);
    for (const p of points) store.update(p, bad("device_exception", T0, "holding 0+2: Modbus exception 2 (illegal data address)"));
    expect(evaluate(T0).active).toBe(false);
    const r = evaluate(T0 + 1000);
    expect(r.active).toBe(true);
    expect(r.evidence[0]).toMatchObject({ device: "cab1", reason: "device_exception" });
    expect(String(r.evidence[0]!.detail)).toMatch(/Modbus exception 2 \(illegal data address\)/);
  });

  it("a device whose first point reads bad/config (it holds more than its layout) is a fault of the rule, not comm loss", () => {
    const { store, evaluate } = setup(0);
    store.update("cab1/a", bad("config", T0, "not watched: cells c9-c16 of every module (8)"));
    feed(store, { "cab1/b": 2 }, T0);
    const r = evaluate(T0);
    expect(r.active).toBe(false);
    expect(r.faults).toEqual([expect.objectContaining({ device: "cab1", point: "cab1/a", reason: "config", detail: expect.stringMatching(/cells c9-c16/) })]);
    feed(store, { "cab1/a": 0 }, T0 + 1000);
    expect(evaluate(T0 + 1000).faults).toEqual([]);
  });
});
