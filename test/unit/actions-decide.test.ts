import { describe, expect, it } from "vitest";
import { decide, FRESH, type ActionMemory } from "../../src/actions/decide.js";
import { judgeInterlock } from "../../src/actions/interlock.js";
import { recall } from "../../src/actions/memory.js";
import { checkRate } from "../../src/actions/rate-limit.js";
import { zoneKnocks } from "../../src/config/knocks.js";
import type { ProtectiveAction, RaisedStage, Stage, Zone } from "../../src/config/types.js";
import type { RuleResult } from "../../src/rules/result.js";
import { deviationRule, offgasRule, thresholdRule, zone } from "./fixtures-rules.js";

const rules = [
  offgasRule({ id: "og", points: ["og/ppm"], knock: "off-gas" }),
  thresholdRule({ id: "lfl", points: ["og/lfl"], levels: [{ name: "high", value: 25, stage: "evacuate" }], knock: "off-gas" }),
  deviationRule({ id: "dev", points: ["cab/m1/c1/t", "cab/m1/c2/t", "cab/m1/c3/t"], stage: "alarm", knock: "cell-temperature" }),
];
const z1: Zone = zone("z1", { knocks: zoneKnocks("z1", rules) });
const at = (rule: string, stage: RaisedStage): RuleResult => ({ rule, zone: "z1", kind: "threshold", active: true, stage, evidence: [], faults: [] });
const blind = (rule: string): RuleResult => ({ rule, zone: "z1", kind: "threshold", active: false, evidence: [], faults: [{ rule, point: "cab/m1/c1/t", quality: "bad", reason: "sentinel" }] });
const twoKnocks = [at("og", "alarm"), at("dev", "alarm")];
// One sensor: the off-gas detector's two rules are one knock, even when one of them raises evacuate.
const oneSensor = [at("og", "alarm"), at("lfl", "evacuate")];

const action = (over: Partial<ProtectiveAction> = {}): ProtectiveAction => ({
  id: "open-s1",
  description: "open string 1",
  kind: "open_string_contactor",
  device: "cab1",
  write: { point: "s1/setCon", value: 2 },
  expect: [{ point: "s1/contactorClosed", value: 0, tolerance: 0 }],
  on: { zone: "z1", stage: "evacuate" },
  enabled: true,
  dryRun: false,
  interlock: { zoneStage: "evacuate", minKnocks: 2 },
  verify: { retries: 3, intervalMs: 1000, timeoutMs: 5000 },
  rateLimit: { max: 1, perMs: 300_000 },
  ...over,
});
const T = 1_000_000;
const run = (a: ProtectiveAction, mem: ActionMemory, stage: Stage | undefined, results: RuleResult[], now = T) => decide(a, mem, z1, stage, results, now);

describe("interlock", () => {
  it("holds with two independent knocks at alarm and the zone at evacuate", () => {
    expect(judgeInterlock(action(), z1, "evacuate", twoKnocks)).toEqual({ holds: true, knocks: ["off-gas", "cell-temperature"] });
  });
  it("never holds on one sensor: two rules of one knock are one knock", () => {
    const v = judgeInterlock(action(), z1, "evacuate", oneSensor);
    expect(v.holds).toBe(false);
    expect(v).toMatchObject({ knocks: ["off-gas"], reason: expect.stringContaining("1 knock(s) at alarm (off-gas), the interlock needs 2") });
  });
  it("a blind knock does not stand in for a second one (it may evacuate the zone, it may not write)", () => {
    expect(judgeInterlock(action(), z1, "evacuate", [at("og", "alarm"), blind("dev")]).holds).toBe(false);
  });
  it("does not hold below its stage", () => {
    expect(judgeInterlock(action(), z1, "alarm", twoKnocks)).toMatchObject({ holds: false, reason: "zone z1 is at alarm, the interlock needs evacuate" });
  });
});

describe("rate limit", () => {
  it("allows max attempts per window, and says when the next one is allowed", () => {
    const limit = { max: 2, perMs: 60_000 };
    expect(checkRate([T - 70_000, T - 10_000], limit, T)).toEqual({ allowed: true, recent: [T - 10_000] });
    expect(checkRate([T - 30_000, T - 10_000], limit, T)).toEqual({ allowed: false, recent: [T - 30_000, T - 10_000], nextAt: T + 30_000 });
  });
});

describe("deciding a protective action", () => {
  it("does nothing below the bound stage", () => {
    expect(run(action(), FRESH, "alarm", twoKnocks).decision).toEqual({ kind: "idle" });
    expect(run(action(), FRESH, undefined, twoKnocks).decision).toEqual({ kind: "idle" });
  });
  it("writes once per episode when the interlock holds, and is re-armed when the zone falls below", () => {
    const first = run(action(), FRESH, "evacuate", twoKnocks);
    expect(first.decision).toEqual({ kind: "write", knocks: ["off-gas", "cell-temperature"] });
    expect(run(action(), first.memory, "evacuate", twoKnocks, T + 1000).decision).toEqual({ kind: "idle" });
    const rearmed = run(action(), first.memory, "watch", [], T + 2000);
    expect(rearmed.decision).toEqual({ kind: "rearm" });
    expect(rearmed.memory.fired).toBe(false);
  });
  it("a higher stage than the bound one counts (escalation may jump)", () => {
    expect(run(action({ on: { zone: "z1", stage: "alarm" } }), FRESH, "evacuate", twoKnocks).decision.kind).toBe("write");
  });
  it("is refused by its interlock on one sensor, reported once per reason, and writes once a second knock sounds", () => {
    const r1 = run(action(), FRESH, "evacuate", oneSensor);
    expect(r1.decision).toMatchObject({ kind: "refused", code: "interlock" });
    expect(run(action(), r1.memory, "evacuate", oneSensor, T + 1000).decision).toEqual({ kind: "idle" });
    expect(run(action(), r1.memory, "evacuate", twoKnocks, T + 2000).decision.kind).toBe("write");
  });
  it("dry run: decides a dry run, never a write", () => {
    expect(run(action({ dryRun: true }), FRESH, "evacuate", twoKnocks).decision).toEqual({ kind: "dry_run", knocks: ["off-gas", "cell-temperature"] });
  });
  it("disabled: inert, no decision at all", () => {
    expect(run(action({ enabled: false }), FRESH, "evacuate", twoKnocks)).toEqual({ decision: { kind: "idle" }, memory: FRESH });
  });
  it("rate limit: a second episode within the window is refused", () => {
    const first = run(action(), FRESH, "evacuate", twoKnocks);
    const rearmed = run(action(), first.memory, "watch", [], T + 10_000);
    const again = run(action(), rearmed.memory, "evacuate", twoKnocks, T + 20_000);
    expect(again.decision).toMatchObject({ kind: "refused", code: "rate_limit" });
    expect(run(action(), again.memory, "evacuate", twoKnocks, T + 300_001).decision.kind).toBe("write");
  });
});

describe("memory after a restart", () => {
  it("an action performed in this episode is not repeated; a write without an outcome is verified, not rewritten", () => {
    const decided = recall([{ at: T, action: "a", outcome: "decided", detail: "" }]);
    expect(decided).toEqual({ memory: { fired: true, attempts: [T] }, unverified: true });
    expect(run(action(), decided.memory, "evacuate", twoKnocks, T + 5000).decision).toEqual({ kind: "idle" });
    const done = recall([{ at: T, action: "a", outcome: "decided", detail: "" }, { at: T + 1, action: "a", outcome: "written", detail: "" }, { at: T + 2, action: "a", outcome: "confirmed", detail: "" }]);
    expect(done.unverified).toBe(false);
    expect(done.memory.fired).toBe(true);
    const rearmed = recall([{ at: T, action: "a", outcome: "dry_run", detail: "" }, { at: T + 9, action: "a", outcome: "rearmed", detail: "" }]);
    expect(rearmed.memory).toMatchObject({ fired: false, attempts: [T] });
  });
});
