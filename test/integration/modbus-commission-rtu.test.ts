// `firebreak modbus scan | read | sunspec` over Modbus RTU, run as processes of the built CLI: on one
// end of a socat PTY pair, with the simulator's RTU transport on the other end (answers paced by the
// wire time at 9600 baud 8E1), and once through an RTU-over-TCP gateway. The register maps are the
// interop tests' hand-encoded ones (test/interop/maps.ts), so the values checked are known here.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanUnits } from "../../src/cli/modbus-commission.js";
import { rtuGatewayLine } from "../../src/cli/modbus-line.js";
import { RegisterBank } from "../../simulators/register-bank.js";
import { startRtuGatewayServer, startRtuSerialServer, type RtuGatewayServer, type RtuServer } from "../../simulators/rtu-server.js";
import { RACK_INPUT, RACK_WANT, SUNSPEC_BASE, cabinetHolding } from "../interop/maps.js";
import { spawnCli } from "../support/daemon-process.js";
import { startPtyPair, type PtyPair } from "../support/socat.js";

const FORMAT = { baud: 9600, dataBits: 8, parity: "even", stopBits: 1 } as const;
const SERIAL = ["--baud", "9600", "--parity", "even", "--stop-bits", "1"];
const RUN_BOUND_MS = 20_000;

/** Unit 1: a SunSpec cabinet (open bank). Unit 2: the vendor-style rack, strict: no register 40000. */
function units(): { units: Map<number, RegisterBank>; want: Record<string, number> } {
  const cab = cabinetHolding();
  const c = new RegisterBank();
  c.holding.set(cab.words, SUNSPEC_BASE);
  const r = new RegisterBank();
  r.define("input", 0, RACK_INPUT.length);
  r.define("holding", 0, 1);
  r.input.set(RACK_INPUT, 0);
  return { units: new Map([[1, c], [2, r]]), want: cab.want };
}

/** Run `firebreak modbus …` to its exit (killed by pid past the bound). */
async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawnCli(["modbus", ...args]);
  let out = "";
  let err = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  const bound = setTimeout(() => child.kill("SIGKILL"), RUN_BOUND_MS);
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  clearTimeout(bound);
  return { code, out, err };
}

const row = (point: string, value: string): RegExp => new RegExp(`^${point.replace(/\//g, "\\/")}\\s+${value.replace(/[.+]/g, "\\$&")}\\s+good$`, "m");

describe("firebreak modbus over a serial port (socat PTY, simulator speaking RTU at 9600 8E1)", () => {
  let pty: PtyPair;
  let server: RtuServer;
  let want: Record<string, number>;

  beforeAll(async () => {
    pty = await startPtyPair();
    const u = units();
    want = u.want;
    server = await startRtuSerialServer(pty.b, FORMAT, { units: u.units, wire: FORMAT });
  }, 20_000);

  afterAll(async () => {
    await server?.close();
    await pty?.destroy();
  });

  it("scan finds unit 1 (SunS), unit 2 present by its exception, units 3-4 silent", async () => {
    const r = await run(["scan", "--serial", pty.a, ...SERIAL, "--units", "1-4", "--timeout", "300"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`scanning 4 unit id(s) on serial ${pty.a} 9600 8E1: holding 40000+2, 300 ms per unit, one at a time`);
    expect(r.out).toMatch(/^unit {3}1 {2}answers {4}holding 40000: 0x5375 0x6E53$/m);
    expect(r.out).toMatch(/^unit {3}2 {2}exception {2}Modbus exception 2 \(illegal data address\)$/m);
    expect(r.out).toMatch(/^unit {3}3 {2}timeout {4}no answer within 300 ms$/m);
    expect(r.out).toMatch(/^unit {3}4 {2}timeout {4}no answer within 300 ms$/m);
    expect(r.out).toContain("answer: 1; answer with an exception (present): 2; gateway reports no device: 0 unit(s); time out: 2 unit(s); connection failures: 0");
    expect(server.overlaps()).toBe(0);
  }, 30_000);

  it("sunspec walks unit 1's chain and prints the layout", async () => {
    const r = await run(["sunspec", "--serial", pty.a, ...SERIAL, "--unit", "1"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`SunSpec chain at 40000 on serial ${pty.a} 9600 8E1 unit 1: 4 models`); // the hand-made chain has no model 1
    expect(r.out).toMatch(/model 804 {2}L=\d+ +Li-ion string: Idx 1, NMod 2, 2 module groups/);
    expect(r.out).toContain("layout: { strings: 1, modules_per_string: 2, cells_per_module: 4 }");
  }, 30_000);

  it("read decodes every point of the cabinet and of the rack good, with the values served", async () => {
    const cab = await run(["read", "--serial", pty.a, ...SERIAL, "--unit", "1", "--profile", "li-ion-cabinet"]);
    expect(cab.err).toBe("");
    expect(cab.code).toBe(0);
    expect(cab.out).toMatch(new RegExp(`^serial ${pty.a.replace(/[/.-]/g, "\\$&")} 9600 8E1 unit 1, profile li-ion-cabinet, layout 1x2x4 \\(from the SunSpec chain\\), \\d+ requests?$`, "m"));
    expect(cab.out).toMatch(/^\d+ good, 0 not good$/m);
    expect(cab.out).toMatch(row("soc", "95.5 %"));
    expect(cab.out).toMatch(row("voltV", "532.1 V"));
    for (const [id, v] of Object.entries(want).filter(([id]) => id.includes("/tempC"))) expect(cab.out).toMatch(row(id, `${v} degC`));

    const rack = await run(["read", "--serial", pty.a, ...SERIAL, "--unit", "2", "--profile", "li-ion-rack-bms"]);
    expect(rack.code).toBe(0);
    expect(rack.out).toMatch(row("voltV", `${RACK_WANT.voltV} V`));
    expect(rack.out).toMatch(row("currentA", `${RACK_WANT.currentA} A`));
    expect(rack.out).toMatch(/^mod3TempC\s+-\s+bad\s+sentinel: /m);
    expect(rack.out).toMatch(/^\d+ good, 1 not good$/m);
    expect(server.overlaps()).toBe(0);
  }, 30_000);

  it("a unit id outside 1..247 and a second transport are refused before the port is opened", async () => {
    const zero = await run(["read", "--serial", pty.a, "--unit", "0", "--profile", "li-ion-cabinet"]);
    expect(zero.code).toBe(1);
    expect(zero.err).toContain("--unit 0: a unit id on a Modbus RTU line is 1..247");
    const two = await run(["scan", "--serial", pty.a, "--host", "127.0.0.1"]);
    expect(two.code).toBe(1);
    expect(two.err).toContain("give only one of --host, --serial");
    const baud = await run(["scan", "--host", "127.0.0.1", "--baud", "9600"]);
    expect(baud.err).toContain("--baud goes with --serial");
  }, 30_000);
});

describe("firebreak modbus through an RTU-over-TCP gateway", () => {
  let gw: RtuGatewayServer;

  beforeAll(async () => {
    gw = await startRtuGatewayServer(0, { units: units().units });
  });

  afterAll(async () => {
    await gw?.close();
  });

  it("scan and read go through the gateway; the silent unit times out", async () => {
    const scan = await run(["scan", "--gateway", `127.0.0.1:${gw.port}`, "--units", "1-3", "--timeout", "300"]);
    expect(scan.err).toBe("");
    expect(scan.out).toContain(`on gateway 127.0.0.1:${gw.port} (RTU): holding 40000+2`);
    expect(scan.out).toMatch(/^unit {3}1 {2}answers {4}holding 40000: 0x5375 0x6E53$/m);
    expect(scan.out).toMatch(/^unit {3}2 {2}exception/m);
    expect(scan.out).toMatch(/^unit {3}3 {2}timeout/m);
    expect(gw.requests()).toBe(2); // frames answered: units 1 and 2
    const read = await run(["read", "--gateway", `127.0.0.1:${gw.port}`, "--unit", "1", "--profile", "li-ion-cabinet", "--layout", "1,2,4"]);
    expect(read.code).toBe(0);
    expect(read.out).toMatch(row("soc", "95.5 %"));
    expect(read.out).toMatch(/^\d+ good, 0 not good$/m);
  }, 30_000);

  it("a scan keeps one connection (one open stream) from the first unit to the last", async () => {
    // A counting relay in front of the gateway: how many connections the scan makes.
    let accepted = 0;
    const relay = net.createServer((c) => {
      accepted++;
      const up = net.connect(gw.port, "127.0.0.1");
      c.pipe(up).pipe(c);
      c.on("error", () => up.destroy());
      up.on("error", () => c.destroy());
      c.on("close", () => up.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    const line = rtuGatewayLine({ host: "127.0.0.1", port: (relay.address() as net.AddressInfo).port, timeoutMs: 200 });
    try {
      const results = await scanUnits(line, [1, 2, 3, 1], { table: "holding", address: 40000, count: 2 }, 200);
      expect(results.map((r) => r.outcome)).toEqual(["answers", "exception", "timeout", "answers"]);
      expect(accepted).toBe(1);
    } finally {
      await line.close();
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });
});
