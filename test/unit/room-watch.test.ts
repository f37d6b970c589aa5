import { describe, expect, it } from "vitest";
import type { SiteConfig } from "../../src/config/types.js";
import type { CoreEvent, EvacuationTrigger } from "../../src/events.js";
import { bad, good } from "../../src/points/point.js";
import type { PointStore } from "../../src/points/store.js";
import { buildRoomWatch } from "../../src/runtime/core.js";
import type { RoomWatch } from "../../src/zones/room-watch.js";
import { exampleSite, T0 } from "./fixtures-rules.js";

const HOT_CELL = "cab1/s1/m3/c7/tempC";

/** The example site at rest: cells at 27 °C, no gas, a cool room, a quiet panel. */
function restValue(key: string): number {
  if (key.endsWith("/tempC")) return key.startsWith("room-") ? 22 : 27;
  return 0;
}

interface Scenario {
  config: SiteConfig;
  store: PointStore;
  watch: RoomWatch;
  /** Feed every point for `seconds` seconds (1 s polls) with rest values overridden by `values`; collect events. */
  run(seconds: number, values?: Record<string, number | "silent" | "stuck">): CoreEvent[];
  now(): number;
}

async function scenario(): Promise<Scenario> {
  const { config, store } = await exampleSite();
  const watch = buildRoomWatch(config, store);
  const keys = [...store.keys()];
  let t = T0;
  return {
    config,
    store,
    watch,
    now: () => t,
    run(seconds, values = {}) {
      const events: CoreEvent[] = [];
      for (let s = 0; s < seconds; s++) {
        t += 1000;
        for (const k of keys) {
          const device = k.split("/")[0]!;
          const o = values[k] ?? values[device];
          if (o === "silent") continue;
          if (o === "stuck") store.update(k, bad("stuck", t, "value unchanged for 600 s"));
          else store.update(k, good(o ?? restValue(k), t));
        }
        events.push(...watch.step(t));
      }
      return events;
    },
  };
}

const triggers = (events: CoreEvent[]): EvacuationTrigger[] => events.filter((e): e is EvacuationTrigger => e.type === "evacuate");
const stageOf = (w: RoomWatch, zone: string) => w.snapshot().zones.find((z) => z.zone === zone)!;

describe("RoomWatch", () => {
  it("a quiet room stays normal with no events after the start", async () => {
    const sc = await scenario();
    sc.run(5);
    expect(sc.run(60)).toEqual([]);
    expect(sc.watch.snapshot().zones.map((z) => [z.zone, z.stage, z.fault])).toEqual([
      ["batt-a", "normal", false],
      ["batt-b", "normal", false],
    ]);
  });

  it("double knock: off-gas and a cell's deviation at alarm evacuate the zone, with one trigger", async () => {
    const sc = await scenario();
    sc.run(5);
    const events = sc.run(10, { "offgas-a/ppm": 60, [HOT_CELL]: 50 });
    const types = events.map((e) => e.type);
    // alarms first, then zone changes, then the trigger, within each step
    expect(types.lastIndexOf("evacuate")).toBe(types.length - 1);
    const [trigger, ...more] = triggers(events);
    expect(more).toEqual([]);
    expect(trigger).toMatchObject({
      id: "dc1:batt-a:0001",
      zone: "batt-a",
      incident: 1,
      racks: ["R12", "R13"],
      hosts: ["k8s-node-31", "k8s-node-32", "k8s-node-33", "k8s-node-34"],
    });
    expect(trigger!.reason).toMatch(/^offgas \+ cell temperature deviation/);
    expect(trigger!.ackBy - trigger!.issuedAt).toBe(60_000);
    const toEvacuate = events.find((e) => e.type === "zone_stage" && e.stage === "evacuate");
    expect(toEvacuate).toMatchObject({ zone: "batt-a", previous: "alarm" });
    expect(stageOf(sc.watch, "batt-b").stage).toBe("normal");
  });

  it("one signal at alarm is not enough to evacuate", async () => {
    const sc = await scenario();
    sc.run(5);
    const events = sc.run(10, { "offgas-a/ppm": 60 });
    expect(triggers(events)).toEqual([]);
    expect(stageOf(sc.watch, "batt-a").stage).toBe("alarm");
  });

  it("evacuate latches until an operator clears it, and a clear is refused while conditions hold", async () => {
    const sc = await scenario();
    sc.run(5);
    sc.run(10, { "offgas-a/ppm": 60, [HOT_CELL]: 50 });
    const refused = sc.watch.clearZone("batt-a", sc.now(), "alice");
    expect(refused.ok).toBe(false);
    expect(refused.reason).toContain("offgas-a");

    sc.run(600); // conditions gone for ten minutes: still latched
    expect(stageOf(sc.watch, "batt-a")).toMatchObject({ stage: "evacuate", latched: true });
    expect(sc.watch.snapshot().triggers.map((t) => t.id)).toEqual(["dc1:batt-a:0001"]);

    const cleared = sc.watch.clearZone("batt-a", sc.now(), "alice");
    expect(cleared.ok).toBe(true);
    expect(cleared.events).toEqual([
      expect.objectContaining({ type: "zone_stage", previous: "evacuate", stage: "normal" }),
      { type: "incident_closed", zone: "batt-a", id: "dc1:batt-a:0001", incident: 1, by: "alice", since: sc.now() },
    ]);
    expect(sc.watch.snapshot().triggers).toEqual([]);

    // the next evacuation is a new incident
    const again = triggers(sc.run(10, { "offgas-a/ppm": 60, [HOT_CELL]: 50 }));
    expect(again.map((t) => t.id)).toEqual(["dc1:batt-a:0002"]);
  });

  it("a clear is refused before the zone has been judged in this run (a restored latch waits for evidence)", async () => {
    const sc = await scenario();
    const refused = sc.watch.clearZone("batt-a", sc.now(), "alice");
    expect(refused).toMatchObject({ ok: false, events: [] });
    expect(refused.reason).toContain("has not been judged");
  });

  it("trigger ids are deterministic across two instances fed the same inputs", async () => {
    const a = await scenario();
    const b = await scenario();
    const play = (sc: Scenario): EvacuationTrigger[] => {
      const out: EvacuationTrigger[] = [];
      sc.run(5);
      out.push(...triggers(sc.run(10, { "offgas-b/ppm": 70, "cab3/s2/m1/c2/tempC": 60 })));
      sc.run(30);
      sc.watch.clearZone("batt-b", sc.now(), "op");
      out.push(...triggers(sc.run(10, { "offgas-b/lflPct": 30 })));
      return out;
    };
    const fromA = play(a);
    const fromB = play(b);
    expect(fromA.map((t) => t.id)).toEqual(["dc1:batt-b:0001", "dc1:batt-b:0002"]);
    expect(fromB).toEqual(fromA);
  });

  it("an instance that adopted a retained trigger re-uses its id and continues from its number", async () => {
    const sc = await scenario();
    expect(sc.watch.adoptRetainedTrigger("batt-a", "dc1:batt-a:0007")).toBe(true);
    expect(sc.watch.adoptRetainedTrigger("batt-a", "dc1:batt-b:0009")).toBe(false);
    expect(sc.watch.adoptRetainedTrigger("batt-a", "garbage")).toBe(false);
    sc.run(5);
    expect(triggers(sc.run(10, { "offgas-a/lflPct": 30 })).map((t) => t.id)).toEqual(["dc1:batt-a:0007"]);
    sc.run(5);
    expect(sc.watch.clearZone("batt-a", sc.now(), "op").ok).toBe(true);
    expect(triggers(sc.run(10, { "offgas-a/lflPct": 30 })).map((t) => t.id)).toEqual(["dc1:batt-a:0008"]);
  });

  it("a clear closes an adopted incident even when this instance never latched", async () => {
    const sc = await scenario();
    sc.watch.adoptRetainedTrigger("batt-a", "dc1:batt-a:0003");
    sc.run(5);
    expect(sc.watch.clearZone("batt-a", sc.now(), "op")).toEqual({ ok: true, events: [{ type: "incident_closed", zone: "batt-a", id: "dc1:batt-a:0003", incident: 3, by: "op", since: sc.now() }] });
    expect(triggers(sc.run(10, { "offgas-a/lflPct": 30 })).map((t) => t.id)).toEqual(["dc1:batt-a:0004"]);
  });

  it("a stuck or silent sensor gives fault, never alarm", async () => {
    const sc = await scenario();
    sc.run(5);
    const events = sc.run(10, { "offgas-a": "silent", [HOT_CELL]: "stuck" });
    expect(events.some((e) => e.type === "zone_stage")).toBe(false);
    expect(events.some((e) => e.type === "alarm" && e.alarm.class === "condition")).toBe(false);
    expect(stageOf(sc.watch, "batt-a")).toMatchObject({ stage: "normal", fault: true });
    const alarms = sc.watch.snapshot().alarms.map((a) => [a.id, a.class, a.priority]);
    expect(alarms).toContainEqual(["offgas-a:fault", "trouble", "low"]);
    expect(alarms).toContainEqual(["cell-temp-a:fault", "trouble", "low"]);
    expect(alarms).toContainEqual(["comm-a", "trouble", "low"]);
    expect(events.find((e) => e.type === "zone_fault")).toMatchObject({ zone: "batt-a", fault: true });
  });

  it("a stale point is a fault, not a pass", async () => {
    const sc = await scenario();
    sc.run(5);
    sc.run(10, { "room-a": "silent" }); // room-a's values age past its stale limit
    const zoneA = stageOf(sc.watch, "batt-a");
    expect(zoneA.fault).toBe(true);
    expect(zoneA.faults).toContainEqual(expect.objectContaining({ rule: "room-temp-a", point: "room-a/tempC", reason: "stale" }));
  });

  it("acknowledge moves an alarm and reports it", async () => {
    const sc = await scenario();
    sc.run(5);
    sc.run(5, { "offgas-a/ppm": 60 });
    const r = sc.watch.alarms.acknowledge({ alarm: "offgas-a" }, "alice", sc.now());
    expect(r.ok && r.events).toEqual([expect.objectContaining({ type: "alarm", previous: "unack", alarm: expect.objectContaining({ id: "offgas-a", state: "ack" }) })]);
  });
});

describe("a clear repeated for a redundant peer", () => {
  it("a clear of a zone already cleared (nothing latched, no incident open) is accepted and changes nothing", async () => {
    const sc = await scenario();
    sc.run(5);
    sc.run(10, { "offgas-a/ppm": 60, [HOT_CELL]: 50 });
    sc.run(600);
    expect(sc.watch.clearZone("batt-a", sc.now(), "alice").ok).toBe(true);
    expect(sc.watch.clearZone("batt-a", sc.now(), "alice")).toEqual({ ok: true, events: [] });
    expect(stageOf(sc.watch, "batt-a")).toMatchObject({ stage: "normal", latched: false });
    expect(triggers(sc.run(10, { "offgas-a/ppm": 60, [HOT_CELL]: 50 })).map((t) => t.id)).toEqual(["dc1:batt-a:0002"]);
  });
});
