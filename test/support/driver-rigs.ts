// Rigs for the driver conformance suite (test/integration/driver-conformance.test.ts): one device
// per transport against its simulator over real sockets or a real PTY pair, with the ways to lose
// and restore it and to see what the driver still holds. Each rig stops what it started, by pid.
import { realpathSync } from "node:fs";
import { readdir, readlink } from "node:fs/promises";
import { pino } from "pino";
import { expandPoints } from "../../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import type { Device, ModbusTransport, SerialLine } from "../../src/config/types.js";
import type { Driver } from "../../src/drivers/driver.js";
import { DriverFactory } from "../../src/drivers/factory.js";
import { pointKey } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { systemClock, type Clock, type TimerHandle } from "../../src/runtime/clock.js";
import { RegisterBank, startModbusTcpServer } from "../../simulators/modbus-server.js";
import { startRtuGatewayServer, startRtuSerialServer } from "../../simulators/rtu-server.js";
import { startPtyPair } from "./socat.js";
import { join } from "node:path";

/** The system clock, counting the timers that are still pending: 0 after a driver's stop(). */
export class TrackingClock implements Clock {
  readonly speed = 1;
  readonly #live = new Set<object>();
  now(): number {
    return Date.now();
  }
  get pending(): number {
    return this.#live.size;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const token = {};
    this.#live.add(token);
    const h = systemClock.setTimeout(() => (this.#live.delete(token), fn()), ms);
    return { cancel: () => (this.#live.delete(token), h.cancel()) };
  }
  setInterval(fn: () => void, ms: number): TimerHandle {
    const token = {};
    this.#live.add(token);
    const h = systemClock.setInterval(fn, ms);
    return { cancel: () => (this.#live.delete(token), h.cancel()) };
  }
}

export interface Rig {
  readonly driver: Driver;
  readonly store: PointStore;
  readonly clock: TrackingClock;
  readonly keys: readonly string[];
  /** What the driver promises: after the device is lost, every point is bad within this (one interval plus the request timeout, or the silence limit). */
  readonly lossBoundMs: number;
  /** Make the device stop answering (the server goes silent, or away). */
  lose(): Promise<void>;
  restore(): Promise<void>;
  /** Sockets or serial ports this process holds to the device now. */
  held(): Promise<number>;
  close(): Promise<void>;
}

export const POLL_MS = 200;
export const TIMEOUT_MS = 100;

const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;

/** Open file descriptors of this process on the PTY behind `link`. */
async function fdsOn(link: string): Promise<number> {
  const target = realpathSync(link);
  let n = 0;
  for (const fd of await readdir("/proc/self/fd")) if ((await readlink(`/proc/self/fd/${fd}`).catch(() => "")) === target) n++;
  return n;
}

function roomBank(): RegisterBank {
  const bank = new RegisterBank();
  bank.input[0] = 235; // 23.5 degC
  bank.input[1] = 455; // 45.5 %RH
  return bank;
}

async function modbusDevice(id: string, modbus: ModbusTransport): Promise<Device> {
  const profile = await loadProfile(join(shippedProfilesDir(), "room-sensor.yaml"));
  return { protocol: "modbus", id, zone: "z", profile, modbus, pollIntervalMs: POLL_MS, timeoutMs: TIMEOUT_MS, staleAfterMs: 3 * POLL_MS, points: expandPoints(profile, undefined) };
}

function build(device: Device, clock: TrackingClock): { driver: Driver; store: PointStore; factory: DriverFactory; keys: string[] } {
  const store = new PointStore();
  const keys = device.points.map((p) => pointKey(device.id, p.pointId));
  device.points.forEach((p, i) => store.declare({ key: keys[i]!, deviceId: device.id, pointId: p.pointId, unit: p.def.unit }, device.staleAfterMs));
  const factory = new DriverFactory({ clock, store, log: pino({ level: "silent" }) });
  return { driver: factory.create(device), store, factory, keys };
}

export async function modbusTcpRig(): Promise<Rig> {
  const server = await startModbusTcpServer({ port: 0, units: new Map([[1, roomBank()]]) });
  const clock = new TrackingClock();
  const before = sockets();
  const { driver, store, factory, keys } = build(await modbusDevice("tcp-1", { transport: "tcp", host: "127.0.0.1", port: server.port, unitId: 1 }), clock);
  return {
    driver, store, clock, keys,
    lossBoundMs: POLL_MS + TIMEOUT_MS,
    lose: async () => server.setSilent(true),
    restore: async () => server.setSilent(false),
    held: async () => sockets() - before,
    close: async () => (await factory.close(), await server.close()),
  };
}

export const LINE = (path: string, baud = 115200): SerialLine => ({ id: "rs485-a", path, baud, parity: "even", dataBits: 8, stopBits: 1, timeoutMs: TIMEOUT_MS });

export async function modbusRtuRig(): Promise<Rig> {
  const pty = await startPtyPair();
  const line = LINE(pty.a);
  const server = await startRtuSerialServer(pty.b, { baud: line.baud, dataBits: 8, parity: "even", stopBits: 1 }, { units: new Map([[3, roomBank()]]) });
  const clock = new TrackingClock();
  const { driver, store, factory, keys } = build(await modbusDevice("rtu-3", { transport: "rtu", line, unitId: 3 }), clock);
  return {
    driver, store, clock, keys,
    lossBoundMs: POLL_MS + TIMEOUT_MS,
    lose: async () => server.setSilent(3, true),
    restore: async () => server.setSilent(3, false),
    held: () => fdsOn(pty.a),
    close: async () => (await factory.close(), await server.close(), await pty.destroy()),
  };
}

export async function modbusGatewayRig(): Promise<Rig> {
  const server = await startRtuGatewayServer(0, { units: new Map([[5, roomBank()]]) });
  const clock = new TrackingClock();
  const before = sockets();
  const { driver, store, factory, keys } = build(await modbusDevice("gw-5", { transport: "rtu_over_tcp", host: "127.0.0.1", port: server.port, unitId: 5 }), clock);
  return {
    driver, store, clock, keys,
    lossBoundMs: POLL_MS + TIMEOUT_MS,
    lose: async () => server.setSilent(5, true),
    restore: async () => server.setSilent(5, false),
    held: async () => sockets() - before,
    close: async () => (await factory.close(), await server.close()),
  };
}

/** The panel of the OPC UA simulator over security None (the OPC UA driver's own tests cover the secure modes). */
export async function opcuaRig(dir: string): Promise<Rig> {
  const { mkdir, writeFile } = await import("node:fs/promises");
  const { resolve } = await import("node:path");
  const { loadSiteConfig } = await import("../../src/config/load.js");
  const { startOpcuaRoom } = await import("../../simulators/opcua/room.js");
  const { freePort } = await import("./ports.js");
  const port = await freePort();
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "site.yaml"),
    `site: dc1
profiles_dir: ${resolve("config/profiles")}
rooms: [{ id: r1, zones: [{ id: z }] }]
devices:
  - { id: panel-1, profile: clean-agent-panel-opcua, zone: z, opcua: { endpoint: "opc.tcp://127.0.0.1:${port}", publishing_interval_ms: 100, security_mode: None, security_policy: None } }
rules:
  - { id: prerelease, kind: threshold, zone: z, points: [panel-1/preRelease], levels: [{ name: high, value: 0.5, stage: alarm }] }
`,
  );
  const site = await loadSiteConfig(join(dir, "site.yaml"));
  const device = site.opcuaDevices![0]!;
  const room = await startOpcuaRoom({ site, clock: systemClock, port, pkiDir: join(dir, "sim-pki"), users: [], refreshMs: 100 });
  const clock = new TrackingClock();
  const before = sockets();
  const store = new PointStore();
  const keys = device.points.map((p) => pointKey(device.id, p.pointId));
  device.points.forEach((p, i) => store.declare({ key: keys[i]!, deviceId: device.id, pointId: p.pointId, unit: p.def.unit }, device.staleAfterMs));
  const factory = new DriverFactory({ clock, store, log: pino({ level: "silent" }) });
  return {
    driver: factory.create(device),
    store, clock, keys,
    lossBoundMs: device.silenceLimitMs,
    lose: () => room.stopServer(),
    restore: () => room.startServer(),
    held: async () => sockets() - before,
    close: async () => (await factory.close(), await room.stop()),
  };
}
