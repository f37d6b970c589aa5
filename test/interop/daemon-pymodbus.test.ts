// The daemon as its own process polls a pymodbus server (Debian's python3-pymodbus): a SunSpec
// cabinet at unit 1 and the vendor-style rack at unit 2 behind one port, and publishes every point's
// value on MQTT point telemetry (a real Mosquitto). What a subscriber gets must be what was served.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { readFile, writeFile } from "node:fs/promises";
import { startDaemon } from "../support/daemon-process.js";
import { startMosquitto } from "../support/mosquitto.js";
import { MqttRecorder, type Recorded } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";
import { RACK_INPUT, RACK_WANT, SUNSPEC_BASE, cabinetHolding } from "./maps.js";
import { requireTools, startPymodbus, type RegisterMap } from "./tools.js";

const prefix = "firebreak/v1/lab";
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (stops.length > 0) await stops.pop()!();
});

beforeAll(() => requireTools());

describe("the daemon process against pymodbus", () => {
  it("publishes each point of both devices with the value pymodbus serves", async () => {
    const cab = cabinetHolding();
    const server = await startPymodbus(
      new Map<number, RegisterMap>([
        [1, { holding: { [SUNSPEC_BASE]: cab.words } }],
        [2, { input: { 0: RACK_INPUT }, holding: { 0: [0] } }],
      ]),
    );
    stops.push(() => server.stop());
    const broker = await startMosquitto();
    stops.push(() => broker.stop());
    const port = Number(server.where);
    const file = await writeSiteFile({ source: "test/interop/commissioning-site.yaml", ports: new Map([["cab", port], ["rack", port]]), mqttUrl: broker.url, staleAfterMs: 10_000 });
    const doc = parseDocument(await readFile(file, "utf8"));
    doc.setIn(["mqtt", "client_id"], "firebreak-interop");
    doc.setIn(["mqtt", "point_telemetry"], doc.createNode({ enabled: true, min_interval_ms: 100 }));
    await writeFile(file, doc.toString());
    const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    stops.push(() => rec.stop());
    const daemon = startDaemon(file);
    stops.push(async () => void (await daemon.stop()));

    const want: [string, number | "sentinel"][] = [
      ...Object.entries(RACK_WANT).map(([id, v]): [string, number | "sentinel"] => [`rack/${id}`, v]),
      ...Object.entries(cab.want).map(([id, v]): [string, number | "sentinel"] => [`cab/${id}`, v]),
    ];
    const last = want[want.length - 1]![0];
    await rec.waitFor((m) => m.topic === `${prefix}/point/${last}`, 30_000, `telemetry of ${last}`);
    const diff: string[] = [];
    for (const [key, w] of want) {
      let m: Recorded;
      try {
        m = await rec.waitFor((x) => x.topic === `${prefix}/point/${key}`, 10_000, `telemetry of ${key}`);
      } catch (e) {
        diff.push(`${key}: ${(e as Error).message.split("\n")[0]}`);
        continue;
      }
      const j = m.json as { value: number | null; quality: string; reason?: string };
      const ok = w === "sentinel" ? j.reason === "sentinel" : j.quality === "good" && j.value !== null && Math.abs(j.value - w) < 1e-6;
      if (!ok) diff.push(`${key}: want ${w}, got ${JSON.stringify(j)}`);
    }
    expect(diff).toEqual([]);
  }, 90_000);
});
