import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RaisedStage, Stage } from "../../src/config/types.js";
import type { ZoneStageChange } from "../../src/events.js";
import { stageRank, type RuleResult } from "../../src/rules/result.js";
import { clearZone, initialZone, stagesBetween, stepZone, targetStage, type ZoneSnapshot } from "../../src/zones/stage.js";
import { T0, zone } from "./fixtures-rules.js";

const Z = zone("z1", { clearHoldMs: 60_000, evacuateAfterAlarmRules: 2 });

function active(rule: string, stage: RaisedStage): RuleResult {
  return { rule, zone: "z1", kind: "threshold", active: true, stage, evidence: [{ rule, point: `${rule}/p`, value: 1, quality: "good" }], faults: [] };
}
function quiet(rule: string): RuleResult {
  return { rule, zone: "z1", kind: "threshold", active: false, evidence: [], faults: [] };
}
function faulty(rule: string): RuleResult {
  return { rule, zone: "z1", kind: "threshold", active: false, evidence: [], faults: [{ rule, point: `${rule}/p`, quality: "bad", reason: "stale" }] };
}

/** Run a scripted sequence of [time offset ms, results]; returns the final state and all events. */
function run(script: [number, RuleResult[]][], start: ZoneSnapshot = initialZone("z1", T0)) {
  let s = start;
  const events = [];
  for (const [dt, results] of script) {
    const out = stepZone(s, Z, results, T0 + dt);
    s = out.state;
    events.push(...out.events);
  }
  return { state: s, events };
}

function silentDevice(rule: string, points: number): RuleResult {
  const faults = Array.from({ length: points }, (_, i) => ({ rule, point: `cab1/c${i + 1}/tempC`, quality: "bad" as const, reason: "timeout" }));
  return { rule, zone: "z1", kind: "threshold", active: false, evidence: [], faults };
}

describe("zone stage machine", () => {
  it("names a few untrusted points per rule and counts the rest", () => {
    const { state, events } = run([[0, [silentDevice("cell-temp", 128)]]]);
    expect(state.faults).toEqual([
      { rule: "cell-temp", point: "cab1/c1/tempC", quality: "bad", reason: "timeout" },
      { rule: "cell-temp", point: "cab1/c2/tempC", quality: "bad", reason: "timeout" },
      { rule: "cell-temp", point: "cab1/c3/tempC", quality: "bad", reason: "timeout" },
      { rule: "cell-temp", reason: "more", more: 125 },
    ]);
    expect(events.map((e) => e.type)).toEqual(["zone_fault"]);
  });

  it("a second source of trouble is news even while the zone is already in fault", () => {
    const { events } = run([
      [0, [faulty("a"), quiet("b")]],
      [1_000, [faulty("a"), quiet("b")]],
      [2_000, [faulty("a"), faulty("b")]],
    ]);
    expect(events.map((e) => (e.type === "zone_fault" ? [e.fault, e.faults.map((f) => f.rule)] : e.type))).toEqual([
      [true, ["a"]],
      [true, ["a", "b"]],
    ]);
  });

  it("escalates immediately and lists the stages it jumps over", () => {
    const { state, events } = run([[0, [active("og", "alarm")]]]);
    expect(state.stage).toBe("alarm");
    expect(events).toEqual([
      expect.objectContaining({ type: "zone_stage", previous: "normal", stage: "alarm", skipped: ["watch", "pre_alarm"], since: T0 }),
    ]);
  });

  it("steps down only after the conditions stay clear for clearHoldMs", () => {
    const { state, events } = run([
      [0, [active("og", "pre_alarm")]],
      [1_000, [quiet("og")]],
      [30_000, [active("og", "pre_alarm")]], // back before the hold ran out: the hold restarts
      [31_000, [quiet("og")]],
      [90_000, [quiet("og")]],
      [91_000, [quiet("og")]],
    ]);
    expect(state.stage).toBe("normal");
    expect(events.map((e) => (e.type === "zone_stage" ? [e.previous, e.stage, e.since - T0, e.skipped] : e.type))).toEqual([
      ["normal", "pre_alarm", 0, ["watch"]],
      ["pre_alarm", "normal", 91_000, ["watch"]],
    ]);
  });

  it("alarm latches: it holds after the conditions clear, until an operator clears it", () => {
    const { state } = run([
      [0, [active("og", "alarm")]],
      [1_000, [quiet("og")]],
      [3_600_000, [quiet("og")]],
    ]);
    expect(state.stage).toBe("alarm");
    expect(state.latched).toBe(true);
    const cleared = clearZone(state, Z, [quiet("og")], T0 + 3_700_000);
    expect(cleared.ok).toBe(true);
    if (cleared.ok) {
      expect(cleared.state.stage).toBe("normal");
      expect(cleared.events[0]).toMatchObject({ previous: "alarm", stage: "normal", skipped: ["pre_alarm", "watch"] });
    }
  });

  it("a clear is refused, with the reason, while a rule still holds alarm", () => {
    const { state } = run([[0, [active("og", "alarm")]]]);
    const refused = clearZone(state, Z, [active("og", "alarm")], T0 + 1000);
    expect(refused).toEqual({ ok: false, reason: "zone z1 conditions are not clear: alarm still raised by og" });
  });

  it("a clear drops to what the rules still ask for below alarm", () => {
    const { state } = run([[0, [active("og", "alarm")]]]);
    const cleared = clearZone(state, Z, [active("og", "pre_alarm")], T0 + 1000);
    expect(cleared.ok && cleared.state.stage).toBe("pre_alarm");
  });

  it("double knock: two distinct rules at alarm evacuate the zone", () => {
    expect(targetStage(Z, [active("og", "alarm")]).stage).toBe("alarm");
    expect(targetStage(Z, [active("og", "alarm"), active("dev", "alarm")]).stage).toBe("evacuate");
    expect(targetStage(Z, [active("og", "alarm"), active("dev", "pre_alarm")]).stage).toBe("alarm");
    expect(targetStage(zone("z1", { evacuateAfterAlarmRules: 3 }), [active("a", "alarm"), active("b", "alarm")]).stage).toBe("alarm");
    expect(targetStage(Z, [active("lfl", "evacuate")]).stage).toBe("evacuate");
  });

  it("a fault change without a stage change is a zone_fault event", () => {
    const { events } = run([
      [0, [faulty("og")]],
      [1_000, [faulty("og")]],
      [2_000, [quiet("og")]],
    ]);
    expect(events.map((e) => [e.type, e.fault, e.since - T0])).toEqual([
      ["zone_fault", true, 0],
      ["zone_fault", false, 2_000],
    ]);
  });

  it("an active comm_loss rule makes the zone faulty without raising a stage", () => {
    const comm: RuleResult = { rule: "comm", zone: "z1", kind: "comm_loss", active: true, evidence: [{ rule: "comm", point: "cab1", reason: "comm_fail" }], faults: [] };
    const { state } = run([[0, [comm]]]);
    expect(state.stage).toBe("normal");
    expect(state.fault).toBe(true);
    expect(state.faults).toEqual(comm.evidence);
  });

  it("a stage change carries the evidence of the rules that drive it, highest stage first", () => {
    const { events } = run([[0, [active("ror", "watch"), active("og", "alarm")]]]);
    expect((events[0] as ZoneStageChange).evidence.map((e) => e.rule)).toEqual(["og", "ror"]);
  });
});

const raised: RaisedStage[] = ["watch", "pre_alarm", "alarm", "evacuate"];
const ruleIds = ["a", "b", "c"];
const tick = fc.record({
  dtMs: fc.integer({ min: 0, max: 90_000 }),
  stages: fc.array(fc.option(fc.constantFrom(...raised), { nil: undefined }), { minLength: 3, maxLength: 3 }),
  fault: fc.boolean(),
  clear: fc.boolean(),
});

function resultsOf(stages: (RaisedStage | undefined)[], fault: boolean): RuleResult[] {
  const rs = stages.map((s, i) => (s === undefined ? quiet(ruleIds[i]!) : active(ruleIds[i]!, s)));
  return fault ? [...rs, faulty("f")] : rs;
}

describe("zone stage machine properties", () => {
  it("every change lists previous and skipped consistently", () => {
    fc.assert(
      fc.property(fc.array(tick, { maxLength: 60 }), (ticks) => {
        let s = initialZone("z1", T0);
        let t = T0;
        for (const k of ticks) {
          t += k.dtMs;
          const results = resultsOf(k.stages, k.fault);
          const out = k.clear && s.latched ? clearZone(s, Z, results, t) : { ok: true as const, ...stepZone(s, Z, results, t) };
          if (!out.ok) continue;
          for (const e of out.events) {
            if (e.type !== "zone_stage") continue;
            expect(e.previous).toBe(s.stage);
            expect(e.stage).not.toBe(e.previous);
            expect(e.skipped).toEqual(stagesBetween(e.previous, e.stage));
            expect([e.previous, ...e.skipped, e.stage]).toHaveLength(Math.abs(stageRank(e.stage) - stageRank(e.previous)) + 1);
          }
          s = out.state;
        }
      }),
    );
  });

  it("stage never decreases while a latching stage is held, and escalation is never delayed", () => {
    fc.assert(
      fc.property(fc.array(tick, { maxLength: 60 }), (ticks) => {
        let s = initialZone("z1", T0);
        let t = T0;
        for (const k of ticks) {
          t += k.dtMs;
          const results = resultsOf(k.stages, k.fault);
          const { state } = stepZone(s, Z, results, t);
          if (s.latched) expect(stageRank(state.stage)).toBeGreaterThanOrEqual(stageRank(s.stage));
          expect(stageRank(state.stage)).toBeGreaterThanOrEqual(stageRank(targetStage(Z, results).stage));
          expect(state.latched).toBe(state.stage === "alarm" || state.stage === "evacuate");
          expect(state.fault).toBe(k.fault);
          s = state;
        }
      }),
    );
  });

  it("a clear succeeds exactly when no rule holds alarm or above", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.constantFrom(...raised), { nil: undefined }), { minLength: 3, maxLength: 3 }), (stages) => {
        const latched = stepZone(initialZone("z1", T0), Z, [active("x", "evacuate")], T0).state;
        const results = resultsOf(stages, false);
        const out = clearZone(latched, Z, results, T0 + 1);
        const target: Stage = targetStage(Z, results).stage;
        expect(out.ok).toBe(stageRank(target) < stageRank("alarm"));
        if (out.ok) expect(out.state.stage).toBe(target);
      }),
    );
  });
});
