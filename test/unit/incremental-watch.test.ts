import { describe, expect, it } from "vitest";
import type { CoreEvent } from "../../src/events.js";
import { bad, good, pointKey } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import type { PointReader } from "../../src/rules/result.js";
import { buildRoomWatch } from "../../src/runtime/core.js";
import { commLossRule, device, exampleSite, siteConfig, STALE_MS, T0, thresholdRule, zone } from "./fixtures-rules.js";

/** A deterministic pseudo-random sequence (mulberry32), so a failing case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A reader without change reports: RoomWatch then evaluates every rule at every periodic step. */
function bareReader(store: PointStore): PointReader {
  return { read: (k, now) => store.read(k, now), history: (k, from) => store.history(k, from), trend: (k, from) => store.trend(k, from) };
}

const strip = (events: CoreEvent[]): string => JSON.stringify(events);

describe("incremental evaluation", () => {
  it("gives the same events as a full evaluation on random sequences (delays, staleness, silent devices, hot cells, stuck sensors)", async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rand = rng(seed);
      const a = await exampleSite();
      const b = await exampleSite();
      const incremental = buildRoomWatch(a.config, a.store, T0);
      const fullReader = bareReader(b.store);
      const fullWatch = buildRoomWatch(b.config, fullReader, T0);
      const devices = a.config.devices.map((d) => ({ id: d.id, keys: d.points.map((p) => pointKey(d.id, p.pointId)) }));
      let t = T0;
      let incidents = 0;
      let tickEvents = 0;
      // Each device keeps a mode for a while: answering, silent (goes stale), hot cells, or bad readings.
      const mode = new Map(devices.map((d) => [d.id, 0]));
      // A few cell sensors are stuck: they repeat their first reading while their neighbours move
      // (the stuck rules' flat_s runs out within the sequence).
      const frozen = new Map<string, number>();
      let troubleEvents = 0;
      for (let step = 0; step < 150; step++) {
        t += 250 + Math.floor(rand() * 1000);
        for (const d of devices) {
          if (rand() < 0.12) mode.set(d.id, Math.floor(rand() * 4));
          const m = mode.get(d.id)!;
          if (m === 1) continue; // silent: no write at all, its points go stale
          for (const k of d.keys) {
            const r = rand();
            const base = k.endsWith("/tempC") ? (k.startsWith("room-") ? 22 : 27) : 0;
            if (step === 0 && k.endsWith("/tempC") && !k.startsWith("room-") && rand() < 0.05) frozen.set(k, base + rand());
            const stuck = frozen.get(k);
            const v =
              stuck !== undefined && m === 0
                ? good(stuck, t)
                : m === 3 && r < 0.3
                  ? bad("sentinel", t, "raw 0xFFFF")
                  : m === 2 && r < 0.3
                    ? good(base + 60 + rand() * 120, t)
                    : r < 0.02
                      ? good(base + 40 * rand(), t)
                      : good(base + rand(), t);
            a.store.update(k, v);
            b.store.update(k, v);
            fullWatch.markChanged(k);
          }
          const after = incremental.step(t, true);
          const expected = fullWatch.step(t, true);
          expect(strip(after), `seed ${seed} step ${step} after ${d.id}`).toBe(strip(expected));
          incidents += after.length;
          troubleEvents += after.filter((e) => e.type === "alarm" && e.alarm.id.startsWith("cell-stuck-") && e.alarm.active).length;
        }
        const tick = incremental.step(t);
        const expectedTick = fullWatch.step(t);
        expect(strip(tick), `seed ${seed} tick ${step}`).toBe(strip(expectedTick));
        incidents += tick.length;
        tickEvents += tick.length;
        troubleEvents += tick.filter((e) => e.type === "alarm" && e.alarm.id.startsWith("cell-stuck-") && e.alarm.active).length;
        // Now and then an operator clears: the same outcome in both.
        if (rand() < 0.05) {
          for (const z of a.config.zones.keys()) {
            expect(incremental.clearZone(z, t, "op")).toEqual(fullWatch.clearZone(z, t, "op"));
          }
        }
      }
      expect(JSON.stringify(incremental.snapshot())).toBe(JSON.stringify(fullWatch.snapshot()));
      // The sequence did exercise the rules, and time-driven changes (staleness, delays) at the ticks.
      expect(incidents).toBeGreaterThan(0);
      expect(tickEvents).toBeGreaterThan(0);
      // The stuck rules (a sliding time condition of their own) were exercised too.
      expect(troubleEvents, `seed ${seed}: no stuck trouble raised`).toBeGreaterThan(0);
    }
  }, 90_000); // six seeds of the whole example site: 15-30 s on a loaded 2-core machine

  it("a point that goes stale between polls is still reported as a fault at the next tick", () => {
    const keys = ["d1/a", "d1/b", "d2/x"];
    const config = siteConfig({
      rules: [thresholdRule({ id: "hot", points: ["d1/a", "d1/b"], levels: [{ name: "high", value: 50, stage: "alarm" }] })],
      zones: [zone("z1")],
      devices: [device("d1", ["a", "b"]), device("d2", ["x"])],
    });
    const store = new PointStore();
    for (const k of keys) store.declare({ key: k, deviceId: k.split("/")[0]!, pointId: k.split("/")[1]!, unit: "" }, STALE_MS);
    const watch = buildRoomWatch(config, store, T0);
    for (const k of keys) store.update(k, good(20, T0));
    // The first step only gives the zone its first verdict (it was published as not yet judged).
    expect(watch.step(T0)).toEqual([expect.objectContaining({ type: "zone_stage", zone: "z1", stage: "normal", firstJudgement: true })]);
    // Only d2 keeps answering; d1 says nothing at all (no write, no error).
    let t = T0;
    const events: CoreEvent[] = [];
    for (let s = 0; s < 5; s++) {
      t += 1000;
      store.update("d2/x", good(20, t));
      events.push(...watch.step(t, true));
      events.push(...watch.step(t));
    }
    const fault = events.find((e) => e.type === "alarm" && e.alarm.id === "hot:fault");
    expect(fault).toMatchObject({ alarm: { active: true, class: "trouble" } });
    expect(events.some((e) => e.type === "zone_fault" && e.fault)).toBe(true);
    const stale = watch.snapshot().alarms.find((a) => a.id === "hot:fault")!;
    expect(stale.evidence.map((e) => e.reason)).toEqual(["stale", "stale"]);
  });

  it("a delay that expires with no new poll still fires at the tick", () => {
    const config = siteConfig({
      rules: [
        thresholdRule({ id: "hot", points: ["d1/a"], levels: [{ name: "high", value: 50, stage: "pre_alarm" }], onDelayMs: 3000 }),
        commLossRule({ id: "comm", devices: ["d1"], afterMs: 2000 }),
      ],
      zones: [zone("z1")],
      devices: [device("d1", ["a"])],
    });
    const store = new PointStore();
    store.declare({ key: "d1/a", deviceId: "d1", pointId: "a", unit: "" }, 60_000);
    const watch = buildRoomWatch(config, store, T0);
    store.update("d1/a", good(70, T0));
    watch.step(T0);
    // No more writes: only ticks. The on-delay runs out at T0 + 3 s.
    expect(watch.step(T0 + 2000).some((e) => e.type === "zone_stage")).toBe(false);
    const events = watch.step(T0 + 3000);
    expect(events).toContainEqual(expect.objectContaining({ type: "zone_stage", stage: "pre_alarm" }));
    // The device then goes silent (its points turn bad/comm_fail once): comm_loss waits out its 2 s.
    store.update("d1/a", bad("comm_fail", T0 + 4000, "connection lost"));
    expect(watch.step(T0 + 4000, true).some((e) => e.type === "alarm" && e.alarm.id === "comm")).toBe(false);
    expect(watch.step(T0 + 6000)).toContainEqual(expect.objectContaining({ type: "alarm", alarm: expect.objectContaining({ id: "comm", active: true }) }));
  });
});
