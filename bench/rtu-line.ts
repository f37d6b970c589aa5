// How many polls a second one Modbus RTU line carries with 8 units, against the line's theoretical
// limit: `npm run build && node dist/bench/rtu-line.js [seconds]` (each case runs at least that long,
// and at least five rounds of all eight units). The line is a real socat PTY
// pair; a PTY moves bytes at memory speed, so the simulator answers each request only after the
// wire time of request and answer at the line's baud rate plus the t3.5 a slave keeps before it
// answers (simulators/rtu-server.ts `wire`); the driver adds its own t3.5 after every answer. The
// theoretical limit per request is frame(request + answer) + 2 x t3.5 with a slave that answers in
// zero time; real slaves take 1-50 ms more, which this bench does not add.
import { join } from "node:path";
import { pino } from "pino";
import { expandPoints } from "../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../src/config/load.js";
import type { Device, Layout, SerialLine } from "../src/config/types.js";
import { DriverFactory } from "../src/drivers/factory.js";
import { planDevice } from "../src/drivers/modbus/device-plan.js";
import { frameMs, rtuResponseBytes, RTU_REQUEST_BYTES, t35Ms, type CharFormat } from "../src/drivers/modbus/rtu-frame.js";
import { discoverModels, mapSunspecPoints } from "../src/drivers/modbus/sunspec.js";
import { writeSunspecImage } from "../src/drivers/modbus/sunspec-image.js";
import type { PollResult } from "../src/drivers/driver.js";
import { pointKey } from "../src/points/point.js";
import { PointStore } from "../src/points/store.js";
import { systemClock } from "../src/runtime/clock.js";
import { RegisterBank } from "../simulators/modbus-server.js";
import { startRtuSerialServer } from "../simulators/rtu-server.js";
import { startPtyPair } from "../test/support/socat.js";

const UNITS = 8;
const layout: Layout = { strings: 2, modulesPerString: 4, cellsPerModule: 8 }; // the example site's cabinets
const seconds = Number(process.argv[2] ?? 10);

async function devicesFor(kind: "room-sensor" | "li-ion-cabinet", line: SerialLine): Promise<Device[]> {
  const profile = await loadProfile(join(shippedProfilesDir(), `${kind}.yaml`));
  const lay = profile.sunspec !== undefined ? layout : undefined;
  return Array.from({ length: UNITS }, (_, i) => ({
    protocol: "modbus" as const,
    id: `${kind}-${i + 1}`,
    zone: "z",
    profile,
    modbus: { transport: "rtu" as const, line, unitId: i + 1 },
    // Back to back: the line, not the schedule, is the limit (overruns skip to the next slot).
    pollIntervalMs: 20,
    timeoutMs: 1000,
    staleAfterMs: 60_000,
    ...(lay ? { layout: lay } : {}),
    points: expandPoints(profile, lay),
  }));
}

function bank(): RegisterBank {
  const b = new RegisterBank();
  writeSunspecImage(b.holding, 40000, layout);
  b.input[0] = 235;
  b.input[1] = 455;
  return b;
}

/** The device's request plan (SunSpec discovered against a bank like the simulator's). */
async function planOf(d: Device): Promise<{ counts: number[]; fc: 3 | 4 }[]> {
  const ss = d.profile.sunspec;
  const b = bank();
  let sunspec;
  if (ss !== undefined && d.layout !== undefined) {
    const models = await discoverModels(d.id, ss.baseAddress, async (a, n) => Array.from(b.holding.subarray(a, a + n)));
    sunspec = mapSunspecPoints(d.id, d.layout, d.points, models);
  }
  return planDevice(d, sunspec).requests.map((r) => ({ counts: [r.count], fc: r.table === "input" ? 4 : 3 }));
}

async function run(kind: "room-sensor" | "li-ion-cabinet", baud: number): Promise<string> {
  const format: CharFormat = { baud, dataBits: 8, parity: "even", stopBits: 1 };
  const pty = await startPtyPair();
  const line: SerialLine = { id: "bench", path: pty.a, baud, parity: "even", dataBits: 8, stopBits: 1 };
  const server = await startRtuSerialServer(pty.b, format, { units: new Map(Array.from({ length: UNITS }, (_, i) => [i + 1, bank()])), wire: format });
  const devs = await devicesFor(kind, line);
  const plan = await planOf(devs[0]!);
  const requestMs = plan.map((r) => frameMs(RTU_REQUEST_BYTES + rtuResponseBytes(r.fc, r.counts[0]!), format) + 2 * t35Ms(format));
  const pollMs = requestMs.reduce((a, b) => a + b, 0);
  const store = new PointStore();
  for (const d of devs) for (const p of d.points) store.declare({ key: pointKey(d.id, p.pointId), deviceId: d.id, pointId: p.pointId, unit: p.def.unit }, d.staleAfterMs);
  const polls: PollResult[] = [];
  const factory = new DriverFactory({ clock: systemClock, store, log: pino({ level: "silent" }), onPoll: (r) => void polls.push(r) });
  const drivers = factory.createAll(devs);
  for (const d of drivers) d.start();
  // Warm up: every unit connected (SunSpec discovery done) before counting.
  const warmEnd = Date.now() + 60_000;
  while (!drivers.every((d) => d.status().polls > 0) && Date.now() < warmEnd) await new Promise((r) => setTimeout(r, 50));
  const from = polls.length;
  const t0 = performance.now();
  // At least five rounds of all eight units, whatever the baud rate.
  await new Promise((r) => setTimeout(r, Math.max(seconds, Math.ceil((5 * UNITS * pollMs) / 1000)) * 1000));
  const counted = polls.slice(from);
  const elapsedS = (performance.now() - t0) / 1000;
  const failed = counted.filter((p) => p.error !== undefined || p.failedRequests > 0).length;
  await Promise.all(drivers.map((d) => d.stop()));
  await factory.close();
  await server.close();
  await pty.destroy();
  const measured = counted.length / elapsedS;
  const theory = 1000 / pollMs;
  return `| ${kind} | ${baud} | ${plan.length} (${plan.map((r) => r.counts[0]).join("+")} regs) | ${pollMs.toFixed(1)} | ${theory.toFixed(1)} | ${measured.toFixed(1)} | ${((100 * measured) / theory).toFixed(0)} % | ${(measured / UNITS).toFixed(2)} | ${failed} |`;
}

const rows = ["| 8 units of | baud | requests per poll | line ms per poll (theory) | line polls/s (theory) | line polls/s (measured) | of theory | polls/s per unit | failed polls |", "|---|---|---|---|---|---|---|---|---|"];
for (const kind of ["room-sensor", "li-ion-cabinet"] as const) for (const baud of [9600, 115200]) rows.push(await run(kind, baud));
console.log(rows.join("\n"));
