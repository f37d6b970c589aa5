// The daemon with Modbus RTU devices from a site config: `serial_lines:` and `modbus: { line }`
// through the loader, the driver factory and the daemon, over a real socat PTY pair with the
// simulator speaking RTU on the other end; stop() leaves the serial port closed.
import { realpathSync } from "node:fs";
import { mkdtemp, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/runtime/daemon.js";
import { systemClock } from "../../src/runtime/clock.js";
import { RegisterBank } from "../../simulators/modbus-server.js";
import { startRtuSerialServer, type RtuServer } from "../../simulators/rtu-server.js";
import { startPtyPair, type PtyPair } from "../support/socat.js";

let dir: string;
let pty: PtyPair;
let server: RtuServer;
let daemon: Daemon | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fb-daemon-rtu-"));
  pty = await startPtyPair();
  const bank = (t: number): RegisterBank => {
    const b = new RegisterBank();
    b.input[0] = t;
    b.input[1] = 400;
    return b;
  };
  const format = { baud: 19200, dataBits: 8, parity: "even", stopBits: 1 } as const;
  server = await startRtuSerialServer(pty.b, format, { units: new Map([[3, bank(221)], [4, bank(222)]]), wire: format });
});

afterAll(async () => {
  await daemon?.stop();
  await server?.close();
  await pty?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe("daemon with a serial line", () => {
  it("reads two units of one line from the site config, and stop() closes the port", async () => {
    await writeFile(
      join(dir, "site.yaml"),
      `site: dc1
profiles_dir: ${resolve("config/profiles")}
state_dir: state
rooms: [{ id: r1, zones: [{ id: z1 }] }]
serial_lines:
  - { id: rs485-a, path: ${pty.a}, baud: 19200, timeout_ms: 150 }
devices:
  - { id: room-3, profile: room-sensor, zone: z1, modbus: { line: rs485-a, unit_id: 3 }, poll_interval_ms: 300 }
  - { id: room-4, profile: room-sensor, zone: z1, modbus: { line: rs485-a, unit_id: 4 }, poll_interval_ms: 300 }
rules:
  - { id: hot, kind: threshold, zone: z1, points: ["room-*/tempC"], levels: [{ name: high, value: 40, stage: alarm }] }
`,
    );
    const config = await loadSiteConfig(join(dir, "site.yaml"));
    daemon = new Daemon({ config, clock: systemClock, log: pino({ level: "silent" }), evaluateEveryMs: 100 });
    daemon.start();
    const d = daemon;
    const good = (): boolean => ["room-3/tempC", "room-4/tempC"].every((k) => d.store.read(k, Date.now()).quality === "good");
    await new Promise<void>((res, rej) => {
      if (good()) return res();
      const t = setTimeout(() => rej(new Error("room-3 and room-4 not good within 10 s")), 10_000);
      d.store.onChange(() => good() && (clearTimeout(t), res()));
    });
    expect(d.store.read("room-3/tempC", Date.now()).value).toBeCloseTo(22.1, 5);
    expect(d.store.read("room-4/tempC", Date.now()).value).toBeCloseTo(22.2, 5);
    expect(d.pollerStatus().map((s) => [s.device, s.transport, s.state])).toEqual([
      ["room-3", "rtu", "ok"],
      ["room-4", "rtu", "ok"],
    ]);
    await d.stop();
    const target = realpathSync(pty.a);
    const fds = await Promise.all((await readdir("/proc/self/fd")).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")));
    expect(fds.filter((f) => f === target)).toEqual([]);
  }, 30_000);
});
