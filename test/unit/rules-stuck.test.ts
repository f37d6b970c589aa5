import { describe, expect, it } from "vitest";
import type { StuckRule } from "../../src/config/types.js";
import { bad, good, type PointValue } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import type { RuleResult } from "../../src/rules/result.js";
import { peersOf, stuckEvaluator } from "../../src/rules/stuck.js";
import { buildRoomWatch } from "../../src/runtime/core.js";
import { device, moduleCells, siteConfig, storeWith, stuckRule, T0, zone } from "./fixtures-rules.js";

const cells = moduleCells("cab1", 1, 5); // c1 … c5 of one module
const [c1, c2, c3, c4, c5] = cells as [string, string, string, string, string];
const STILL = 24;

/** What one cell reads at second `s`: a number, or a PointValue (bad readings). */
type Script = (key: string, s: number) => number | PointValue;

/** Feed every cell once a second from 0 to `endS` and evaluate after each write; returns the result at `endS`. */
function play(rule: Partial<StuckRule>, script: Script, endS: number): { result: RuleResult; activeFrom?: number } {
  const store = storeWith(cells);
  const evaluator = stuckEvaluator(stuckRule({ id: "stuck", points: cells, ...rule }));
  let result: RuleResult | undefined;
  let activeFrom: number | undefined;
  for (let s = 0; s <= endS; s++) {
    const t = T0 + s * 1000;
    for (const k of cells) {
      const v = script(k, s);
      store.update(k, typeof v === "number" ? good(v, t) : { ...v, sourceTs: t });
    }
    result = evaluator.evaluate(store, t);
    if (result.active) activeFrom ??= s;
    else activeFrom = undefined;
  }
  return { result: result!, ...(activeFrom === undefined ? {} : { activeFrom }) };
}

/** `moving` step up by one count (0.1) every 20 s from second 30; the rest stay still; `stuck` never moves. */
const neighbours = (moving: readonly string[]): Script => (k, s) => (moving.includes(k) && s >= 30 ? STILL + 0.1 * Math.floor((s - 10) / 20) : STILL);

describe("stuck rule", () => {
  it.each<{ name: string; rule?: Partial<StuckRule>; script: Script; endS: number; stuck: string[]; from?: number }>([
    { name: "a cell flat while both neighbours move is stuck once it has been flat for flat_s", script: neighbours([c2, c4]), endS: 90, stuck: [c3], from: 61 },
    { name: "a quiet module (nothing moves) is never stuck: flat alone proves nothing", script: () => STILL, endS: 900, stuck: [] },
    { name: "one moving neighbour is not enough with min_moving_peers 2", script: neighbours([c2]), endS: 300, stuck: [] },
    { name: "a module's end cell (one neighbour) is not judged with adjacent peers", script: neighbours([c2, c4]), endS: 300, stuck: [c3] },
    { name: "moving less than the resolution is still flat", script: (k, s) => (k === c3 ? STILL + (s % 2) * 0.05 : neighbours([c2, c4])(k, s)), endS: 90, stuck: [c3] },
    { name: "a move of one resolution restarts the flat run", script: (k, s) => (k === c3 && s >= 50 ? STILL + 0.1 : neighbours([c2, c4])(k, s)), endS: 100, stuck: [] },
    { name: "group peers: min_moving_peers of the other cells must have moved", rule: { peers: "group", minMovingPeers: 3 }, script: neighbours([c2, c4, c5]), endS: 90, stuck: [c1, c3], from: 61 },
    { name: "group peers: two of four moving is not enough for 3", rule: { peers: "group", minMovingPeers: 3 }, script: neighbours([c2, c4]), endS: 300, stuck: [] },
    { name: "a neighbour's move older than flat_s no longer counts", script: (k, s) => ((k === c2 || k === c4) && s >= 10 ? STILL + 0.1 : STILL), endS: 75, stuck: [] },
    { name: "the on-delay holds the trouble back", rule: { onDelayMs: 20_000 }, script: neighbours([c2, c4]), endS: 90, stuck: [c3], from: 81 },
  ])("$name", ({ rule, script, endS, stuck, from }) => {
    const { result, activeFrom } = play(rule ?? {}, script, endS);
    expect(result.evidence.map((e) => e.point).sort()).toEqual([...stuck].sort());
    expect(result.active).toBe(stuck.length > 0);
    expect(result.stage).toBeUndefined(); // trouble, never a stage
    expect(result.faults).toEqual([]);
    if (from !== undefined) expect(activeFrom).toBe(from);
  });

  it("the evidence says how long the point was flat and which peers moved", () => {
    const { result } = play({}, neighbours([c2, c4]), 90);
    expect(result.evidence[0]).toMatchObject({ rule: "stuck", point: c3, value: STILL, quality: "good", reason: "stuck", flatForS: 90, resolution: 0.1, movingPeers: 2 });
    expect(result.evidence[0]?.["detail"]).toBe(`no change of 0.1 in 90 s while 2 of its 2 peers moved (${c2}, ${c4})`);
  });

  it("a bad point is a fault, not stuck, and its flat run starts again when it reads good", () => {
    const script: Script = (k, s) => (k === c3 && s >= 70 && s < 75 ? bad("sentinel", 0, "raw 0x8000") : neighbours([c2, c4])(k, s));
    const during = play({}, script, 72).result;
    expect(during.active).toBe(false);
    expect(during.faults.map((f) => [f.point, f.reason])).toEqual([[c3, "sentinel"]]);
    expect(play({}, script, 130).result.active).toBe(false); // flat again only since 75 s
    expect(play({}, script, 140).result.evidence.map((e) => e.point)).toEqual([c3]);
  });

  it("min_readings: a flat run must also hold that many new readings (a late poller is not evidence)", () => {
    // c3 is read every `every` seconds; the same reading evaluated again after its neighbours' writes does not count.
    const run = (every: number, minReadings: number): number | undefined => {
      const store = new PointStore();
      for (const k of cells) store.declare({ key: k, deviceId: "cab1", pointId: k.slice(5), unit: "" }, 600_000); // never stale here
      const evaluator = stuckEvaluator(stuckRule({ id: "stuck", points: cells, flatMs: 30_000, minReadings }));
      let activeFrom: number | undefined;
      for (let s = 0; s <= 120; s++) {
        const t = T0 + s * 1000;
        for (const k of cells) if (k !== c3 || s % every === 0) store.update(k, good(neighbours([c2, c4])(k, s) as number, t));
        if (evaluator.evaluate(store, t).active) activeFrom ??= s;
      }
      return activeFrom;
    };
    expect(run(1, 0)).toBe(31); // time alone
    expect(run(5, 0)).toBe(31); // time alone counts 6 readings as 30 s of evidence
    expect(run(1, 25)).toBe(31); // one a second: 30 readings by then
    expect(run(5, 25)).toBeUndefined(); // one every 5 s: 25 readings would take 125 s
    expect(run(5, 10)).toBe(50); // the 10th new flat reading after the first, at 50 s
    const evidence = (() => {
      const store = storeWith(cells);
      const evaluator = stuckEvaluator(stuckRule({ id: "stuck", points: cells, flatMs: 30_000, minReadings: 10 }));
      let last: RuleResult | undefined;
      for (let s = 0; s <= 40; s++) {
        for (const k of cells) store.update(k, good(neighbours([c2, c4])(k, s) as number, T0 + s * 1000));
        last = evaluator.evaluate(store, T0 + s * 1000);
      }
      return last!.evidence[0];
    })();
    expect(evidence).toMatchObject({ point: c3, readings: 40 });
    expect(evidence?.["detail"]).toMatch(/^no change of 0.1 in 40 s \(40 readings\) while 2 of its 2 peers moved/);
  });

  it("peers follow the key order with numbers as numbers (c9 next to c10), within each group", () => {
    const keys = ["m1/c10/t", "m1/c9/t", "m1/c11/t", "m2/c1/t", "m2/c2/t"];
    expect(peersOf({ points: keys, groupByTrim: 2, peers: "adjacent" })).toEqual([[1, 2], [0], [0], [4], [3]]);
    expect(peersOf({ points: keys, groupByTrim: 2, peers: "group" })).toEqual([[1, 2], [0, 2], [1, 0], [4], [3]]);
  });

  it("flat_s running out with no new reading raises the trouble at the next tick", () => {
    const config = siteConfig({ rules: [stuckRule({ id: "stuck", points: cells })], zones: [zone("z1")], devices: [device("cab1", cells.map((k) => k.slice(5)))] });
    const store = new PointStore();
    for (const k of cells) store.declare({ key: k, deviceId: "cab1", pointId: k.slice(5), unit: "" }, 600_000);
    const watch = buildRoomWatch(config, store, T0);
    for (const k of cells) store.update(k, good(STILL, T0));
    watch.step(T0);
    // Both neighbours move once at 30 s; then nothing is written at all, only ticks.
    for (const k of [c2, c4]) store.update(k, good(STILL + 0.1, T0 + 30_000));
    expect(watch.step(T0 + 30_000, true)).toEqual([]);
    expect(watch.step(T0 + 60_000)).toEqual([]);
    const events = watch.step(T0 + 61_000);
    expect(events).toContainEqual(expect.objectContaining({ type: "alarm", alarm: expect.objectContaining({ id: "stuck", class: "trouble", active: true }) }));
    expect(events).toContainEqual(expect.objectContaining({ type: "zone_fault", fault: true }));
    expect(events.some((e) => e.type === "zone_stage")).toBe(false);
    // The neighbours' move leaves the window at 90 s: the trouble clears by time alone too.
    expect(watch.step(T0 + 91_000)).toContainEqual(expect.objectContaining({ type: "alarm", alarm: expect.objectContaining({ id: "stuck", active: false }) }));
  });
});
