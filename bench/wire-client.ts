// The wire limit (forked by the harness): the daemon's own Modbus TCP client (ModbusConnection over
// src/drivers/modbus/tcp-client.ts), one per device as the daemon has, reading exactly the daemon's
// request plan (same discovery, same planner) back to back for a fixed time, and doing nothing else
// with the answers. The same client as the daemon's, so the daemon/wire ratio compares like with like
// (until issue 13 this was modbus-serial, which the daemon no longer uses).
// Usage (by the harness): node dist/bench/wire-client.js SITE_FILE SECONDS
import { loadSiteConfig } from "../src/config/load.js";
import type { Device } from "../src/config/types.js";
import { ModbusConnection } from "../src/drivers/modbus/connection.js";
import { planDevice, type DevicePlan } from "../src/drivers/modbus/device-plan.js";
import { runRequests } from "../src/drivers/modbus/poll-requests.js";
import { discoverModels, mapSunspecPoints } from "../src/drivers/modbus/sunspec.js";
import type { WireResult } from "./protocol.js";

const [siteFile, secondsArg] = process.argv.slice(2);
if (siteFile === undefined || secondsArg === undefined) throw new Error("usage: wire-client SITE_FILE SECONDS");
const seconds = Number(secondsArg);
const config = await loadSiteConfig(siteFile);

interface Prepared {
  readonly client: ModbusConnection;
  readonly requests: DevicePlan["requests"];
  readonly points: number;
}

async function prepare(d: Device): Promise<Prepared> {
  if (!("host" in d.modbus)) throw new Error(`${d.id}: the wire bench speaks Modbus TCP only`);
  const maxInFlight = d.modbus.transport === "rtu_over_tcp" ? 1 : (d.modbus.maxInFlight ?? 1);
  const client = await ModbusConnection.open({ device: d.id, host: d.modbus.host, port: d.modbus.port, unitId: d.modbus.unitId, timeoutMs: 5000, maxInFlight });
  const ss = d.profile.sunspec;
  let sunspec;
  if (ss !== undefined && d.layout !== undefined) {
    const models = await discoverModels(d.id, ss.baseAddress, (a, n) => client.read(ss.table, a, n));
    sunspec = mapSunspecPoints(d.id, d.layout, d.points, models);
  }
  const plan = planDevice(d, sunspec);
  return { client, requests: plan.requests, points: plan.points.length };
}

const prepared = await Promise.all(config.devices.map(prepare));
let cycles = 0, requests = 0, registers = 0, pointUpdates = 0, failures = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const end = t0 + seconds * 1000;
await Promise.all(
  prepared.map(async (p) => {
    while (performance.now() < end) {
      if (p.client.maxInFlight > 1) {
        // Pipelined as the daemon does it (max_in_flight): the same request runner.
        const out = await runRequests(p.client, p.requests, () => 0, 5000);
        if (out.fatal !== undefined) failures++;
        failures += out.failed.size;
        requests += p.requests.length;
        for (const r of p.requests) registers += r.count;
        cycles++;
        pointUpdates += p.points;
        continue;
      }
      for (const r of p.requests) {
        try {
          await p.client.read(r.table, r.start, r.count);
        } catch {
          failures++;
        }
        requests++;
        registers += r.count;
      }
      cycles++;
      pointUpdates += p.points;
    }
  }),
);
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const result: WireResult = { seconds: elapsed, cycles, requests, registers, pointUpdates, cpuUs: cpu.user + cpu.system, failures };
await Promise.all(prepared.map((p) => p.client.close()));
process.send?.(result, () => process.exit(0));
