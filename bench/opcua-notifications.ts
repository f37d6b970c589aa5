// Notification rate and latency of the OPC UA driver for a few thousand monitored items, against
// the simulator's OPC UA server on loopback, both in this one process (as a daemon and a gateway
// on one host would not be: the figures are a floor for throughput, and include both sides' CPU).
// Run by hand: npm run build && node dist/bench/opcua-notifications.js [--cells 1536] [--period-ms 1000] [--seconds 20] [--mode None|SignAndEncrypt]
//
// Measured 2026-11-25, 2 vCPU Intel Xeon VM, Node 20.20, node-opcua 2.182.2, 3,078 items, 15 s:
//   period 1000 ms, SignAndEncrypt/Basic256Sha256: 3,078/s (all), latency p50 1651 p99 1670 ms, CPU 9 %
//   period 1000 ms, None/None:                     3,078/s (all), latency p50 1492 p99 1530 ms, CPU 10 %
//   period  250 ms, SignAndEncrypt/Basic256Sha256: 12,312/s (all), latency p50 303 p99 341 ms, CPU 46 %
//   period  100 ms, SignAndEncrypt/Basic256Sha256: 28,904/s of 30,780 offered, latency p50 134 p99 262 ms, CPU 79 %
// Latency is source timestamp -> value in the store, and is dominated by the sampling plus the
// publishing interval (each item here changes once per period), not by the driver's processing.
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { loadOpcuaProfile, shippedProfilesDir } from "../src/config/load.js";
import { expandOpcuaPoints } from "../src/config/expand.js";
import type { OpcuaDevice } from "../src/config/types.js";
import { OpcuaSubscriber } from "../src/drivers/opcua/subscriber.js";
import { pointKey } from "../src/points/point.js";
import { PointStore } from "../src/points/store.js";
import { systemClock } from "../src/runtime/clock.js";
import { startOpcuaSimServer } from "../simulators/opcua/server.js";

const { values: args } = parseArgs({
  options: {
    cells: { type: "string", default: "1536" }, // 1536 cells x (voltage, temperature) + 9 = 3081 items
    "period-ms": { type: "string", default: "1000" }, // every item changes this often; also the sampling and publishing interval
    seconds: { type: "string", default: "20" },
    mode: { type: "string", default: "SignAndEncrypt" },
  },
});
const cells = Number(args.cells);
const periodMs = Number(args["period-ms"]);
const seconds = Number(args.seconds);
const secure = args.mode !== "None";

const dir = await mkdtemp(join(tmpdir(), "fb-bench-opcua-"));
const profile = await loadOpcuaProfile(join(shippedProfilesDir(), "li-ion-bms-opcua.yaml"));
const layout = { strings: 1, modulesPerString: Math.ceil(cells / 32), cellsPerModule: Math.min(32, cells) };
const points = expandOpcuaPoints(profile, layout).map((p) => ({ ...p, samplingIntervalMs: periodMs, queueSize: 1, deadband: undefined }));
const device: OpcuaDevice = {
  protocol: "opcua",
  id: "cab1",
  zone: "z1",
  profile,
  opcua: {
    endpoint: "",
    securityMode: secure ? "SignAndEncrypt" : "None",
    securityPolicy: secure ? "Basic256Sha256" : "None",
    user: { type: "anonymous" },
    pkiDir: join(dir, "client"),
    publishingIntervalMs: periodMs,
  },
  staleAfterMs: Number.POSITIVE_INFINITY,
  silenceLimitMs: 30_000,
  layout,
  points,
};
const server = await startOpcuaSimServer({
  port: 0,
  pkiDir: join(dir, "server"),
  namespaceUri: profile.namespaceUri,
  nodes: points.map((p) => ({ node: p.node, dataType: p.def.id === "overTempAlarm" ? "Boolean" : "Double" })),
  users: [],
});
await mkdir(join(dir, "client", "trusted", "certs"), { recursive: true });
await copyFile(server.certificateFile, join(dir, "client", "trusted", "certs", basename(server.certificateFile)));

// Every item gets a new value each period, stamped with the time it was written.
let tick = 0;
const write = (): void => {
  tick++;
  const now = Date.now();
  for (const p of points) server.set(p.node, valueAt(p.def.id, tick), now);
};
write();

/** A new value each tick, inside the point's range (an out-of-range value would read bad and not count). */
function valueAt(id: string, t: number): number | boolean {
  const step = t % 100;
  switch (id) {
    case "overTempAlarm":
      return t % 2 === 0;
    case "voltV":
      return 3.3 + step / 1000; // inside both the cell [0, 5] and the pack [0, 1500] range
    case "currentA":
      return step;
    default:
      return 20 + step / 10; // temperatures, SoC, state
  }
}

const store = new PointStore({ historyCapacity: 2 });
for (const p of points) store.declare({ key: pointKey(device.id, p.pointId), deviceId: device.id, pointId: p.pointId, unit: p.def.unit }, device.staleAfterMs);
let counting = false;
let count = 0;
const latencies: number[] = [];
store.onChange((_k, v) => {
  if (!counting || v.quality !== "good") return;
  count++;
  latencies.push(Date.now() - v.sourceTs);
});
let batches = 0;
const sub = new OpcuaSubscriber({ device: { ...device, opcua: { ...device.opcua, endpoint: server.endpoint } }, clock: systemClock, store, log: pino({ level: "warn" }), onPoll: () => void batches++ });
const connectStart = Date.now();
sub.start();
while (!sub.status().connected) await new Promise((r) => setTimeout(r, 50));
const connectMs = Date.now() - connectStart;
const writer = setInterval(write, periodMs);
await new Promise((r) => setTimeout(r, 2 * periodMs + 1000)); // let the initial values drain
counting = true;
const cpu0 = process.cpuUsage();
const t0 = Date.now();
const b0 = batches;
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
const elapsedS = (Date.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
clearInterval(writer);
await sub.stop();
await server.stop();
await rm(dir, { recursive: true, force: true });

latencies.sort((a, b) => a - b);
const pct = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
const result = {
  items: points.length,
  monitored: sub.status().monitoredItems,
  security: `${device.opcua.securityMode}/${device.opcua.securityPolicy}`,
  periodMs,
  connectAndSubscribeMs: connectMs,
  seconds: Number(elapsedS.toFixed(1)),
  expectedPerS: Math.round((points.length * 1000) / periodMs),
  notificationsPerS: Math.round(count / elapsedS),
  batchesPerS: Number(((batches - b0) / elapsedS).toFixed(1)),
  // Source timestamp (written by the server side) to the value being in the store.
  latencyMs: { p50: pct(0.5), p95: pct(0.95), p99: pct(0.99), max: latencies[latencies.length - 1] ?? NaN },
  cpuPct: Number((((cpu.user + cpu.system) / 1000 / (elapsedS * 1000)) * 100).toFixed(0)),
};
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
