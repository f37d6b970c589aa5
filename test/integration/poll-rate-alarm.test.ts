// Overload is never silent, end to end: the daemon from a site config polls a SunSpec cabinet whose
// simulator answers each request 60 ms late, so a poll of 6 requests takes longer than the 200 ms
// poll interval and the device is polled at about half its rate. The `cab1:poll_rate` trouble
// alarm arrives on a real Mosquitto, and returns to normal once the simulator answers at once again.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer } from "../../simulators/modbus-server.js";
import { loadSiteConfig } from "../../src/config/load.js";
import { writeSunspecImage } from "../../src/drivers/modbus/sunspec-image.js";
import { systemClock } from "../../src/runtime/clock.js";
import { FirebreakMetrics } from "../../src/outputs/http/metrics.js";
import { Daemon } from "../../src/runtime/daemon.js";
import { daemonFigures } from "../../src/runtime/observability.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder } from "../support/mqtt-recorder.js";

let dir: string;
let broker: Broker;
let server: ModbusTcpServer;
let daemon: Daemon | undefined;
let rec: MqttRecorder | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fb-poll-rate-"));
  broker = await startMosquitto();
  const bank = new RegisterBank();
  writeSunspecImage(bank.holding, 40000, { strings: 2, modulesPerString: 4, cellsPerModule: 8 });
  server = await startModbusTcpServer({ port: 0, units: new Map([[1, bank]]), responseDelayMs: 60 });
});

afterAll(async () => {
  await daemon?.stop();
  await rec?.stop();
  await server?.close();
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("poll-rate trouble alarm", () => {
  it("a device answering slower than its poll interval raises cab1:poll_rate on MQTT, and it returns to normal when the device is fast again", async () => {
    const site = `pr${process.pid}`;
    await writeFile(
      join(dir, "site.yaml"),
      `site: ${site}
profiles_dir: ${resolve("config/profiles")}
state_dir: state
rooms: [{ id: r1, zones: [{ id: z1 }] }]
devices:
  - { id: cab1, profile: li-ion-cabinet, zone: z1, modbus: { host: 127.0.0.1, port: ${server.port} }, poll_interval_ms: 200, timeout_ms: 150, layout: { strings: 2, modules_per_string: 4, cells_per_module: 8 } }
rules:
  - { id: comm-z1, kind: comm_loss, zone: z1, devices: [cab1], after_s: 30 }
mqtt: { url: "${broker.url}", client_id: firebreak-${site} }
`,
    );
    const config = await loadSiteConfig(join(dir, "site.yaml"));
    rec = await MqttRecorder.start(broker.url, `firebreak/v1/${site}/alarm/#`);
    daemon = new Daemon({ config, clock: systemClock, log: pino({ level: "silent" }), evaluateEveryMs: 200 });
    daemon.start();
    const topic = `firebreak/v1/${site}/alarm/cab1:poll_rate`;
    // 6 requests x 60 ms > 200 ms: every other slot is skipped, 2.5 polls/s of 5; judged over 2 s.
    const raised = await rec.waitFor((m) => m.topic === topic && m.json?.active === true, 30_000, "cab1:poll_rate active");
    expect(raised.json).toMatchObject({ id: "cab1:poll_rate", zone: "z1", class: "trouble", state: "unack" });
    expect(String(raised.json?.message)).toMatch(/^device cab1 polled below 90 % of its configured rate: \d\.\d\d polls\/s of 5\.00 configured over the last 2 s/);
    const status = daemon.pollerStatus().find((s) => s.device === "cab1");
    expect(status?.overruns).toBeGreaterThan(0);
    expect(status?.overloaded).toBe(true);
    // /metrics shows it too (the same figures the HTTP output serves).
    const metrics = new FirebreakMetrics(daemonFigures(daemon, config, systemClock), { defaultMetrics: false });
    const text = await metrics.text();
    expect(text).toContain('firebreak_device_poll_rate_low{device="cab1"} 1');
    expect(text).toMatch(/firebreak_device_achieved_polls_per_second\{device="cab1"\} [1-4](\.\d+)?\n/);
    server.setResponseDelay(0);
    const cleared = await rec.waitFor((m) => m.topic === topic && m.json?.active === false, 30_000, "cab1:poll_rate back to normal");
    expect(cleared.json).toMatchObject({ id: "cab1:poll_rate", state: "rtn_unack" });
    expect(await metrics.text()).toContain('firebreak_device_poll_rate_low{device="cab1"} 0');
  }, 90_000);
});
