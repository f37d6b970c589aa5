// `firebreak modbus read | scan | sunspec`: commissioning a Modbus device before it goes into the
// site config (README "Commissioning a Modbus device"). Over Modbus TCP (`--host`), Modbus RTU on a
// serial port (`--serial`) or RTU through a gateway (`--gateway`); the work is done through a
// ModbusLine (./modbus-line.ts), whatever the transport.
import { InvalidArgumentError, type Command } from "commander";
import { expandPoints } from "../config/expand.js";
import { loadProfiles, shippedProfilesDir } from "../config/load.js";
import { modbusTables, type ModbusTable, type Profile } from "../config/profile-schema.js";
import { MAX_BAUD, MIN_BAUD } from "../config/modbus-schema.js";
import type { Device, Layout, ModbusTransport, Parity } from "../config/types.js";
import { ConfigError } from "../errors.js";
import { SUNSPEC_BASES, modelName, readDevicePoints, scanUnits, walkSunspec, type ProbeResult } from "./modbus-commission.js";
import { rtuGatewayLine, rtuSerialLine, tcpLine, type ModbusLine } from "./modbus-line.js";

type Guard = (fn: () => Promise<unknown>) => Promise<void>;

/** The options as commander gives them; which transport is meant is settled by targetOf. */
interface LineOptions {
  host?: string;
  port: number;
  serial?: string;
  baud: number;
  parity: Parity;
  stopBits: 1 | 2;
  gateway?: { host: string; port: number };
  timeout: number;
}

/** Where the commands read: the line (nothing is opened before its first unit), and the transport a Device on it has. */
interface Target {
  readonly line: ModbusLine;
  readonly timeout: number;
  transport(unitId: number): ModbusTransport;
}

function intIn(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got "${v}"`);
    return n;
  };
}

/** "1-247", "1,3,10-12": unit ids 1..247 (0 is broadcast, 248..255 reserved: Modbus over Serial Line v1.02 §2.2). */
export function parseUnits(v: string): number[] {
  const out = new Set<number>();
  for (const part of v.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const a = Number(m?.[1]);
    const b = m?.[2] !== undefined ? Number(m[2]) : a;
    if (m === null || a < 1 || b > 247 || a > b) throw new InvalidArgumentError(`--units: "${part}" is not a unit id or range within 1-247 (e.g. 1-247 or 1,3,10-12)`);
    for (let u = a; u <= b; u++) out.add(u);
  }
  return [...out].sort((x, y) => x - y);
}

/** "2,4,8": strings, modules per string, cells per module. */
export function parseLayout(v: string): Layout {
  const parts = v.split(",").map((x) => Number(x.trim()));
  if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 1)) throw new InvalidArgumentError(`--layout: "${v}" is not strings,modules_per_string,cells_per_module (e.g. 2,4,8)`);
  return { strings: parts[0]!, modulesPerString: parts[1]!, cellsPerModule: parts[2]! };
}

/** "10.0.0.5:4001": an RTU-over-TCP gateway's address. */
export function parseHostPort(v: string): { host: string; port: number } {
  const m = /^([^\s:/]+):(\d{1,5})$/.exec(v);
  const port = Number(m?.[2]);
  if (m === null || port < 1 || port > 65535) throw new InvalidArgumentError(`--gateway: "${v}" is not host:port with a port in 1..65535 (e.g. 10.0.0.5:4001)`);
  return { host: m[1]!, port };
}

function parity(v: string): Parity {
  if (v !== "none" && v !== "even" && v !== "odd") throw new InvalidArgumentError(`--parity must be none, even or odd, got "${v}"`);
  return v;
}

/**
 * Exactly one of --host, --serial, --gateway, and only the options that go with it; an RTU unit id
 * (`unit`, for read and sunspec) in 1..247. Usage errors go out through commander (exit 1).
 */
function targetOf(o: LineOptions, cmd: Command, unit?: number): Target {
  const given = (k: string): boolean => cmd.getOptionValueSource(k) === "cli";
  const forms = [o.host !== undefined && "--host", o.serial !== undefined && "--serial", o.gateway !== undefined && "--gateway"].filter((f) => f !== false);
  if (forms.length === 0) cmd.error("error: give one of --host H (Modbus TCP), --serial PATH (Modbus RTU on a serial port) or --gateway HOST:PORT (Modbus RTU through a gateway)");
  if (forms.length > 1) cmd.error(`error: give only one of ${forms.join(", ")}`);
  if (given("port") && o.host === undefined) cmd.error("error: --port goes with --host; a gateway's port is in --gateway HOST:PORT");
  const serialOnly = ["baud", "parity", "stopBits"].filter(given).map((k) => `--${k === "stopBits" ? "stop-bits" : k}`);
  if (serialOnly.length > 0 && o.serial === undefined) cmd.error(`error: ${serialOnly.join(", ")} go${serialOnly.length === 1 ? "es" : ""} with --serial`);
  const timeout = o.timeout;
  if (o.host !== undefined) {
    const { host, port } = { host: o.host, port: o.port };
    return { line: tcpLine({ host, port, timeoutMs: timeout }), timeout, transport: (unitId) => ({ host, port, unitId }) };
  }
  // MODBUS over Serial Line v1.02 §2.2: 0 is broadcast (never answered), 248..255 reserved.
  if (unit !== undefined && (unit < 1 || unit > 247)) cmd.error(`error: --unit ${unit}: a unit id on a Modbus RTU line is 1..247 (0 is broadcast, which no unit answers)`);
  if (o.gateway !== undefined) {
    const { host, port } = o.gateway;
    return { line: rtuGatewayLine({ host, port, timeoutMs: timeout }), timeout, transport: (unitId) => ({ transport: "rtu_over_tcp", host, port, unitId }) };
  }
  const path = o.serial!;
  const format = { baud: o.baud, dataBits: 8, parity: o.parity, stopBits: o.stopBits } as const;
  const line = { id: "cli", path, baud: o.baud, parity: o.parity, dataBits: 8, stopBits: o.stopBits, timeoutMs: timeout } as const;
  return { line: rtuSerialLine({ path, format, timeoutMs: timeout }), timeout, transport: (unitId) => ({ transport: "rtu", line, unitId }) };
}

async function withLine<T>(t: Target, fn: (l: ModbusLine) => Promise<T>): Promise<T> {
  const l = t.line;
  try {
    return await fn(l);
  } finally {
    await l.close();
  }
}

async function profileById(id: string, dir: string | undefined): Promise<Profile> {
  const from = dir ?? shippedProfilesDir();
  const { profiles, issues } = await loadProfiles(from);
  if (issues.length > 0) throw new ConfigError(issues);
  const p = profiles.get(id);
  if (p === undefined) throw new InvalidArgumentError(`--profile: unknown Modbus profile "${id}" in ${from}; known: ${[...profiles.keys()].sort().join(", ")}`);
  return p;
}

const layoutText = (l: Layout): string => `${l.strings}x${l.modulesPerString}x${l.cellsPerModule}`;

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(10)));
}

async function readCommand(t: Target, o: { unit: number; profile: string; profiles?: string; layout?: Layout }): Promise<void> {
  const profile = await profileById(o.profile, o.profiles);
  const device = (layout: Layout | undefined): Device => ({
    id: "device",
    zone: "-",
    profile,
    modbus: t.transport(o.unit),
    pollIntervalMs: 1000,
    timeoutMs: t.timeout,
    staleAfterMs: 3000,
    ...(layout !== undefined ? { layout } : {}),
    points: expandPoints(profile, layout),
  });
  const r = await withLine(t, async (l) => readDevicePoints(device(o.layout), await l.unit(o.unit), t.timeout, Date.now, (layout) => device(layout)));
  const layoutNote = r.layout === undefined ? "" : `, layout ${layoutText(r.layout)}${o.layout === undefined ? " (from the SunSpec chain)" : ""}`;
  const out = [`${t.line.name} unit ${o.unit}, profile ${profile.id}${layoutNote}, ${r.requests} request${r.requests === 1 ? "" : "s"}`];
  const width = Math.max(5, ...r.rows.map((x) => x.pointId.length));
  out.push(`${"point".padEnd(width)}  ${"value".padEnd(16)}  quality  reason`);
  let good = 0;
  for (const { pointId, unit, value } of r.rows) {
    if (value.quality === "good") good++;
    const shown = value.value === null ? "-" : `${formatValue(value.value)}${unit === "" ? "" : ` ${unit}`}`;
    const why = value.quality === "good" ? "" : `${value.reason ?? ""}${value.detail !== undefined ? `: ${value.detail}` : ""}`;
    out.push(`${pointId.padEnd(width)}  ${shown.padEnd(16)}  ${value.quality.padEnd(7)}  ${why}`.trimEnd());
  }
  out.push(`${good} good, ${r.rows.length - good} not good`);
  if (r.surplus.length > 0) out.push(`the device holds more than this layout; not read: ${r.surplus.join("; ")}`);
  console.log(out.join("\n"));
}

async function scanCommand(t: Target, o: { units: number[]; table: ModbusTable; register: number; count: number }): Promise<void> {
  console.log(`scanning ${o.units.length} unit id(s) on ${t.line.name}: ${o.table} ${o.register}+${o.count}, ${t.timeout} ms per unit, one at a time`);
  const show = (r: ProbeResult): void => console.log(`unit ${String(r.unit).padStart(3)}  ${r.outcome.padEnd(9)}  ${r.detail}`);
  const results = await withLine(t, (l) => scanUnits(l, o.units, { table: o.table, address: o.register, count: o.count }, t.timeout, show));
  const by = (k: ProbeResult["outcome"]): number[] => results.filter((r) => r.outcome === k).map((r) => r.unit);
  const list = (u: number[]): string => (u.length === 0 ? "none" : u.join(", "));
  console.log(
    `answer: ${list(by("answers"))}; answer with an exception (present): ${list(by("exception"))}; gateway reports no device: ${by("gateway").length} unit(s); time out: ${by("timeout").length} unit(s); connection failures: ${by("comm_fail").length}`,
  );
}

async function sunspecCommand(t: Target, o: { unit: number; base?: number; table: "holding" | "input" }): Promise<void> {
  const bases = o.base !== undefined ? [o.base] : [...SUNSPEC_BASES];
  const { walk, tried } = await withLine(t, async (l) => walkSunspec(await l.unit(o.unit), bases, o.table));
  if (walk === undefined) {
    console.log(`no SunSpec chain on ${t.line.name} unit ${o.unit}:\n${tried.map((t) => `  at ${t}`).join("\n")}`);
    process.exitCode = 1;
    return;
  }
  const out = [`SunSpec chain at ${walk.base} on ${t.line.name} unit ${o.unit}: ${walk.models.length} models`];
  for (const m of walk.models) out.push(`  ${String(m.address).padStart(5)}  model ${String(m.id).padEnd(4)} L=${String(m.length).padEnd(4)} ${modelName(m.id)}${m.notes.length > 0 ? `: ${m.notes.join(", ")}` : ""}`);
  if (walk.layout === undefined) out.push("no 804/805 models: no battery layout to configure");
  else {
    out.push("", "paste into the device in the site config:");
    out.push(`  layout: { strings: ${walk.layout.strings}, modules_per_string: ${walk.layout.modulesPerString}, cells_per_module: ${walk.layout.cellsPerModule} }`);
    if (walk.base !== 40000) out.push(`and in its profile: sunspec: { base_address: ${walk.base} }`);
  }
  console.log(out.join("\n"));
}

export function registerModbus(program: Command, guard: Guard): void {
  const modbus = program.command("modbus").description("Modbus commissioning: read a device's points, scan unit ids, walk a SunSpec chain");
  const common = (c: Command): Command =>
    c
      .option("--host <host>", "Modbus TCP: the device's (or a Modbus TCP gateway's) address")
      .option("--port <n>", "Modbus TCP port", intIn("--port", 1, 65535), 502)
      .option("--serial <path>", "Modbus RTU on this serial port (e.g. /dev/ttyUSB0)")
      .option("--baud <n>", `serial baud rate (${MIN_BAUD}..${MAX_BAUD})`, intIn("--baud", MIN_BAUD, MAX_BAUD), 19200)
      .option("--parity <p>", "serial parity: none | even | odd", parity, "even" as Parity)
      .option("--stop-bits <n>", "serial stop bits: 1 | 2", (v) => intIn("--stop-bits", 1, 2)(v) as 1 | 2, 1 as 1 | 2)
      .option("--gateway <host:port>", "Modbus RTU through an RTU-over-TCP gateway (RTU frames with CRC on a TCP socket)", parseHostPort)
      .option("--timeout <ms>", "per request (and connect, or opening the port)", intIn("--timeout", 10, 60_000), 1000);
  common(modbus.command("read").description("read every point of a profile once, decoded as the daemon does, with quality and reason"))
    .option("--unit <n>", "unit id", intIn("--unit", 0, 255), 1)
    .requiredOption("--profile <id>", "profile id (config/profiles)")
    .option("--profiles <dir>", "profiles directory (default: the shipped config/profiles)")
    .option("--layout <s,m,c>", "strings,modules_per_string,cells_per_module (SunSpec profiles; default: what the chain holds)", parseLayout)
    .action((o: LineOptions & { unit: number; profile: string; profiles?: string; layout?: Layout }, cmd: Command) => {
      const t = targetOf(o, cmd, o.unit);
      return guard(() => readCommand(t, o));
    });
  common(modbus.command("scan").description("probe unit ids one at a time with one read: which answer, which give exceptions, which time out"))
    .option("--units <list>", "unit ids, e.g. 1-247 or 1,3,10-12", parseUnits, parseUnits("1-247"))
    .option("--table <t>", "holding | input | coil | discrete", (v) => {
      if (!(modbusTables as readonly string[]).includes(v)) throw new InvalidArgumentError(`--table must be one of ${modbusTables.join(", ")}`);
      return v as ModbusTable;
    }, "holding" as ModbusTable)
    .option("--register <n>", "address to read (default: the SunSpec base, 40000)", intIn("--register", 0, 65535), 40000)
    .option("--count <n>", "registers to read", intIn("--count", 1, 125), 2)
    .action((o: LineOptions & { units: number[]; table: ModbusTable; register: number; count: number }, cmd: Command) => {
      const t = targetOf(o, cmd);
      return guard(() => scanCommand(t, o));
    });
  common(modbus.command("sunspec").description("walk the SunSpec model chain (\"SunS\" at 40000, 0 or 50000) and print the layout for the site config"))
    .option("--unit <n>", "unit id", intIn("--unit", 0, 255), 1)
    .option("--base <n>", "only this base address", intIn("--base", 0, 65535))
    .option("--table <t>", "holding | input", (v) => {
      if (v !== "holding" && v !== "input") throw new InvalidArgumentError("--table must be holding or input");
      return v;
    }, "holding" as "holding" | "input")
    .action((o: LineOptions & { unit: number; base?: number; table: "holding" | "input" }, cmd: Command) => {
      const t = targetOf(o, cmd, o.unit);
      return guard(() => sunspecCommand(t, o));
    });
}
