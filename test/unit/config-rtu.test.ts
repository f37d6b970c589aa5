import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { describeModbus } from "../../src/config/types.js";
import { lineGapMs } from "../../src/drivers/modbus/rtu-lines.js";
import { configIssues } from "../support/config-issues.js";

async function site(body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fb-rtu-config-"));
  const file = join(dir, "site.yaml");
  await writeFile(
    file,
    `site: dc1
profiles_dir: ${resolve("config/profiles")}
rooms: [{ id: r1, zones: [{ id: z1 }] }]
${body}
rules:
  - { id: t1, kind: threshold, zone: z1, points: ["room-1/tempC"], levels: [{ name: high, value: 40, stage: alarm }] }
`,
  );
  return file;
}

const issuesOf = (file: string): Promise<string[]> => configIssues(file);

const lines = `serial_lines:
  - { id: rs485-a, path: /dev/ttyUSB0, baud: 9600, timeout_ms: 300 }
  - { id: rs485-b, path: /dev/ttyUSB1, baud: 115200, parity: none, stop_bits: 2, inter_frame_ms: 5 }`;

describe("config: serial lines and RTU gateways", () => {
  it("loads the three Modbus transports; a line's timeout is its units' default", async () => {
    const c = await loadSiteConfig(
      await site(`${lines}
devices:
  - { id: room-1, profile: room-sensor, zone: z1, modbus: { line: rs485-a, unit_id: 3 } }
  - { id: room-2, profile: room-sensor, zone: z1, modbus: { line: rs485-a, unit_id: 4 }, timeout_ms: 200 }
  - { id: room-3, profile: room-sensor, zone: z1, modbus: { gateway: "10.0.0.5:4001", unit_id: 7, framing: rtu } }
  - { id: room-4, profile: room-sensor, zone: z1, modbus: { host: 10.0.0.6 } }`),
    );
    const [r1, r2, r3, r4] = c.devices;
    expect(r1!.modbus).toEqual({ transport: "rtu", unitId: 3, line: { id: "rs485-a", path: "/dev/ttyUSB0", baud: 9600, parity: "even", dataBits: 8, stopBits: 1, timeoutMs: 300 } });
    expect(r1!.timeoutMs).toBe(300);
    expect(r2!.timeoutMs).toBe(200);
    expect(r3!.modbus).toEqual({ transport: "rtu_over_tcp", host: "10.0.0.5", port: 4001, unitId: 7 });
    expect(r4!.modbus).toEqual({ transport: "tcp", host: "10.0.0.6", port: 502, unitId: 1 });
    expect(c.serialLines?.map((l) => l.id)).toEqual(["rs485-a", "rs485-b"]);
    expect(describeModbus(r1!.modbus)).toBe("line rs485-a (/dev/ttyUSB0) unit 3");
    expect(describeModbus(r3!.modbus)).toBe("gateway 10.0.0.5:4001 (RTU) unit 7");
  });

  it("keeps the gap at t3.5 of the baud rate at least (4.01 ms at 9600 8E1), a longer configured gap wins", async () => {
    const c = await loadSiteConfig(await site(`${lines}\ndevices:\n  - { id: room-1, profile: room-sensor, zone: z1, modbus: { line: rs485-a } }`));
    const [a, b] = c.serialLines!;
    expect(lineGapMs(a!)).toBeCloseTo(4.0104, 3);
    expect(lineGapMs(b!)).toBe(5);
    expect(lineGapMs({ ...b!, interFrameMs: 0.5 })).toBe(1.75);
  });

  it.each([
    ["an unknown line", "modbus: { line: rs485-z }", 'devices[0].modbus.line: unknown serial line "rs485-z"; known: rs485-a, rs485-b'],
    ["two forms", "modbus: { line: rs485-a, host: 10.0.0.1 }", "devices[0].modbus: give only one of host, line"],
    ["no form", "modbus: { unit_id: 2 }", "devices[0].modbus: give one of host (Modbus TCP), line (a serial_lines id) or gateway (RTU over TCP)"],
    ["a gateway without framing", 'modbus: { gateway: "10.0.0.5:4001" }', "devices[0].modbus.framing: a gateway needs framing: rtu (a Modbus TCP gateway is host/port)"],
    ["a broadcast unit id on a line", "modbus: { line: rs485-a, unit_id: 0 }", "devices[0].modbus.unit_id: an RTU unit id is 1..247 (0 is broadcast, 248-255 are reserved)"],
    ["a port with a line", "modbus: { line: rs485-a, port: 502 }", 'devices[0].modbus.port: port goes with host; a gateway\'s port is in gateway: "host:port"'],
  ])("refuses %s with a located message", async (_what, modbus, message) => {
    expect(await issuesOf(await site(`${lines}\ndevices:\n  - { id: room-1, profile: room-sensor, zone: z1, ${modbus} }`))).toEqual([message]);
  });

  it("refuses two units with one id on one line, and two lines on one port", async () => {
    const issues = await issuesOf(
      await site(`serial_lines:
  - { id: a, path: /dev/ttyUSB0 }
  - { id: b, path: /dev/ttyUSB0 }
devices:
  - { id: room-1, profile: room-sensor, zone: z1, modbus: { line: a, unit_id: 2 } }
  - { id: room-2, profile: room-sensor, zone: z1, modbus: { line: a, unit_id: 2 } }`),
    );
    expect(issues).toEqual(["serial_lines[1].path: /dev/ttyUSB0 is already line a: one port is one line (put both units on a)", "devices[1].modbus: device room-2 has the same line and unit id as room-1"]);
  });

  it("refuses 7 data bits (Modbus ASCII) and an odd baud rate", async () => {
    const issues = await issuesOf(await site(`serial_lines:\n  - { id: a, path: /dev/ttyS0, data_bits: 7, baud: 300 }\ndevices:\n  - { id: room-1, profile: room-sensor, zone: z1, modbus: { line: a } }`));
    expect(issues).toEqual(["serial_lines[0].baud: must be at least 1200 baud", "serial_lines[0].data_bits: RTU uses 8 data bits (7 is Modbus ASCII)"]);
  });

  it("max_in_flight and max_gap: a TCP device's own; max_in_flight on a serial unit or out of range is refused", async () => {
    const c = await loadSiteConfig(
      await site(`devices:
  - { id: room-1, profile: room-sensor, zone: z1, modbus: { host: 10.0.0.6, max_in_flight: 4, max_gap: 0 } }`),
    );
    expect(c.devices[0]!.modbus).toEqual({ transport: "tcp", host: "10.0.0.6", port: 502, unitId: 1, maxInFlight: 4 });
    expect(c.devices[0]!.maxGap).toBe(0);
    const issues = await issuesOf(
      await site(`${lines}
devices:
  - { id: room-1, profile: room-sensor, zone: z1, modbus: { line: rs485-a, unit_id: 3, max_in_flight: 2 } }
  - { id: room-2, profile: room-sensor, zone: z1, modbus: { host: 10.0.0.6, max_in_flight: 17 } }`),
    );
    expect(issues.join("\n")).toMatch(/devices\[0\]\.modbus\.max_in_flight: max_in_flight is for Modbus TCP/);
    expect(issues.join("\n")).toMatch(/devices\[1\]\.modbus\.max_in_flight: .*16/);
  });
});
