// The `<device>:poll_rate` trouble alarm on fake time: a poller whose device answers slower than its
// poll interval is polled at half its rate, raises the alarm (achieved against configured rate in
// its message) once the 10-interval window has passed, and returns it to normal once the device is
// fast again. No sockets: a link whose answers take fake-clock time.
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Annunciator } from "../../src/alarms/annunciator.js";
import { pollRateAlarmId, pollRateTrouble } from "../../src/alarms/poll-rate.js";
import { expandPoints } from "../../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import type { ModbusTable } from "../../src/config/profile-schema.js";
import type { Device } from "../../src/config/types.js";
import type { LinkCounters, LinkOpener, ModbusLink } from "../../src/drivers/modbus/connection.js";
import { PollLoad } from "../../src/drivers/modbus/poll-load.js";
import { ModbusPoller, type PollResult } from "../../src/drivers/modbus/poller.js";
import type { AlarmChange } from "../../src/events.js";
import { pointKey } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { FakeClock } from "../../src/runtime/clock.js";

class SlowLink implements ModbusLink {
  readonly open = true;
  readonly counters: LinkCounters = { requests: 0, exceptions: 0, malformed: 0, timeouts: 0, lateAnswers: 0 };
  constructor(
    readonly clock: FakeClock,
    public delayMs: number,
  ) {}
  onLost(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
  read(_t: ModbusTable, _start: number, count: number): Promise<number[]> {
    return new Promise((resolve) => this.clock.setTimeout(() => resolve(new Array<number>(count).fill(0)), this.delayMs));
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("poll-rate trouble alarm", () => {
  it("PollLoad: no verdict before a whole window, then the state with both rates", () => {
    const load = new PollLoad(100);
    for (let t = 0; t <= 900; t += 100) {
      load.note(t, t, false);
      expect(load.verdict()).toBeUndefined();
    }
    load.note(1000, 1000, false);
    expect(load.verdict()).toEqual({ state: "ok", achievedPerS: 10, configuredPerS: 10, windowS: 1 });
    load.restartWindow();
    expect(load.verdict()).toBeUndefined();
  });

  it("a device slower than its poll interval raises <device>:poll_rate, and it returns to normal when the rate recovers", async () => {
    const clock = new FakeClock();
    const profile = await loadProfile(join(shippedProfilesDir(), "room-sensor.yaml"));
    const device: Device = { id: "room-1", zone: "batt-a", profile, modbus: { host: "fake", port: 502, unitId: 1 }, pollIntervalMs: 100, timeoutMs: 90, staleAfterMs: 300, points: expandPoints(profile, undefined) };
    const store = new PointStore();
    for (const p of device.points) store.declare({ key: pointKey(device.id, p.pointId), deviceId: device.id, pointId: p.pointId, unit: p.def.unit }, device.staleAfterMs);
    // One request per poll, answered after 150 ms of a 100 ms interval: every other slot is skipped.
    const link = new SlowLink(clock, 150);
    const opener: LinkOpener = { describe: "fake", open: () => Promise.resolve(link) };
    const annunciator = new Annunciator([], { zones: ["batt-a"], devices: ["room-1"] });
    const results: PollResult[] = [];
    const changes: AlarmChange[] = [];
    const poller = new ModbusPoller({
      device,
      clock,
      store,
      log: pino({ level: "silent" }),
      link: opener,
      onPoll: (r) => {
        results.push(r);
        const t = pollRateTrouble(r, (d) => (d === "room-1" ? "batt-a" : undefined));
        if (t !== undefined) changes.push(...annunciator.deviceTrouble(t.id, t.zone, t.active, t.message, clock.now()));
      },
    });
    const run = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 10) {
        clock.advance(10);
        await flush();
      }
    };
    poller.start();
    await run(900);
    expect(results.length).toBeGreaterThan(3);
    expect(results.every((r) => r.rate === undefined)).toBe(true); // no whole window yet
    expect(changes).toEqual([]);
    await run(1500);
    const raised = changes.filter((c) => c.alarm.active);
    expect(raised).toHaveLength(1);
    expect(raised[0]!.alarm).toMatchObject({ id: pollRateAlarmId("room-1"), zone: "batt-a", class: "trouble", priority: "low", state: "unack" });
    expect(raised[0]!.alarm.message).toMatch(/^device room-1 polled below 90 % of its configured rate: 5\.00 polls\/s of 10\.00 configured over the last 1 s/);
    expect(poller.status().loadState).toBe("overloaded");
    // Only the change is reported, not every poll.
    const reported = results.filter((r) => r.rate !== undefined).length;
    await run(1000);
    expect(results.filter((r) => r.rate !== undefined).length).toBe(reported);
    // The device is fast again: back at 10 polls/s once a whole window shows it.
    link.delayMs = 5;
    await run(2500);
    const last = changes[changes.length - 1]!;
    expect(last.alarm.active).toBe(false);
    // Returned to normal (unacknowledged, as every trouble alarm that clears); the message stays the raise's.
    expect(last.alarm).toMatchObject({ id: "room-1:poll_rate", active: false, state: "rtn_unack" });
    expect(last.reason).toBe("condition cleared");
    expect(poller.status().loadState).toBe("ok");
    await poller.stop();
  });

  it("the first verdict is sent even when ok: an alarm restored from before a restart is cleared by it", () => {
    const annunciator = new Annunciator([], { zones: ["batt-a"] });
    const id = pollRateAlarmId("cab1");
    annunciator.deviceTrouble(id, "batt-a", true, "restored", 0);
    const r: PollResult = { device: "cab1", startedAt: 0, durationMs: 1, requests: 1, failedRequests: 0, overrun: false, rate: { state: "ok", achievedPerS: 1, configuredPerS: 1, windowS: 10 } };
    const t = pollRateTrouble(r, () => "batt-a")!;
    const events = annunciator.deviceTrouble(t.id, t.zone, t.active, t.message, 1000);
    expect(events).toHaveLength(1);
    expect(events[0]!.alarm).toMatchObject({ id, active: false });
    // An ok verdict for a device that never had the alarm raises nothing.
    expect(annunciator.deviceTrouble(pollRateAlarmId("cab2"), "batt-a", false, "ok", 1000)).toEqual([]);
  });
});
