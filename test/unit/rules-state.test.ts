import { describe, expect, it } from "vitest";
import { alarmInputs } from "../../src/alarms/lifecycle.js";
import { bad, good } from "../../src/points/point.js";
import { stateEvaluator } from "../../src/rules/state.js";
import { feed, stateRule, storeWith, STALE_MS, T0 } from "./fixtures-rules.js";

const PRE = "panel-1/preRelease";
const CD = "panel-1/countdownS";
const STATE = "cab1/state";
const EVT = "cab1/evt1";

describe("state rule", () => {
  it.each([
    // SunSpec 802 State: 3 connected, 99 fault (docs/sources.md#sunspec-802)
    [3, false, undefined],
    [4, false, undefined],
    [99, true, "fault"],
  ])("an enum point reading %d: active %s, state %s", (value, active, state) => {
    const store = storeWith([STATE]);
    const rule = stateEvaluator(stateRule({ id: "bms", points: [STATE], states: [{ name: "fault", value: 99, stage: "alarm" }] }));
    feed(store, { [STATE]: value }, T0);
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(active);
    expect(r.stage).toBe(active ? "alarm" : undefined);
    expect(r.evidence[0]?.["state"]).toBe(state);
    expect(r.faults).toEqual([]);
  });

  it("a bitfield point is in every state whose bit is set; the highest stage wins and all are named", () => {
    const store = storeWith([EVT]);
    const rule = stateEvaluator(
      stateRule({
        id: "evt",
        points: [EVT],
        states: [
          { name: "over_temp_alarm", bit: 1, stage: "pre_alarm" },
          { name: "contactor_error", bit: 20, stage: "watch" },
          { name: "high_bit", bit: 31, stage: "alarm" },
        ],
      }),
    );
    feed(store, { [EVT]: (1 << 20) | (1 << 2) }, T0); // bit 2 (over-temp warning) matters to no state
    expect(rule.evaluate(store, T0)).toMatchObject({ active: true, stage: "watch", evidence: [{ state: "contactor_error" }] });
    feed(store, { [EVT]: (1 << 20) | (1 << 1) }, T0 + 1000);
    const both = rule.evaluate(store, T0 + 1000);
    expect(both).toMatchObject({ stage: "pre_alarm", evidence: [{ state: "over_temp_alarm", states: "over_temp_alarm,contactor_error" }] });
    // bit 31 of a bitfield32 (above 2^31): read as an unsigned number, not a negative int32
    feed(store, { [EVT]: 2 ** 31 }, T0 + 2000);
    expect(rule.evaluate(store, T0 + 2000)).toMatchObject({ stage: "alarm", evidence: [{ state: "high_bit" }] });
    feed(store, { [EVT]: 0 }, T0 + 3000);
    expect(rule.evaluate(store, T0 + 3000)).toMatchObject({ active: false, evidence: [], faults: [] });
  });

  it("a bad, stale or missing point is a fault with its reason, never 'not in state'", () => {
    const store = storeWith([PRE, "panel-1/released"]);
    const rule = stateEvaluator(stateRule({ id: "p", points: [PRE, "panel-1/released"], states: [{ name: "on", value: 1, stage: "evacuate" }] }));
    // released never written: missing
    store.update(PRE, bad("sentinel", T0, "raw 0xFFFF"));
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(false);
    expect(r.faults.map((f) => [f.point, f.quality, f.reason])).toEqual([
      [PRE, "bad", "sentinel"],
      ["panel-1/released", "bad", expect.any(String)],
    ]);
    // a good reading, then silence: stale after STALE_MS, on time alone
    feed(store, { [PRE]: 1, "panel-1/released": 0 }, T0 + 1000);
    expect(rule.evaluate(store, T0 + 1000)).toMatchObject({ active: true, stage: "evacuate", faults: [] });
    const later = rule.evaluate(store, T0 + 1000 + STALE_MS + 1);
    expect(later.active).toBe(false);
    expect(later.faults.map((f) => f.reason)).toEqual(["stale", "stale"]);
  });

  it("a reading that is no state (not an integer) is a fault, not a pass", () => {
    const store = storeWith([STATE]);
    const rule = stateEvaluator(stateRule({ id: "s", points: [STATE], states: [{ name: "fault", value: 99, stage: "alarm" }] }));
    feed(store, { [STATE]: 98.6 }, T0);
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(false);
    expect(r.faults).toEqual([expect.objectContaining({ point: STATE, reason: "not_a_state", value: 98.6 })]);
  });

  it("on- and off-delays hold a state as for other rules (fake time)", () => {
    const store = storeWith([PRE]);
    const rule = stateEvaluator(stateRule({ id: "p", points: [PRE], states: [{ name: "on", value: 1, stage: "alarm" }], onDelayMs: 2000, offDelayMs: 1000 }));
    const seq: [number, number, boolean][] = [
      [0, 1, false],
      [1000, 1, false],
      [2000, 1, true],
      [2500, 0, true],
      [3500, 0, false],
    ];
    for (const [dt, v, expected] of seq) {
      feed(store, { [PRE]: v }, T0 + dt);
      expect(rule.evaluate(store, T0 + dt).active, `at +${dt} ms reading ${v}`).toBe(expected);
    }
  });

  it("a countdown state carries the seconds left and a deadline from the reading's own time", () => {
    const store = storeWith([PRE, CD]);
    const rule = stateEvaluator(stateRule({ id: "p", points: [PRE], states: [{ name: "pre_release", value: 1, stage: "evacuate", countdownPoint: CD }] }));
    expect(rule.watchedPoints).toEqual([PRE, CD]);
    const readAt = T0 + 400;
    store.update(PRE, good(1, readAt));
    store.update(CD, good(30, readAt));
    // Judged later than it was read (a slow pass): the deadline still counts from the reading.
    const r = rule.evaluate(store, T0 + 900);
    expect(r).toMatchObject({ active: true, stage: "evacuate", evidence: [{ state: "pre_release", countdownS: 30, deadline: readAt + 30_000 }] });
  });

  it("a countdown point that cannot be read is a fault, and the state still raises its stage without a deadline", () => {
    const store = storeWith([PRE, CD]);
    const rule = stateEvaluator(stateRule({ id: "p", points: [PRE], states: [{ name: "pre_release", value: 1, stage: "evacuate", countdownPoint: CD }] }));
    store.update(PRE, good(1, T0));
    store.update(CD, bad("sentinel", T0, "raw 0xFFFF"));
    const r = rule.evaluate(store, T0);
    expect(r.stage).toBe("evacuate");
    expect(r.evidence[0]!["deadline"]).toBeUndefined();
    expect(r.faults).toEqual([expect.objectContaining({ point: CD, reason: "sentinel" })]);
  });

  it("trouble and supervisory state rules raise their alarm of that class and no stage", () => {
    const store = storeWith(["panel-1/agentLowPressure"]);
    const def = stateRule({ id: "low", points: ["panel-1/agentLowPressure"], class: "supervisory", priority: "high", states: [{ name: "agent_low_pressure", value: 1 }] });
    const rule = stateEvaluator(def);
    feed(store, { "panel-1/agentLowPressure": 1 }, T0);
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(true);
    expect(r.stage).toBeUndefined();
    const [main] = alarmInputs(def, r);
    expect(main).toMatchObject({ id: "low", class: "supervisory", active: true, priority: "high" });
    expect(main!.stage).toBeUndefined();
    // The same result object while nothing changes (incremental passes compare results cheaply).
    expect(rule.update!(store, T0 + 10, [])).toBe(r);
  });

  it("incremental update gives the same results as a full evaluation (random readings, countdown, delays, staleness)", () => {
    const points = ["p1/s", "p2/s", "p3/s", "p4/s"];
    const def = stateRule({
      id: "r",
      points,
      onDelayMs: 700,
      offDelayMs: 300,
      states: [
        { name: "one", value: 1, stage: "pre_alarm" },
        { name: "bit2", bit: 2, stage: "alarm", countdownPoint: "p1/cd" },
        { name: "fault", value: 99, stage: "evacuate" },
      ],
    });
    for (let seed = 1; seed <= 20; seed++) {
      let x = seed;
      const rand = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const a = storeWith([...points, "p1/cd"]);
      const b = storeWith([...points, "p1/cd"]);
      const inc = stateEvaluator(def);
      const full = stateEvaluator(def);
      let t = T0;
      inc.evaluate(a, t);
      full.evaluate(b, t);
      for (let step = 0; step < 200; step++) {
        t += Math.floor(rand() * 1500);
        const changed: number[] = [];
        const keys = [...points, "p1/cd"];
        keys.forEach((k, i) => {
          if (rand() < 0.5) return; // not written: may go stale
          const r = rand();
          const v = r < 0.1 ? bad("comm_fail", t) : good(r < 0.2 ? 2.5 : [0, 1, 4, 5, 99, 30, 12][Math.floor(rand() * 7)]!, t);
          a.update(k, v);
          b.update(k, v);
          changed.push(i);
        });
        // Points that went stale since are reported as changed by the store's stale scan, as the engine does.
        a.visitStale(t, (k) => {
          const i = keys.indexOf(k);
          if (i >= 0 && !changed.includes(i)) changed.push(i);
        });
        b.visitStale(t, () => undefined);
        const ri = inc.update!(a, t, changed);
        const rf = full.evaluate(b, t);
        expect(JSON.stringify(ri), `seed ${seed} step ${step}`).toBe(JSON.stringify(rf));
      }
    }
  });
});
