// What every driver must do, whatever its protocol and transport (src/drivers/driver.ts): connect
// and write values with quality and source time; turn every point bad within its promised bound
// when the device is lost; recover by itself; and on stop() release every socket, serial port and
// timer. Run for Modbus TCP, Modbus RTU over a real socat PTY pair, RTU through a TCP gateway, and
// OPC UA against the OPC UA simulator. Waits are on store events with bounds that leave a loaded
// 2-core machine room; the loss bound is checked against the driver's own promise plus that slack.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PointValue } from "../../src/points/point.js";
import { modbusGatewayRig, modbusRtuRig, modbusTcpRig, opcuaRig, type Rig } from "../support/driver-rigs.js";

/** Scheduling slack of a loaded 2-core test machine, on top of a driver's promised bound. */
const SLACK_MS = 400;

function until(rig: Rig, what: string, check: (values: PointValue[]) => boolean, timeoutMs: number): Promise<PointValue[]> {
  const read = (): PointValue[] => rig.keys.map((k) => rig.store.read(k, Date.now()));
  const now = read();
  if (check(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => ((done = true), reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(read())}`))), timeoutMs);
    rig.store.onChange(() => {
      if (done) return;
      const v = read();
      if (!check(v)) return;
      done = true;
      clearTimeout(timer);
      resolve(v);
    });
  });
}

/** No event tells that the peer closed its side: a bounded poll stands in. */
async function settles(probe: () => Promise<number>, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  let n = await probe();
  while (n > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    n = await probe();
  }
  return n;
}

const allGood = (vs: PointValue[]): boolean => vs.every((v) => v.quality === "good");
const allBad = (vs: PointValue[]): boolean => vs.every((v) => v.quality === "bad" && v.reason !== "stale");

const rigs: [string, (dir: string) => Promise<Rig>, number][] = [
  ["Modbus TCP", () => modbusTcpRig(), 10_000],
  ["Modbus RTU on a serial line (socat PTY pair)", () => modbusRtuRig(), 10_000],
  ["Modbus RTU through a TCP gateway", () => modbusGatewayRig(), 10_000],
  ["OPC UA", (dir) => opcuaRig(dir), 30_000],
];

describe.each(rigs)("driver conformance: %s", (_name, make, connectMs) => {
  let rig: Rig;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fb-conformance-"));
    rig = await make(dir);
  }, 30_000);
  afterAll(async () => {
    await rig?.driver.stop();
    await rig?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("connects and writes every point good, with a source time", async () => {
    const started = Date.now();
    rig.driver.start();
    const values = await until(rig, "every point good", allGood, connectMs);
    for (const v of values) {
      expect(Number.isFinite(v.sourceTs)).toBe(true);
      expect(v.sourceTs).toBeGreaterThan(started - 60_000);
      expect(v.sourceTs).toBeLessThanOrEqual(Date.now());
    }
    const s = rig.driver.status();
    expect(s).toMatchObject({ connected: true, state: "ok" });
    expect(s.polls).toBeGreaterThan(0);
    expect(s.lastSuccessAt).toBeGreaterThanOrEqual(started);
  }, 40_000);

  it("a lost device turns every point bad within its bound (one interval plus the timeout, or the silence limit)", async () => {
    await until(rig, "every point good", allGood, connectMs);
    const lostAt = Date.now();
    await rig.lose();
    await until(rig, "every point bad", allBad, rig.lossBoundMs + SLACK_MS + 5_000);
    const took = Date.now() - lostAt;
    expect(took, `bad after ${took} ms; bound ${rig.lossBoundMs} ms + ${SLACK_MS} ms slack`).toBeLessThanOrEqual(rig.lossBoundMs + SLACK_MS);
    expect(rig.driver.status().state).not.toBe("ok");
    expect(rig.driver.status().lastError).toBeDefined();
    // A silent Modbus device is requests left unanswered: counted per device (firebreak_device_timeouts_total).
    // OPC UA has no request timeouts to count (its silence limit is a failure and a reconnect).
    if (rig.driver.protocol === "modbus") expect(rig.driver.status().timeouts).toBeGreaterThan(0);
    else expect(rig.driver.status().timeouts).toBeUndefined();
  }, 20_000);

  it("recovers by itself when the device is back", async () => {
    const failuresBefore = rig.driver.status().failures;
    await rig.restore();
    await until(rig, "every point good again", allGood, connectMs + 30_000);
    const s = rig.driver.status();
    expect(s.state).toBe("ok");
    expect(s.failures).toBeGreaterThanOrEqual(failuresBefore);
    expect(s.failures).toBeGreaterThan(0);
  }, 70_000);

  it("stop() closes every socket or serial port and clears every timer", async () => {
    expect(await rig.held()).toBeGreaterThan(0);
    await rig.driver.stop();
    expect(rig.clock.pending).toBe(0);
    expect(await settles(() => rig.held(), 3_000)).toBe(0);
    expect(rig.driver.status().state).toBe("stopped");
    const polls = rig.driver.status().polls;
    await new Promise((r) => setTimeout(r, 300));
    expect(rig.driver.status().polls).toBe(polls);
  }, 20_000);
});
