// The Modbus driver over real TCP on 127.0.0.1: SunSpec discovery and decoding of a Li-ion
// cabinet, sentinels, a device going silent or away while another keeps its schedule, reconnect.
// Timing claims are checked against the pollers' own records (which poll marked what, which polls
// ran while another device hung), not against wall-clock bounds a loaded 2-core machine can miss.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { join } from "node:path";
import { pino } from "pino";
import { startModbusTcpServer, RegisterBank, type ModbusTcpServer } from "../../simulators/modbus-server.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import { expandPoints } from "../../src/config/expand.js";
import type { Device, Layout } from "../../src/config/types.js";
import type { Profile } from "../../src/config/profile-schema.js";
import { PointStore } from "../../src/points/store.js";
import { pointKey, type PointValue } from "../../src/points/point.js";
import { acceleratedClock, systemClock } from "../../src/runtime/clock.js";
import { writeSunspecImage } from "../../src/drivers/modbus/sunspec-image.js";
import { ModbusPoller, type PollResult } from "../../src/drivers/modbus/poller.js";

const layout: Layout = { strings: 2, modulesPerString: 4, cellsPerModule: 8 };
// The cabinet's timeout is long against the room sensor's interval, so a room poller stalled behind
// the cabinet's hung request would show a gap as long as the timeout, far above scheduling jitter.
const CAB_INTERVAL_MS = 1500;
const CAB_TIMEOUT_MS = 1000;
const ROOM_INTERVAL_MS = 100;

const cellVRaw = (s: number, m: number, c: number): number => 3300 + s * 100 + m * 10 + c; // CellV_SF -3: 3.4xx V
const cellTRaw = (s: number, m: number, c: number): number => 250 + s * 20 + m * 3 + c; // Tmp_SF -1: 25.x degC

function cabinetBank(): RegisterBank {
  const bank = new RegisterBank();
  const r = bank.holding;
  const map = writeSunspecImage(r, 40000, layout);
  r[map.at802(11)] = 87; // SoC, SoC_SF 0
  r[map.at802(56)] = 0;
  r[map.at802(34)] = 8123; // V, V_SF -1
  r[map.at802(59)] = 0xffff; // -1
  for (let s = 1; s <= layout.strings; s++)
    for (let m = 1; m <= layout.modulesPerString; m++) {
      r[map.at805(s, m, 10)] = 5281; // module V, V_SF -2
      r[map.at805(s, m, 41)] = 0xfffe;
      r[map.at805(s, m, 42)] = 0xfffd; // CellV_SF -3
      r[map.at805(s, m, 43)] = 0xffff; // Tmp_SF -1
      for (let c = 1; c <= layout.cellsPerModule; c++) {
        r[map.at805(s, m, 0, c)] = cellVRaw(s, m, c);
        r[map.at805(s, m, 1, c)] = cellTRaw(s, m, c);
      }
    }
  r[map.at805(2, 3, 1, 5)] = 0x8000; // SunSpec int16 not implemented: a dead cell sensor
  return bank;
}

function roomBank(): RegisterBank {
  const bank = new RegisterBank();
  bank.input[0] = 235; // 23.5 degC
  bank.input[1] = 455; // 45.5 %RH
  return bank;
}

function device(id: string, profile: Profile, port: number, pollIntervalMs: number, timeoutMs: number, unitId = 1): Device {
  const withLayout = profile.sunspec !== undefined ? layout : undefined;
  return {
    id,
    zone: "batt-a",
    profile,
    modbus: { host: "127.0.0.1", port, unitId },
    pollIntervalMs,
    timeoutMs,
    staleAfterMs: pollIntervalMs * 3,
    ...(withLayout ? { layout: withLayout } : {}),
    points: expandPoints(profile, withLayout),
  };
}

/** Resolves when `check` holds, re-checked on every store change; rejects after timeoutMs. */
function until(store: PointStore, what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => ((done = true), reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
    store.onChange(() => {
      if (!done && check()) {
        done = true;
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

describe("modbus driver over TCP", () => {
  const store = new PointStore();
  const logs: { msg: string; device?: string }[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as { msg: string; device?: string }) });
  const roomPolls: PollResult[] = [];
  /** The cabinet's polls, each with whether every cabinet point was bad/timeout when it ended. */
  const cabPolls: (PollResult & { allTimedOut: boolean })[] = [];
  let cabServer: ModbusTcpServer;
  let roomServer: ModbusTcpServer;
  let cabPort: number;
  let cabBank: RegisterBank;
  let cab: Device;
  let room: Device;
  let bogus: Device;
  const pollers: ModbusPoller[] = [];
  let cabPoller: ModbusPoller;

  const value = (d: Device, pointId: string): PointValue => store.read(pointKey(d.id, pointId), Date.now());
  const all = (d: Device, pred: (v: PointValue) => boolean): boolean => d.points.every((p) => pred(value(d, p.pointId)));

  beforeAll(async () => {
    cabBank = cabinetBank();
    cabServer = await startModbusTcpServer({ port: 0, units: new Map([[1, cabBank]]) });
    cabPort = cabServer.port;
    roomServer = await startModbusTcpServer({ port: 0, units: new Map([[1, roomBank()]]) });
    const cabinet = await loadProfile(join(shippedProfilesDir(), "li-ion-cabinet.yaml"));
    const sensor = await loadProfile(join(shippedProfilesDir(), "room-sensor.yaml"));
    cab = device("cab1", cabinet, cabPort, CAB_INTERVAL_MS, CAB_TIMEOUT_MS);
    room = device("room-a", sensor, roomServer.port, ROOM_INTERVAL_MS, 200);
    bogus = device("room-x", sensor, roomServer.port, ROOM_INTERVAL_MS, 200, 9); // a unit id the server does not serve
    for (const d of [cab, room, bogus])
      for (const p of d.points) store.declare({ key: pointKey(d.id, p.pointId), deviceId: d.id, pointId: p.pointId, unit: p.def.unit }, d.staleAfterMs);
    cabPoller = new ModbusPoller({
      device: cab,
      clock: systemClock,
      store,
      log: log.child({ component: "modbus" }),
      onPoll: (r) => cabPolls.push({ ...r, allTimedOut: all(cab, (v) => v.quality === "bad" && v.reason === "timeout") }),
    });
    pollers.push(cabPoller);
    pollers.push(new ModbusPoller({ device: room, clock: systemClock, store, log, onPoll: (r) => roomPolls.push(r) }));
    pollers.push(new ModbusPoller({ device: bogus, clock: systemClock, store, log }));
    for (const p of pollers) p.start();
  });

  afterAll(async () => {
    await Promise.all(pollers.map((p) => p.stop()));
    await Promise.all([cabServer?.close(), roomServer?.close()]);
  });

  it("discovers the SunSpec map and decodes per-cell voltage and temperature with scale factors", async () => {
    await until(store, "cabinet cell s2/m4/c8 good", () => value(cab, "s2/m4/c8/voltV").quality === "good");
    // The layout point, then 802, 804 and 805 points.
    expect(cab.points.length).toBe(1 + 15 + 8 * 2 + 8 * 1 + 64 * 2);
    expect(value(cab, "layout")).toMatchObject({ quality: "good", value: 0 });
    for (const [s, m, c] of [[1, 1, 1], [1, 4, 8], [2, 2, 3], [2, 4, 8]] as const) {
      expect(value(cab, `s${s}/m${m}/c${c}/voltV`)).toMatchObject({ quality: "good" });
      expect(value(cab, `s${s}/m${m}/c${c}/voltV`).value).toBeCloseTo(cellVRaw(s, m, c) / 1000, 9);
      expect(value(cab, `s${s}/m${m}/c${c}/tempC`).value).toBeCloseTo(cellTRaw(s, m, c) / 10, 9);
    }
    expect(value(cab, "s1/m2/voltV").value).toBeCloseTo(52.81, 9);
    expect(value(cab, "soc").value).toBe(87);
    expect(value(cab, "voltV").value).toBeCloseTo(812.3, 9);
    // 156 register points (plus their scale factors) in 6 coalesced requests of at most 125 registers: the
    // SunSpec default max_gap (124) reads through each model's unused registers and across model
    // boundaries, so the chain of 896 registers is read nearly back to back (7 with max_gap 40).
    expect(cabPoller.status().requestsPerPoll).toBe(6);
  });

  it("a SunSpec not-implemented cell temperature is bad/sentinel, its neighbours good", async () => {
    // Its own wait, not the previous test's: one poll writes both points.
    await until(store, "cabinet cell s2/m3/c4 good", () => value(cab, "s2/m3/c4/tempC").quality === "good", 10_000);
    expect(value(cab, "s2/m3/c5/tempC")).toMatchObject({ quality: "bad", reason: "sentinel" });
    expect(value(cab, "s2/m3/c5/tempC").detail).toMatch(/0x8000/);
    expect(value(cab, "s2/m3/c4/tempC").quality).toBe("good");
  });

  it("the room sensor decodes, and a unit the server does not serve is bad/device_exception", async () => {
    await until(store, "room sensor good", () => value(room, "tempC").quality === "good");
    expect(value(room, "tempC").value).toBeCloseTo(23.5, 9);
    expect(value(room, "humidityPct").value).toBeCloseTo(45.5, 9);
    expect(value(room, "sensorFault")).toMatchObject({ quality: "good", value: 0 });
    await until(store, "bogus unit bad", () => value(bogus, "tempC").quality === "bad");
    expect(value(bogus, "tempC")).toMatchObject({ reason: "device_exception" });
    expect(value(bogus, "tempC").detail).toMatch(/Modbus exception 11 \(gateway target device failed to respond\)/);
  });

  it("a silent device turns every point bad at its next poll, while another device keeps its schedule", async () => {
    const from = Date.now();
    cabServer.setSilent(true);
    await until(store, "every cabinet point bad/timeout", () => all(cab, (v) => v.quality === "bad" && v.reason === "timeout"), CAB_INTERVAL_MS + CAB_TIMEOUT_MS + 10_000);
    // The first poll that started after the silence is the one that marked every point bad: no
    // retries, no waiting for staleness.
    const hung = cabPolls.find((p) => p.startedAt >= from);
    expect(hung).toBeDefined();
    expect(hung!.error).toMatch(/^timeout: /);
    expect(hung!.allTimedOut).toBe(true);
    expect(hung!.durationMs).toBeGreaterThanOrEqual(CAB_TIMEOUT_MS - 10);
    // While the cabinet's request hung, the room sensor went on polling: several polls inside the
    // hang, and no gap between them as long as the hang (the sign of a poller waiting behind another).
    const hangEnd = hung!.startedAt + hung!.durationMs;
    const around = roomPolls.filter((p) => p.startedAt >= hung!.startedAt - ROOM_INTERVAL_MS && p.startedAt <= hangEnd + ROOM_INTERVAL_MS);
    expect(around.filter((p) => p.startedAt >= hung!.startedAt && p.startedAt < hangEnd).length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < around.length; i++) expect(around[i]!.startedAt - around[i - 1]!.startedAt).toBeLessThan(CAB_TIMEOUT_MS);
    expect(around.every((p) => p.error === undefined)).toBe(true);
    expect(value(room, "tempC").quality).toBe("good");
    cabServer.setSilent(false);
    await until(store, "cabinet good again after silence", () => value(cab, "s1/m1/c1/tempC").quality === "good", 15_000);
  }, 30_000);

  it("a device that goes away is bad/comm_fail at once, and the poller reconnects when it returns", async () => {
    // "At once": the dropped socket is reported as it drops, never first as a timeout.
    const seen: string[] = [];
    store.onChange((key, v) => {
      if (key === pointKey(cab.id, "s1/m1/c1/tempC") && v.quality !== "good") seen.push(v.reason ?? "?");
    });
    await cabServer.close();
    await until(store, "every cabinet point bad/comm_fail", () => all(cab, (v) => v.quality === "bad" && v.reason === "comm_fail"), CAB_INTERVAL_MS + 10_000);
    expect(seen[0]).toBe("comm_fail");
    expect(seen).not.toContain("timeout");
    expect(cabPoller.status().connected).toBe(false);
    expect(value(room, "tempC").quality).toBe("good");
    cabServer = await startModbusTcpServer({ port: cabPort, units: new Map([[1, cabBank]]) });
    await until(store, "cabinet reconnected", () => value(cab, "s2/m4/c8/tempC").quality === "good", 15_000);
    expect(cabPoller.status()).toMatchObject({ connected: true });
    expect(cabPoller.status().failures).toBeGreaterThan(0);
    // Logged once per state change, not once per retry.
    const cabLogs = logs.filter((l) => l.device === "cab1").map((l) => l.msg);
    expect(cabLogs.filter((m) => m.includes("not answering")).length).toBeLessThanOrEqual(3);
  });

  it("a SunSpec map that does not hold the configured layout gives every point bad/config saying what differs", async () => {
    const wide: Layout = { strings: 3, modulesPerString: 4, cellsPerModule: 8 };
    const wrong: Device = { ...cab, id: "cab-wrong", layout: wide, points: expandPoints(cab.profile, wide) };
    for (const p of wrong.points) store.declare({ key: pointKey(wrong.id, p.pointId), deviceId: wrong.id, pointId: p.pointId, unit: p.def.unit }, wrong.staleAfterMs);
    const poller = new ModbusPoller({ device: wrong, clock: systemClock, store, log });
    pollers.push(poller);
    poller.start();
    await until(store, "cab-wrong bad/config", () => all(wrong, (v) => v.quality === "bad" && v.reason === "config"), 25_000);
    expect(value(wrong, "s1/m1/c1/tempC").detail).toMatch(/device cab-wrong: .*layout has 3 strings, the chain holds 2 model 804 instances/);
    expect(value(wrong, "soc").detail).toMatch(/no model 805 for s3\/m1, s3\/m2, s3\/m3, s3\/m4/);
    expect(poller.status().connected).toBe(false);
    await poller.stop();
  }, 45_000);

  it("a failure while writing one point is logged and counted, the other points are written and polling goes on", async () => {
    const extra: Device = { ...room, id: "room-extra", points: [{ ...room.points[0]!, pointId: "undeclared" }, ...room.points] };
    for (const p of room.points) store.declare({ key: pointKey(extra.id, p.pointId), deviceId: extra.id, pointId: p.pointId, unit: p.def.unit }, extra.staleAfterMs);
    let polls = 0;
    let three: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (three = resolve));
    const poller = new ModbusPoller({ device: extra, clock: systemClock, store, log, onPoll: () => ++polls >= 3 && three() });
    pollers.push(poller);
    poller.start();
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error("3 polls did not happen within 10 s")), 10_000))]);
    await poller.stop();
    expect(value(extra, "humidityPct")).toMatchObject({ quality: "good" });
    expect(poller.status().failures).toBeGreaterThanOrEqual(3);
    expect(poller.status().lastError).toMatch(/1 point write\(s\) failed: update of undeclared point room-extra\/undeclared/);
    expect(logs.some((l) => l.device === "room-extra" && l.msg === "writing point values failed")).toBe(true);
  });

  it("a poll that overruns its interval is counted and the next starts at a free slot, never queued", async () => {
    // 100x clock: a 300 ms interval is 3 ms of real time, shorter than 7 requests take.
    const clock = acceleratedClock(100);
    const fast: Device = { ...cab, id: "cab-fast", pollIntervalMs: 300, timeoutMs: 100, staleAfterMs: 900 };
    for (const p of fast.points) store.declare({ key: pointKey(fast.id, p.pointId), deviceId: fast.id, pointId: p.pointId, unit: p.def.unit }, fast.staleAfterMs);
    const results: PollResult[] = [];
    let enough: () => void = () => undefined;
    const got = new Promise<void>((resolve) => (enough = resolve));
    const poller = new ModbusPoller({ device: fast, clock, store, log, onPoll: (r) => (results.push(r), results.length >= 20 && enough()) });
    pollers.push(poller);
    poller.start();
    await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error("20 polls did not happen within 40 s")), 40_000))]);
    await poller.stop();
    const overruns = results.filter((r) => r.overrun).length;
    expect(overruns).toBeGreaterThan(0);
    expect(poller.status().overruns).toBe(overruns);
    for (let i = 1; i < results.length; i++) {
      const prev = results[i - 1]!;
      // Each poll starts after the previous one ended: overruns skip slots, they do not pile up.
      expect(results[i]!.startedAt).toBeGreaterThanOrEqual(prev.startedAt + prev.durationMs);
    }
  }, 60_000);
});
