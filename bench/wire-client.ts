// The wire limit (forked by the harness): bare modbus-serial clients, one per device as the daemon
// has, reading exactly the daemon's request plan (same discovery, same planner) back to back for a
// fixed time, and doing nothing else with the answers.
// Usage (by the harness): node dist/bench/wire-client.js SITE_FILE SECONDS
import ModbusSerial from "modbus-serial";
import type { ModbusRTU } from "modbus-serial/ModbusRTU.js";
import { loadSiteConfig } from "../src/config/load.js";
import type { Device } from "../src/config/types.js";
import { planDevice } from "../src/drivers/modbus/device-plan.js";
import { discoverModels, mapSunspecPoints } from "../src/drivers/modbus/sunspec.js";
import type { WireResult } from "./protocol.js";

const Client = ModbusSerial as unknown as new () => ModbusRTU;
const [siteFile, secondsArg] = process.argv.slice(2);
if (siteFile === undefined || secondsArg === undefined) throw new Error("usage: wire-client SITE_FILE SECONDS");
const seconds = Number(secondsArg);
const config = await loadSiteConfig(siteFile);

interface Prepared {
  readonly client: ModbusRTU;
  readonly requests: readonly { table: string; start: number; count: number }[];
  readonly points: number;
}

async function prepare(d: Device): Promise<Prepared> {
  const client = new Client();
  if (!("host" in d.modbus)) throw new Error(`${d.id}: the wire bench speaks Modbus TCP only`);
  await client.connectTCP(d.modbus.host, { port: d.modbus.port, timeout: 5000 });
  client.setID(d.modbus.unitId);
  client.setTimeout(5000);
  const ss = d.profile.sunspec;
  let sunspec;
  if (ss !== undefined && d.layout !== undefined) {
    const models = await discoverModels(d.id, ss.baseAddress, async (a, n) => (await client.readHoldingRegisters(a, n)).data);
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
      for (const r of p.requests) {
        try {
          if (r.table === "input") await p.client.readInputRegisters(r.start, r.count);
          else await p.client.readHoldingRegisters(r.start, r.count);
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
for (const p of prepared) p.client.close(() => undefined);
process.send?.(result, () => process.exit(0));
