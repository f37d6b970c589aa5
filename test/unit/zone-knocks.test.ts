import { describe, expect, it } from "vitest";
import { zoneKnocks } from "../../src/config/knocks.js";
import type { DegradedKnockPolicy, RaisedStage, Zone } from "../../src/config/types.js";
import type { RuleResult } from "../../src/rules/result.js";
import { bad, good, pointKey } from "../../src/points/point.js";
import { buildRoomWatch } from "../../src/runtime/core.js";
import { initialZone, stepZone, targetStage } from "../../src/zones/stage.js";
import { deviationRule, exampleSite, offgasRule, rateOfRiseRule, stuckRule, T0, thresholdRule, zone } from "./fixtures-rules.js";

// A zone as the loader builds it: off-gas (two rules, one knock), cell temperature (two rules, one
// knock, guarded by a stuck rule), a rate-of-rise that cannot reach alarm (no knock).
const rules = [
  offgasRule({ id: "og", points: ["og/ppm"], knock: "off-gas" }),
  thresholdRule({ id: "lfl", points: ["og/lfl"], levels: [{ name: "high", value: 25, stage: "evacuate" }], knock: "off-gas" }),
  deviationRule({ id: "dev", points: ["cab/m1/c1/t", "cab/m1/c2/t", "cab/m1/c3/t"], stage: "alarm", knock: "cell-temperature" }),
  thresholdRule({ id: "hot", points: ["cab/m1/c1/t", "cab/m1/c2/t", "cab/m1/c3/t"], levels: [{ name: "high_high", value: 90, stage: "alarm" }], knock: "cell-temperature" }),
  rateOfRiseRule({ id: "ror", points: ["cab/m1/c1/t"] }),
  stuckRule({ id: "stuck", points: ["cab/m1/c1/t", "cab/m1/c2/t", "cab/m1/c3/t"] }),
];
const zoneWith = (policy?: DegradedKnockPolicy): Zone => zone("z1", { knocks: zoneKnocks("z1", rules), ...(policy === undefined ? {} : { degradedKnock: policy }) });

const at = (rule: string, stage: RaisedStage): RuleResult => ({ rule, zone: "z1", kind: "threshold", active: true, stage, evidence: [{ rule, point: `${rule}/p`, value: 1, quality: "good" }], faults: [] });
const quiet = (rule: string): RuleResult => ({ rule, zone: "z1", kind: "threshold", active: false, evidence: [], faults: [] });
const blind = (rule: string): RuleResult => ({ rule, zone: "z1", kind: "threshold", active: false, evidence: [], faults: [{ rule, point: "cab/m1/c1/t", quality: "bad", reason: "sentinel" }] });
const stuck: RuleResult = {
  rule: "stuck",
  zone: "z1",
  kind: "stuck",
  active: true,
  evidence: [{ rule: "stuck", point: "cab/m1/c2/t", value: 24, quality: "good", reason: "stuck", detail: "no change of 0.1 in 120 s while 2 of its 2 peers moved" }],
  faults: [],
};

describe("knocks", () => {
  it("are the rules that can raise alarm or above, grouped by knock name, with the plausibility rules that read their points", () => {
    expect(zoneKnocks("z1", rules)).toEqual([
      { name: "off-gas", rules: ["og", "lfl"], guardedBy: [] },
      { name: "cell-temperature", rules: ["dev", "hot"], guardedBy: ["stuck"] },
    ]);
    // Without a knock name a rule is a knock of its own.
    expect(zoneKnocks("z1", [thresholdRule({ id: "a", points: ["x"], levels: [{ name: "high", value: 1, stage: "alarm" }] })])).toEqual([{ name: "a", rules: ["a"], guardedBy: [] }]);
  });

  it("the example site: off-gas, cell temperature (guarded by its stuck rules) and the panel in batt-a", async () => {
    const { config } = await exampleSite();
    const a = config.zones.get("batt-a")!;
    expect(a.degradedKnock).toBe("evacuate_on_single");
    expect(a.knocks).toEqual([
      { name: "off-gas", rules: ["offgas-a", "lfl-a"], guardedBy: [] },
      { name: "cell-temperature", rules: ["cell-dev-a", "cell-temp-a"], guardedBy: ["cell-stuck-a", "cell-stuck-slow-a"] },
      { name: "panel", rules: ["panel-pre-release", "panel-released"], guardedBy: [] },
    ]);
  });

  it.each<{ name: string; policy?: DegradedKnockPolicy; results: RuleResult[]; stage: string; degraded?: RegExp }>([
    { name: "off-gas at alarm and cell temperature at alarm: two knocks evacuate", results: [at("og", "alarm"), at("dev", "alarm"), quiet("hot"), quiet("stuck")], stage: "evacuate" },
    { name: "two rules of one knock at alarm are one knock: no evacuation", results: [quiet("og"), at("dev", "alarm"), at("hot", "alarm"), quiet("stuck")], stage: "alarm" },
    { name: "off-gas at alarm, nothing blind: waits for the second knock", results: [at("og", "alarm"), quiet("dev"), quiet("hot"), quiet("stuck")], stage: "alarm" },
    {
      name: "off-gas at alarm, cell temperature blind by a stuck sensor: evacuate on the single knock (the default)",
      results: [at("og", "alarm"), quiet("dev"), quiet("hot"), stuck],
      stage: "evacuate",
      degraded: /^knock cell-temperature in fault: stuck: cab\/m1\/c2\/t stuck \(no change of 0\.1 in 120 s/,
    },
    {
      name: "the same with evacuate_on_single said explicitly",
      policy: "evacuate_on_single",
      results: [at("og", "alarm"), quiet("dev"), quiet("hot"), stuck],
      stage: "evacuate",
      degraded: /^knock cell-temperature in fault: stuck: /,
    },
    { name: "the same with hold: stays at alarm", policy: "hold", results: [at("og", "alarm"), quiet("dev"), quiet("hot"), stuck], stage: "alarm" },
    {
      name: "off-gas at alarm, cell temperature with bad points: evacuate on the single knock",
      results: [at("og", "alarm"), blind("dev"), quiet("hot"), quiet("stuck")],
      stage: "evacuate",
      degraded: /^knock cell-temperature in fault: dev: cab\/m1\/c1\/t bad\/sentinel$/,
    },
    { name: "cell temperature at alarm, off-gas blind: evacuate on the single knock", results: [blind("og"), at("hot", "alarm"), quiet("dev"), quiet("stuck")], stage: "evacuate", degraded: /^knock off-gas in fault: og: / },
    { name: "the blind knock itself at alarm is not a second knock", results: [{ ...at("hot", "alarm"), faults: blind("hot").faults }, quiet("og"), quiet("dev"), quiet("stuck")], stage: "alarm" },
    { name: "a stuck sensor alone: no stage at all", results: [quiet("og"), quiet("dev"), quiet("hot"), stuck], stage: "normal" },
    { name: "a stuck sensor with off-gas at pre_alarm: pre_alarm, never more", results: [at("og", "pre_alarm"), quiet("dev"), quiet("hot"), stuck], stage: "pre_alarm" },
  ])("$name", ({ policy, results, stage, degraded }) => {
    const target = targetStage(zoneWith(policy), results);
    expect(target.stage).toBe(stage);
    const entries = target.evidence.filter((e) => e.rule === "z1:degraded-knock");
    if (degraded === undefined) expect(entries).toEqual([]);
    else {
      expect(entries).toHaveLength(1);
      expect(entries[0]!.reason).toMatch(degraded);
    }
  });

  it("a zone built without knocks counts rules at alarm, as before", () => {
    expect(targetStage(zone("z1"), [at("a", "alarm"), at("b", "alarm")]).stage).toBe("evacuate");
    expect(targetStage(zone("z1"), [at("a", "alarm"), blind("b")]).stage).toBe("alarm");
  });

  it("a stuck sensor is the zone's fault, with the rule and point named", () => {
    const { state, events } = stepZone(initialZone("z1", T0), zoneWith(), [quiet("og"), quiet("dev"), quiet("hot"), stuck], T0);
    expect(state.stage).toBe("normal");
    expect(state.fault).toBe(true);
    expect(state.faults).toEqual([stuck.evidence[0]]);
    expect(events.map((e) => e.type)).toEqual(["zone_fault"]);
  });

  it.each([
    ["answers only with exceptions", "device_exception", "Modbus exception 2 (illegal data address)"],
    ["answers only with sentinels", "sentinel", "raw 0xFFFF is the no-measurement value"],
  ] as const)("a device that %s is trouble through its rules' faults and blinds its knock (no separate bad_quality kind needed)", async (_what, reason, detail) => {
    const { config, store } = await exampleSite();
    const watch = buildRoomWatch(config, store, T0);
    const keys = config.devices.flatMap((d) => d.points.map((p) => pointKey(d.id, p.pointId)));
    for (const k of keys) store.update(k, good(k.endsWith("tempC") ? 24 : 0, T0));
    watch.step(T0);
    const t = T0 + 1000;
    for (const k of keys) store.update(k, k.startsWith("offgas-a/") ? bad(reason, t, detail) : good(k.endsWith("tempC") ? 24 : 0, t));
    const events = watch.step(t, true);
    const alarms = events.flatMap((e) => (e.type === "alarm" && e.alarm.active ? [[e.alarm.id, e.alarm.class]] : []));
    expect(alarms).toEqual([
      ["offgas-a:fault", "trouble"],
      ["lfl-a:fault", "trouble"],
    ]);
    expect(events.some((e) => e.type === "zone_stage")).toBe(false);
    expect(watch.snapshot().zones.find((z) => z.zone === "batt-a")).toMatchObject({ stage: "normal", fault: true });
    expect(JSON.stringify(watch.snapshot().zones.find((z) => z.zone === "batt-a")!.faults)).toContain(reason);
    // The off-gas knock is now blind: a cell-temperature alarm alone evacuates, saying why.
    const hot = "cab2/s1/m3/c7/tempC";
    for (let s = 2; s <= 10; s++) {
      for (const k of keys) store.update(k, k.startsWith("offgas-a/") ? bad(reason, T0 + s * 1000, detail) : good(k === hot ? 95 : k.endsWith("tempC") ? 24 : 0, T0 + s * 1000));
      watch.step(T0 + s * 1000, true);
    }
    const a = watch.snapshot().zones.find((z) => z.zone === "batt-a")!;
    expect(a.stage).toBe("evacuate");
    expect(a.evidence.find((e) => e.rule === "batt-a:degraded-knock")?.reason).toMatch(new RegExp(`^knock off-gas in fault: offgas-a: offgas-a/ppm bad/${reason}`));
  });
});
