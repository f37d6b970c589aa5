// Properties of the annunciator over random sequences of rule results, operator commands and time:
// every state is a defined one, a latched alarm never disappears unacknowledged, shelves expire by
// their until, a refused command changes nothing, and export -> restore continues identically.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Annunciator } from "../../src/alarms/annunciator.js";
import type { CommandResult } from "../../src/alarms/commands.js";
import type { AlarmRecord } from "../../src/alarms/lifecycle.js";
import type { RaisedStage } from "../../src/config/types.js";
import type { AlarmChange } from "../../src/events.js";
import { annunciator, MIN, res, T0 } from "./alarm-helpers.js";

type Op =
  | { kind: "cond"; rule: string; stage: RaisedStage | "off"; faults: number }
  | { kind: "ack"; target: { alarm: string } | { zone: string } | { all: true } }
  | { kind: "shelve"; alarm: string; durationMs: number }
  | { kind: "unshelve"; alarm: string }
  | { kind: "oos"; target: { alarm: string } | { device: string } }
  | { kind: "rts"; target: { alarm: string } | { device: string } }
  | { kind: "maint"; zone: string; on: boolean; forMs: number | undefined }
  | { kind: "tick" };

const alarmIds = ["og", "og:fault", "ev", "ev:fault", "comm", "comm:fault", "t2", "t2:fault", "hot", "alarm-flood", "nope"];
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("cond" as const), rule: fc.constantFrom("og", "ev", "comm", "t2", "hot"), stage: fc.constantFrom<RaisedStage | "off">("off", "off", "watch", "pre_alarm", "alarm", "evacuate"), faults: fc.constantFrom(0, 0, 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("ack" as const), target: fc.oneof(fc.constantFrom(...alarmIds).map((alarm) => ({ alarm })), fc.constantFrom("z1", "z2", "z9").map((zone) => ({ zone })), fc.constant({ all: true as const })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("shelve" as const), alarm: fc.constantFrom(...alarmIds), durationMs: fc.constantFrom(-1, 0, 1000, 30_000, 30 * MIN, 9 * 60 * MIN) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unshelve" as const), alarm: fc.constantFrom(...alarmIds) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("oos" as const), target: fc.oneof(fc.constantFrom(...alarmIds).map((alarm) => ({ alarm })), fc.constantFrom("det1", "cab1", "cab2", "cab9").map((device) => ({ device }))) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rts" as const), target: fc.oneof(fc.constantFrom(...alarmIds).map((alarm) => ({ alarm })), fc.constantFrom("det1", "cab1", "cab2", "cab9").map((device) => ({ device }))) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("maint" as const), zone: fc.constantFrom("z1", "z2", "z9"), on: fc.boolean(), forMs: fc.constantFrom(undefined, -5, 20_000, 10 * MIN) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("tick" as const) }) },
);
const step = fc.record({ dtMs: fc.constantFrom(0, 1000, 5000, 30_000, 5 * MIN, 40 * MIN), op });
const script = fc.array(step, { maxLength: 60 });

/** Apply one operation; rule results and ticks always succeed. */
function apply(a: Annunciator, o: Op, now: number): CommandResult {
  switch (o.kind) {
    case "cond":
      return { ok: true, events: a.update([res(o.rule, o.rule === "comm" && o.stage !== "off" ? "alarm" : o.stage, o.faults)], now) };
    case "ack":
      return a.acknowledge(o.target, "op", now);
    case "shelve":
      return a.shelve(o.alarm, o.durationMs, "test", "op", now);
    case "unshelve":
      return a.unshelve(o.alarm, "op", now);
    case "oos":
      return a.outOfService(o.target, "test", "op", now);
    case "rts":
      return a.returnToService(o.target, "op", now);
    case "maint":
      return a.maintenance(o.zone, o.on, o.forMs === undefined ? undefined : now + o.forMs, "test", "op", now);
    case "tick":
      return { ok: true, events: a.tick(now) };
  }
}

/** Low limits, so random scripts chatter and flood often. */
const TIGHT = { flood: { per10Min: 3, endBelowPer10Min: 2 }, chatter: { maxChanges: 2, windowMs: 10 * MIN } };

const STATES = new Set(["normal", "unack", "ack", "rtn_unack", "shelved", "suppressed", "out_of_service"]);

/** What every record must satisfy after every operation at `now`. */
function checkRecord(r: AlarmRecord, now: number): void {
  expect(STATES.has(r.state)).toBe(true);
  expect(typeof r.reason).toBe("string");
  if (r.state === "ack") expect(r.active).toBe(true); // acknowledged and clear is normal
  if (r.state === "rtn_unack") expect(r.active).toBe(false);
  if (r.state === "normal") expect(r.active).toBe(false);
  expect(r.shelved !== undefined).toBe(r.state === "shelved" || (r.shelved !== undefined && r.state === "out_of_service"));
  if (r.state === "shelved") expect(r.shelved!.until).toBeGreaterThan(now); // a shelf expires by its until
  if (r.state === "suppressed") expect(r.suppressed).toBeDefined();
  if (r.state === "out_of_service") expect(r.outOfService).toBeDefined();
  expect(r.latched).toBe(r.priority === "critical");
  if (r.latched) expect(["normal", "unack", "ack", "rtn_unack"]).toContain(r.state); // life safety is never hidden
  expect(JSON.parse(JSON.stringify(r))).toEqual(r);
}

describe("annunciator properties (fast-check)", () => {
  it("every state is defined, a latched alarm never leaves unacknowledged, shelves expire, refusals change nothing", () => {
    fc.assert(
      fc.property(script, fc.boolean(), (steps, tight) => {
        const a = annunciator(tight ? TIGHT : {});
        let now = T0;
        for (const { dtMs, op: o } of steps) {
          now += dtMs;
          const before = a.exportState();
          const beforeById = new Map(before.alarms.map((r) => [r.id, r]));
          const result = apply(a, o, now);
          if (!result.ok) {
            expect(result.reason).not.toBe("");
            expect(a.exportState()).toEqual(before);
            continue;
          }
          const after = a.all();
          expect(after.length).toBeGreaterThanOrEqual(before.alarms.length); // never removed
          for (const r of after) checkRecord(r, now);
          for (const [id, b] of beforeById) {
            if (!b.latched || b.state !== "unack") continue;
            const r = a.get(id)!;
            if (r.state === "normal") expect(r.ackedAt === now && r.reason === "acknowledged by op").toBe(true);
            else expect(["unack", "ack"]).toContain(r.state);
          }
          for (const e of result.events) expect(e.reason).toBe(e.alarm.reason);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("export -> restore (through JSON) gives the same future events and records", () => {
    fc.assert(
      fc.property(script, script, (prefix, suffix) => {
        const a = annunciator(TIGHT);
        let now = T0;
        for (const { dtMs, op: o } of prefix) apply(a, o, (now += dtMs));
        const b = annunciator(TIGHT);
        b.restore(JSON.parse(JSON.stringify(a.exportState())));
        const seenA: (AlarmChange[] | string)[] = [];
        const seenB: (AlarmChange[] | string)[] = [];
        for (const { dtMs, op: o } of suffix) {
          now += dtMs;
          const ra = apply(a, o, now);
          const rb = apply(b, o, now);
          seenA.push(ra.ok ? ra.events : ra.reason);
          seenB.push(rb.ok ? rb.events : rb.reason);
        }
        expect(JSON.stringify(seenB)).toBe(JSON.stringify(seenA));
        expect(b.all()).toEqual(a.all());
        expect(b.floodCount()).toBe(a.floodCount());
      }),
      { numRuns: 200 },
    );
  });

  it("a shelf always ends by its until, whatever else happens", () => {
    fc.assert(
      fc.property(script, fc.constantFrom("og", "t2", "comm", "og:fault"), fc.integer({ min: 1, max: 8 * 60 * MIN }), (steps, alarm, durationMs) => {
        const a = annunciator();
        let now = T0;
        for (const { dtMs, op: o } of steps.slice(0, 10)) apply(a, o, (now += dtMs));
        const shelved = a.shelve(alarm, durationMs, "test", "op", now);
        if (!shelved.ok) return; // e.g. the alarm escalated to critical
        const until = now + durationMs;
        for (const { dtMs, op: o } of steps.slice(10)) {
          now = Math.min(now + dtMs, until - 1);
          if (o.kind !== "shelve" && o.kind !== "unshelve") apply(a, o, now);
        }
        a.tick(until);
        expect(a.get(alarm)?.state).not.toBe("shelved");
        expect(a.get(alarm)?.shelved).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });
});
