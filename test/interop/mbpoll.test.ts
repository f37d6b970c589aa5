// mbpoll (Debian's mbpoll, libmodbus underneath) reads firebreak's simulators: every register of
// each device's map must be what firebreak's own client reads at the same (frozen) clock time, and
// the simulator must refuse what a device refuses: reads past its map (02), writes it does not
// take (01 / 02). The simulator is what the demo, the bench and the end-to-end tests trust.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { ModbusConnection } from "../../src/drivers/modbus/connection.js";
import { FakeClock } from "../../src/runtime/clock.js";
import { startSimulation, type Simulation } from "../../simulators/simulation.js";
import { freePort } from "../support/ports.js";
import { walkSunspec } from "../../src/cli/modbus-commission.js";
import { mbpoll, requireTools } from "./tools.js";

let site: SiteConfig;
let sim: Simulation;
let port: number;
const conns: ModbusConnection[] = [];

beforeAll(async () => {
  requireTools();
  site = await loadSiteConfig("test/interop/commissioning-site.yaml");
  // Both devices on one port, unit ids 1 and 2: a gateway, as the site config has them.
  port = await freePort();
  sim = await startSimulation({ site, clock: new FakeClock(), portOverride: () => port });
});

afterAll(async () => {
  for (const c of conns) await c.close();
  await sim?.stop();
});

async function own(unitId: number): Promise<ModbusConnection> {
  const c = await ModbusConnection.open({ device: `unit ${unitId}`, host: "127.0.0.1", port, unitId, timeoutMs: 2000 });
  conns.push(c);
  return c;
}

/** Read [start, end) of a register table with mbpoll in chunks of 125, and with firebreak's client; list every difference. */
async function compare(unitId: number, table: "holding" | "input", start: number, end: number): Promise<{ registers: number; differences: string[] }> {
  const c = await own(unitId);
  const differences: string[] = [];
  for (let a = start; a < end; a += 125) {
    const n = Math.min(125, end - a);
    const theirs = await mbpoll(["-m", "tcp", "-p", String(port), "-a", String(unitId), "-t", table === "holding" ? "4" : "3", "-r", String(a), "-c", String(n), "127.0.0.1"]);
    expect(theirs.code, theirs.stderr).toBe(0);
    const ours = await c.read(table, a, n);
    for (let i = 0; i < n; i++) {
      const t = theirs.values.get(a + i);
      if (t !== ours[i]) differences.push(`${table} ${a + i}: mbpoll ${t}, firebreak ${ours[i]}`);
    }
  }
  return { registers: end - start, differences };
}

describe("mbpoll against the simulators", () => {
  it("reads the SunSpec cabinet's whole chain register by register as firebreak's client does", async () => {
    const { walk } = await walkSunspec(await own(1), [40000]);
    expect(walk?.models.map((m) => m.id)).toEqual([1, 802, 804, 805, 805]);
    const last = walk!.models[walk!.models.length - 1]!;
    const end = last.address + 2 + last.length + 2; // through the end marker
    const r = await compare(1, "holding", 40000, end);
    expect(r.registers).toBe(end - 40000);
    expect(r.differences).toEqual([]);
  });

  it("reads the vendor rack's input registers as firebreak's client does, and its low-word-first 32-bit voltage as the profile decodes it", async () => {
    const r = await compare(2, "input", 0, 22);
    expect(r.differences).toEqual([]);
    const asInt = await mbpoll(["-m", "tcp", "-p", String(port), "-a", "2", "-t", "3:int", "-r", "0", "-c", "1", "127.0.0.1"]);
    const raw = await (await own(2)).read("input", 0, 2);
    expect(asInt.values.get(0)).toBe(raw[0]! + raw[1]! * 65536); // mbpoll's default 32-bit order is low word first
  });

  it("gets exception 02 past a device's map, for a cabinet register that is not one of its command registers, and for a rack register that is not writable", async () => {
    const past = await mbpoll(["-m", "tcp", "-p", String(port), "-a", "2", "-t", "3", "-r", "21", "-c", "2", "127.0.0.1"]);
    expect(past.code).not.toBe(0);
    expect(past.stderr).toMatch(/Illegal data address/);
    // The cabinet takes writes to its command registers only (802 SetOp, 804 SetCon): its "SunS" marker is not one.
    const cabWrite = await mbpoll(["-m", "tcp", "-p", String(port), "-a", "1", "-t", "4", "-r", "40000", "127.0.0.1", "7"]);
    expect(cabWrite.code).not.toBe(0);
    expect(cabWrite.stderr).toMatch(/Illegal data address/);
    const rackOk = await mbpoll(["-m", "tcp", "-p", String(port), "-a", "2", "-t", "4", "-r", "0", "127.0.0.1", "1"]);
    expect(rackOk.code, rackOk.stderr).toBe(0);
    const rackNo = await mbpoll(["-m", "tcp", "-p", String(port), "-a", "2", "-t", "4", "-r", "1", "127.0.0.1", "1"]);
    expect(rackNo.stderr).toMatch(/Illegal data address/);
  });
});
