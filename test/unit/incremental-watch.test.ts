import { describe, expect, it } from "vitest";
import type { CoreEvent } from "../../src/events.js";
import { bad, good, pointKey } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import type { PointReader } from "../../src/rules/result.js";
import { buildRoomWatch } from "../../src/runtime/core.js";
import { commLossRule, deviationRule, device, exampleSite, offgasRule, siteConfig, STALE_MS, stateRule, T0, thresholdRule, voteRule, zone } from "./fixtures-rules.js";

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
      // The reference re-runs a changed rule over all its points, and every rule at every tick.
      const fullWatch = buildRoomWatch(b.config, fullReader, T0, { incremental: false });
      // Both are told the same about each write: whether it reads differently (the store's change detection).
      let lastChanged = true;
      a.store.onChange((_k, _v, _i, changed) => (lastChanged = changed));
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
            fullWatch.markChanged(k, lastChanged);
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

  it("hall-wide rules judged per changed point give the same events as whole-rule evaluation (repeats, staleness between polls, delays, one zone of many rules)", () => {
    // 6 devices × 2 modules × 4 cells; rules over every point of the hall (threshold with and
    // without delays, deviation grouped by module, off-gas with a reference), and a second zone
    // holding a rule per device: a poll of one device changes a few points of rules over all of them.
    const ids = ["d1", "d2", "d3", "d4", "d5", "d6"];
    const cells = ["m1/c1", "m1/c2", "m1/c3", "m1/c4", "m2/c1", "m2/c2", "m2/c3", "m2/c4"].map((c) => `${c}/tempC`);
    const devices = ids.map((d) => device(d, [...cells, "ppm"], d === "d6" ? "z2" : "z1"));
    const all = ids.flatMap((d) => cells.map((c) => `${d}/${c}`));
    const config = siteConfig({
      zones: [zone("z1", { clearHoldMs: 2_000 }), zone("z2", { clearHoldMs: 0 })],
      devices,
      rules: [
        thresholdRule({ id: "hall-hot", points: all, levels: [{ name: "high", value: 55, stage: "pre_alarm" }, { name: "high_high", value: 90, stage: "alarm" }], deadband: 2 }),
        thresholdRule({ id: "hall-hot-delayed", points: all, levels: [{ name: "high", value: 50, stage: "watch" }], onDelayMs: 1_500, offDelayMs: 1_000, deadband: 1 }),
        deviationRule({ id: "hall-dev", points: all, groupByTrim: 2, aboveMedian: 15, onDelayMs: 500 }),
        offgasRule({ id: "hall-gas", points: ids.slice(0, 5).map((d) => `${d}/ppm`), referencePoints: ["d6/ppm"], onDelayMs: 700 }),
        ...ids.map((d) => thresholdRule({ id: `dev-${d}`, zone: "z2", points: cells.map((c) => `${d}/${c}`), levels: [{ name: "high", value: 60, stage: "watch" }] })),
        commLossRule({ id: "comm", devices: ids, zone: "z2" }),
      ],
    });
    for (let seed = 1; seed <= 6; seed++) {
      const rand = rng(seed * 7919);
      const mk = (): PointStore => {
        const st = new PointStore();
        for (const d of devices) for (const p of d.points) st.declare({ key: pointKey(d.id, p.pointId), deviceId: d.id, pointId: p.pointId, unit: "" }, STALE_MS);
        return st;
      };
      const a = mk();
      const b = mk();
      const incremental = buildRoomWatch(config, a, T0);
      const fullWatch = buildRoomWatch(config, bareReader(b), T0, { incremental: false });
      let lastChanged = true;
      a.onChange((_k, _v, _i, changed) => (lastChanged = changed));
      const last = new Map<string, number>();
      // Modes: 0 moving, 1 silent (goes stale), 2 hot cells, 3 bad readings, 4 repeating its last readings.
      const mode = new Map(ids.map((d) => [d, 0]));
      let t = T0;
      let events = 0;
      let repeats = 0;
      for (let step = 0; step < 120; step++) {
        t += 200 + Math.floor(rand() * 900);
        for (const d of ids) {
          if (rand() < 0.15) mode.set(d, Math.floor(rand() * 5));
          const m = mode.get(d)!;
          if (m === 1 || rand() < 0.3) continue; // silent, or not this device's turn
          for (const p of [...cells, "ppm"]) {
            const k = `${d}/${p}`;
            const r = rand();
            const base = p === "ppm" ? 5 : 27;
            const prev = last.get(k);
            const n = m === 4 && prev !== undefined ? prev : m === 2 && r < 0.4 ? base + 30 + Math.floor(rand() * 80) : base + Math.floor(rand() * 3);
            const v = m === 3 && r < 0.3 ? bad("sentinel", t, "raw 0xFFFF") : good(n, t);
            if (v.quality === "good") last.set(k, n);
            a.update(k, v);
            b.update(k, v);
            if (!lastChanged) repeats++;
            fullWatch.markChanged(k, lastChanged);
          }
          const after = incremental.step(t, true);
          expect(strip(after), `seed ${seed} step ${step} after ${d}`).toBe(strip(fullWatch.step(t, true)));
          events += after.length;
        }
        const tick = incremental.step(t);
        expect(strip(tick), `seed ${seed} tick ${step}`).toBe(strip(fullWatch.step(t)));
        events += tick.length;
      }
      expect(JSON.stringify(incremental.snapshot())).toBe(JSON.stringify(fullWatch.snapshot()));
      expect(events).toBeGreaterThan(0);
      expect(repeats, "the sequence repeated readings (change detection exercised)").toBeGreaterThan(0);
    }
  });

  it("state and vote rules (panels, BMS bits, detectors) give the same events incrementally as whole-rule evaluation", () => {
    // Three panels and a BMS bitfield per device, read as states (with a countdown), and smoke
    // detectors voted 2 of 3: integer readings, bad ones, silences and repeats.
    const ids = ["p1", "p2", "p3"];
    const pts = ["preRelease", "released", "countdownS", "evt1", "smoke"];
    const devices = ids.map((d) => device(d, pts, "z1"));
    const config = siteConfig({
      zones: [zone("z1", { clearHoldMs: 1_500 })],
      devices,
      rules: [
        ...ids.map((d) => stateRule({ id: `pre-${d}`, points: [`${d}/preRelease`], knock: d, states: [{ name: "pre_release", value: 1, stage: "evacuate", countdownPoint: `${d}/countdownS` }] })),
        stateRule({ id: "released", points: ids.map((d) => `${d}/released`), states: [{ name: "released", value: 1, stage: "released" }] }),
        stateRule({ id: "bms", points: ids.map((d) => `${d}/evt1`), onDelayMs: 600, offDelayMs: 400, states: [{ name: "over_temp", bit: 1, stage: "pre_alarm" }, { name: "imbalance", bit: 2, stage: "alarm" }] }),
        stateRule({ id: "bms-trouble", class: "trouble", points: ids.map((d) => `${d}/evt1`), states: [{ name: "contactor", bit: 3 }] }),
        voteRule({ id: "smoke", points: ids.map((d) => `${d}/smoke`), votes: 2, onDelayMs: 300, stage: "alarm" }),
        voteRule({ id: "smoke-strict", points: ids.map((d) => `${d}/smoke`), votes: 2, blindDetector: "abstain", stage: "alarm", knock: "smoke" }),
      ],
    });
    let stateEvents = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const rand = rng(seed * 104_729);
      const mk = (): PointStore => {
        const st = new PointStore();
        for (const d of devices) for (const p of d.points) st.declare({ key: pointKey(d.id, p.pointId), deviceId: d.id, pointId: p.pointId, unit: "" }, STALE_MS);
        return st;
      };
      const a = mk();
      const b = mk();
      const incremental = buildRoomWatch(config, a, T0);
      const fullWatch = buildRoomWatch(config, bareReader(b), T0, { incremental: false });
      let lastChanged = true;
      a.onChange((_k, _v, _i, changed) => (lastChanged = changed));
      let t = T0;
      for (let step = 0; step < 150; step++) {
        t += 200 + Math.floor(rand() * 900);
        for (const d of ids) {
          if (rand() < 0.3) continue; // silent this round (may go stale)
          for (const p of pts) {
            const k = `${d}/${p}`;
            const r = rand();
            const n = p === "countdownS" ? Math.floor(rand() * 40) : p === "evt1" ? Math.floor(rand() * 16) : rand() < 0.15 ? 1 : 0;
            const v = r < 0.05 ? bad("comm_fail", t) : good(n, t);
            a.update(k, v);
            b.update(k, v);
            fullWatch.markChanged(k, lastChanged);
          }
          const after = incremental.step(t, true);
          expect(strip(after), `seed ${seed} step ${step} after ${d}`).toBe(strip(fullWatch.step(t, true)));
          stateEvents += after.filter((e) => e.type === "zone_stage" || e.type === "evacuate").length;
        }
        const tick = incremental.step(t);
        expect(strip(tick), `seed ${seed} tick ${step}`).toBe(strip(fullWatch.step(t)));
        if (rand() < 0.05) expect(incremental.clearZone("z1", t, "op")).toEqual(fullWatch.clearZone("z1", t, "op"));
      }
      expect(JSON.stringify(incremental.snapshot())).toBe(JSON.stringify(fullWatch.snapshot()));
    }
    expect(stateEvents, "the sequences moved the zone and issued triggers").toBeGreaterThan(0);
  });

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
