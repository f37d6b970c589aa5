import { describe, expect, it } from "vitest";
import { PointStore } from "../../src/points/store.js";
import { good } from "../../src/points/point.js";
import { RuleEngine } from "../../src/rules/engine.js";
import type { Clock } from "../../src/runtime/clock.js";
import { MIN_REAL_STALE_MS, realTimeFloor, withRealTimeFloors } from "../../src/runtime/real-time-floors.js";
import { commLossRule, device, siteConfig, T0, thresholdRule } from "./fixtures-rules.js";

/** An accelerated clock whose real time moves only when the test says so. */
class FakeAcceleratedClock implements Clock {
  #now = T0;
  constructor(readonly speed: number) {}
  now(): number {
    return this.#now;
  }
  advanceReal(realMs: number): void {
    this.#now += realMs * this.speed;
  }
  setTimeout(): never {
    throw new Error("not used");
  }
  setInterval(): never {
    throw new Error("not used");
  }
}

const config = () =>
  siteConfig({
    devices: [device("cab1", ["a", "b"])], // stale after 3 s of clock time
    rules: [commLossRule({ id: "comm", devices: ["cab1"], afterMs: 5_000 }), thresholdRule({ id: "hot", points: ["cab1/a"], levels: [] })],
  });

describe("real-time floors on an accelerated clock", () => {
  it("at real speed the config is left exactly as written", () => {
    const c = config();
    const r = withRealTimeFloors(c, 1);
    expect(r.config).toBe(c);
    expect(r.raised).toEqual([]);
    expect(realTimeFloor(300, 1)).toBe(300);
  });

  it("at 10x, staleness and comm_loss after_s are never below 2 s of real time (20 s of clock time)", () => {
    const r = withRealTimeFloors(config(), 10);
    expect(r.config.devices[0]!.staleAfterMs).toBe(MIN_REAL_STALE_MS * 10);
    const comm = r.config.rules.find((x) => x.id === "comm");
    expect(comm?.kind === "comm_loss" ? comm.afterMs : undefined).toBe(MIN_REAL_STALE_MS * 10);
    expect(r.raised.map((x) => x.what)).toEqual(["devices.cab1.stale_after_ms", "rules.comm.after_s"]);
    // A limit already long in real time is kept; one configured below 2 s of clock time keeps its real length.
    expect(realTimeFloor(60_000, 10)).toBe(60_000);
    expect(realTimeFloor(500, 10)).toBe(5_000);
    expect(realTimeFloor(0, 10)).toBe(0);
  });

  it("a 600 ms stall of a loaded machine at 10x is not a stale device or comm loss; 2 s of silence is", () => {
    const clock = new FakeAcceleratedClock(10);
    const judge = (cfg: ReturnType<typeof config>) => {
      const store = new PointStore();
      for (const d of cfg.devices) for (const p of d.points) store.declare({ key: `${d.id}/${p.pointId}`, deviceId: d.id, pointId: p.pointId, unit: "" }, d.staleAfterMs);
      const engine = new RuleEngine(cfg);
      const write = () => {
        store.update("cab1/a", good(25, clock.now()));
        store.update("cab1/b", good(26, clock.now()));
      };
      const commActive = () => engine.evaluate(store, clock.now()).find((x) => x.rule === "comm")!.active;
      return { store, write, commActive };
    };
    const raw = judge(config());
    const floored = judge(withRealTimeFloors(config(), clock.speed).config);
    raw.write();
    floored.write();
    clock.advanceReal(600); // 6 s of room time: a poll cycle delayed by load
    expect(raw.store.read("cab1/a", clock.now())).toMatchObject({ quality: "bad", reason: "stale" }); // the fake fault
    expect(floored.store.read("cab1/a", clock.now())).toMatchObject({ quality: "good" });
    expect(floored.commActive()).toBe(false);
    clock.advanceReal(1500); // 2.1 s real without a reading: the device is stale
    expect(floored.store.read("cab1/a", clock.now())).toMatchObject({ quality: "bad", reason: "stale" });
    expect(floored.commActive()).toBe(false); // silent now, but not yet for after_s
    clock.advanceReal(2000); // silent for 2 s of real time
    expect(floored.commActive()).toBe(true);
  });
});
