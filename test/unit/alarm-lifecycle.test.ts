import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RaisedStage } from "../../src/config/types.js";
import { Annunciator } from "../../src/alarms/annunciator.js";
import { acknowledgeAlarm, priorityOf, stepAlarm, type AlarmInput, type AlarmRecord } from "../../src/alarms/lifecycle.js";
import type { RuleResult } from "../../src/rules/result.js";
import { commLossRule, T0, thresholdRule } from "./fixtures-rules.js";

function input(active: boolean, stage?: RaisedStage, cls: AlarmInput["class"] = "condition"): AlarmInput {
  return { id: "og", rule: "og", zone: "z1", class: cls, active, ...(stage === undefined ? {} : { stage }), message: "og", evidence: [] };
}

/** Drive one alarm through a script of "on:<stage>", "off", "ack"; returns the state names seen. */
function drive(script: string[]): { states: string[]; last: AlarmRecord | undefined } {
  let a: AlarmRecord | undefined;
  const states: string[] = [];
  script.forEach((step, i) => {
    const t = T0 + i * 1000;
    if (step === "ack") {
      if (a !== undefined) a = acknowledgeAlarm(a, t, "op").state;
    } else if (step === "off") a = stepAlarm(a, input(false), t).state;
    else a = stepAlarm(a, input(true, step.slice(3) as RaisedStage), t).state;
    states.push(a?.state ?? "normal");
  });
  return { states, last: a };
}

describe("alarm lifecycle (ISA-18.2)", () => {
  it.each([
    ["non-latching: clears before ack", ["on:alarm", "off", "ack"], ["unack", "rtn_unack", "normal"]],
    ["non-latching: ack, then clear", ["on:alarm", "ack", "off"], ["unack", "ack", "normal"]],
    ["returns while rtn_unack", ["on:pre_alarm", "off", "on:pre_alarm"], ["unack", "rtn_unack", "unack"]],
    ["latching: stays unack after it clears, until ack", ["on:evacuate", "off", "off", "ack"], ["unack", "unack", "unack", "normal"]],
    ["latching: acknowledged and then clear", ["on:evacuate", "ack", "off"], ["unack", "ack", "normal"]],
    ["escalation re-annunciates an acknowledged alarm", ["on:pre_alarm", "ack", "on:alarm"], ["unack", "ack", "unack"]],
  ])("%s", (_name, script, expected) => {
    expect(drive(script).states).toEqual(expected);
  });

  it.each([
    ["evacuate", "critical"],
    ["alarm", "high"],
    ["pre_alarm", "medium"],
    ["watch", "low"],
  ] as const)("a %s-stage condition alarm is %s priority", (stage, priority) => {
    expect(priorityOf("condition", stage)).toBe(priority);
  });

  it("trouble alarms are low priority", () => {
    expect(priorityOf("trouble", undefined)).toBe("low");
  });

  it("a latched critical alarm that clears before ack is still unack, marked latched and inactive", () => {
    const { last } = drive(["on:evacuate", "off"]);
    expect(last).toMatchObject({ state: "unack", active: false, latched: true, priority: "critical" });
  });

  it("acknowledging records who and when; acknowledging again changes nothing", () => {
    const first = stepAlarm(undefined, input(true, "alarm"), T0).state!;
    const acked = acknowledgeAlarm(first, T0 + 5000, "alice");
    expect(acked.events).toEqual([
      { type: "alarm", previous: "unack", reason: "acknowledged by alice", alarm: expect.objectContaining({ state: "ack", ackedBy: "alice", ackedAt: T0 + 5000, reason: "acknowledged by alice" }) },
    ]);
    expect(acknowledgeAlarm(acked.state, T0 + 6000, "bob").events).toEqual([]);
  });

  it("state is plain data that survives a JSON round trip", () => {
    const a = stepAlarm(undefined, input(true, "alarm"), T0).state!;
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it("an alarm never returns to normal while its condition is active", () => {
    const op = fc.oneof(fc.constant("ack"), fc.constant("off"), fc.constantFrom("on:watch", "on:pre_alarm", "on:alarm", "on:evacuate"));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (script) => {
        let a: AlarmRecord | undefined;
        let conditionActive = false;
        script.forEach((step, i) => {
          if (step === "ack") a = a === undefined ? a : acknowledgeAlarm(a, T0 + i, "op").state;
          else {
            conditionActive = step !== "off";
            a = stepAlarm(a, conditionActive ? input(true, step.slice(3) as RaisedStage) : input(false), T0 + i).state;
          }
          if (conditionActive) expect(a?.state).not.toBe("normal");
          if (a?.latched && !a.active && a.state !== "normal") expect(a.state).toBe("unack");
        });
      }),
    );
  });
});

describe("annunciator", () => {
  const rules = [thresholdRule({ id: "t", points: ["x/p"], levels: [{ name: "high", value: 1, stage: "alarm" }] }), commLossRule({ id: "comm", devices: ["x"] })];
  const res = (rule: string, kind: RuleResult["kind"], activeNow: boolean, faults = 0): RuleResult => ({
    rule,
    zone: "z1",
    kind,
    active: activeNow,
    ...(activeNow && kind !== "comm_loss" ? { stage: "alarm" as const } : {}),
    evidence: activeNow ? [{ rule, point: "x/p" }] : [],
    faults: Array.from({ length: faults }, () => ({ rule, point: "x/p", quality: "bad" as const, reason: "stale" })),
  });

  it("one condition alarm per stage rule, a trouble alarm for comm_loss and a :fault alarm for faults", () => {
    const a = new Annunciator(rules);
    const events = a.update([res("t", "threshold", true, 1), res("comm", "comm_loss", true)], T0);
    expect(events.map((e) => [e.alarm.id, e.alarm.class, e.alarm.priority, e.alarm.state])).toEqual([
      ["t", "condition", "high", "unack"],
      ["t:fault", "trouble", "low", "unack"],
      ["comm", "trouble", "low", "unack"],
    ]);
    expect(a.update([res("t", "threshold", true, 1), res("comm", "comm_loss", true)], T0 + 1000)).toEqual([]);
  });

  it("standing alarms are those not normal; an unknown id is refused", () => {
    const a = new Annunciator(rules);
    a.update([res("t", "threshold", true)], T0);
    a.update([res("t", "threshold", false)], T0 + 1000);
    expect(a.standing().map((x) => [x.id, x.state])).toEqual([["t", "rtn_unack"]]);
    expect(a.acknowledge({ alarm: "nope" }, "op", T0)).toEqual({ ok: false, reason: 'unknown alarm "nope"' });
    a.acknowledge({ alarm: "t" }, "op", T0 + 2000);
    expect(a.standing()).toEqual([]);
  });
});
