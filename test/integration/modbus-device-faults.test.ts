// Devices that answer but cannot be trusted, over real TCP against the simulators' Modbus server,
// through the real data path (poller -> points -> rules -> alarm inputs): a device answering only
// with exceptions raises its comm_loss trouble; sentinels become faults of the rules that read them;
// a cabinet holding more strings or cells than its config is a trouble naming what is not watched.
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { alarmInputs } from "../../src/alarms/lifecycle.js";
import { expandPoints } from "../../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import type { Device, Layout, Rule } from "../../src/config/types.js";
import { ModbusPoller } from "../../src/drivers/modbus/poller.js";
import { writeSunspecImage } from "../../src/drivers/modbus/sunspec-image.js";
import { pointKey, type PointValue } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { RuleEngine } from "../../src/rules/engine.js";
import { systemClock } from "../../src/runtime/clock.js";
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer } from "../../simulators/modbus-server.js";
import { commLossRule, thresholdRule } from "../unit/fixtures-rules.js";

const logs: { msg: string; device?: string; unwatched?: string[] }[] = [];
const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) });
const servers: ModbusTcpServer[] = [];
const pollers: ModbusPoller[] = [];

afterAll(async () => {
  await Promise.all(pollers.map((p) => p.stop()));
  await Promise.all(servers.map((s) => s.close()));
});

function declare(store: PointStore, d: Device): void {
  for (const p of d.points) store.declare({ key: pointKey(d.id, p.pointId), deviceId: d.id, pointId: p.pointId, unit: p.def.unit }, d.staleAfterMs);
}

function startPoller(d: Device, store: PointStore): ModbusPoller {
  const p = new ModbusPoller({ device: d, clock: systemClock, store, log });
  pollers.push(p);
  p.start();
  return p;
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

function device(id: string, profile: Device["profile"], port: number, unitId: number, layout?: Layout): Device {
  return {
    id,
    zone: "z1",
    profile,
    modbus: { host: "127.0.0.1", port, unitId },
    pollIntervalMs: 100,
    timeoutMs: 80,
    staleAfterMs: 1000,
    ...(layout ? { layout } : {}),
    points: expandPoints(profile, layout),
  };
}

function engineFor(rules: Rule[], devices: Device[]): RuleEngine {
  return new RuleEngine({ rules, devices });
}

describe("devices that answer but cannot be trusted", () => {
  it("a device answering only with Modbus exceptions: every point bad/device_exception, comm_loss trouble, logged once", async () => {
    const bank = new RegisterBank();
    const server = await startModbusTcpServer({ port: 0, units: new Map([[1, bank]]) });
    servers.push(server);
    const profile = await loadProfile(join(shippedProfilesDir(), "room-sensor.yaml"));
    const d = device("room-exc", profile, server.port, 7); // unit 7 is not served: exception 11 to everything
    const store = new PointStore();
    declare(store, d);
    const poller = startPoller(d, store);
    const read = (id: string): PointValue => store.read(pointKey(d.id, id), Date.now());
    await until(store, "every point bad/device_exception", () => d.points.every((p) => read(p.pointId).reason === "device_exception"));
    expect(read("tempC").detail).toMatch(/input 0\+3: Modbus exception 11 \(gateway target device failed to respond\)/);

    const rule = commLossRule({ id: "comm-z1", devices: [d.id], afterMs: 0 });
    const result = engineFor([rule], [d]).evaluate(store, Date.now())[0]!;
    expect(result.active).toBe(true);
    expect(result.evidence[0]).toMatchObject({ device: "room-exc", reason: "device_exception" });
    const [trouble] = alarmInputs(rule, result);
    expect(trouble).toMatchObject({ id: "comm-z1", class: "trouble", active: true });

    // The connection stays up (exceptions are answers), and the state is logged once, not per poll.
    const pollsBefore = poller.status().polls;
    await until(store, "three more polls", () => poller.status().polls >= pollsBefore + 3);
    expect(poller.status()).toMatchObject({ state: "failing", connected: true, connectAttempts: 1 });
    expect(poller.status().exceptionResponses).toBeGreaterThanOrEqual(4);
    expect(logs.filter((l) => l.device === d.id).map((l) => l.msg)).toEqual([expect.stringMatching(/not answering correctly/)]);
  });

  it("a device reporting sentinels: its points bad/sentinel, a fault of the rule that reads them (trouble, not a pass)", async () => {
    const bank = new RegisterBank();
    bank.input[0] = 0x7fff; // tempC: open circuit
    bank.input[1] = 0xffff; // humidityPct: not available
    const server = await startModbusTcpServer({ port: 0, units: new Map([[1, bank]]) });
    servers.push(server);
    const profile = await loadProfile(join(shippedProfilesDir(), "room-sensor.yaml"));
    const d = device("room-sent", profile, server.port, 1);
    const store = new PointStore();
    declare(store, d);
    startPoller(d, store);
    const key = pointKey(d.id, "tempC");
    await until(store, "tempC bad/sentinel", () => store.read(key, Date.now()).reason === "sentinel");
    expect(store.read(pointKey(d.id, "humidityPct"), Date.now())).toMatchObject({ quality: "bad", reason: "sentinel" });
    const rule = thresholdRule({ id: "room-hot", zone: "z1", points: [key], levels: [{ name: "high", value: 40, stage: "watch" }] });
    const result = engineFor([rule], [d]).evaluate(store, Date.now())[0]!;
    expect(result.active).toBe(false);
    expect(result.faults[0]).toMatchObject({ point: key, reason: "sentinel" });
    expect(alarmInputs(rule, result)[1]).toMatchObject({ id: "room-hot:fault", class: "trouble", active: true });
  });

  it("a cabinet holding more strings and cells than its config: the configured cells are read, the rest is a trouble naming them", async () => {
    const config: Layout = { strings: 2, modulesPerString: 4, cellsPerModule: 8 };
    const actual: Layout = { strings: 3, modulesPerString: 4, cellsPerModule: 16 };
    const bank = new RegisterBank();
    const map = writeSunspecImage(bank.holding, 40000, actual);
    for (let s = 1; s <= actual.strings; s++)
      for (let m = 1; m <= actual.modulesPerString; m++) {
        bank.holding[map.at805(s, m, 43)] = 0xffff; // Tmp_SF -1
        for (let c = 1; c <= actual.cellsPerModule; c++) bank.holding[map.at805(s, m, 1, c)] = 250; // 25.0 degC
      }
    const server = await startModbusTcpServer({ port: 0, units: new Map([[1, bank]]) });
    servers.push(server);
    const profile = await loadProfile(join(shippedProfilesDir(), "li-ion-cabinet.yaml"));
    const d = device("cab-big", profile, server.port, 1, config);
    const store = new PointStore();
    declare(store, d);
    const poller = startPoller(d, store);
    const layoutKey = pointKey(d.id, "layout");
    await until(store, "layout point bad/config", () => store.read(layoutKey, Date.now()).reason === "config");
    const v = store.read(layoutKey, Date.now());
    expect(v.detail).toBe("device holds more than its layout of 2 strings x 4 modules x 8 cells; not watched: string s3; cells c9-c16 of every module (8), which hold 16 cells");
    expect(poller.status().layoutMismatch).toBe(v.detail);
    // What the config names is still watched.
    expect(store.read(pointKey(d.id, "s2/m4/c8/tempC"), Date.now())).toMatchObject({ quality: "good", value: 25 });

    const rule = commLossRule({ id: "comm-z1", devices: [d.id], afterMs: 0 });
    const result = engineFor([rule], [d]).evaluate(store, Date.now())[0]!;
    expect(result.active).toBe(false); // the device answers
    expect(result.faults).toEqual([expect.objectContaining({ device: "cab-big", point: layoutKey, reason: "config" })]);
    const fault = alarmInputs(rule, result)[1]!;
    expect(fault).toMatchObject({ id: "comm-z1:fault", class: "trouble", active: true });
    expect(fault.message).toMatch(/not watched: string s3; cells c9-c16 of every module/);

    // Logged once, however many polls follow.
    const pollsBefore = poller.status().polls;
    await until(store, "three more polls", () => poller.status().polls >= pollsBefore + 3);
    const mine = logs.filter((l) => l.device === d.id);
    expect(mine.filter((l) => /more than its configured layout/.test(l.msg))).toHaveLength(1);
    expect(mine.find((l) => /more than its configured layout/.test(l.msg))?.unwatched).toEqual(["string s3", "cells c9-c16 of every module (8), which hold 16 cells"]);
  });
});
