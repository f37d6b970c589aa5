// The work behind `firebreak modbus read | scan | sunspec`: a device's points decoded with the
// daemon's own planner and decoders, a probe of unit ids, and a walk of a SunSpec chain that
// yields the `layout:` for the site config. I/O only through a ModbusLine / RegisterReader.
import { sunspecModelShape, type ModbusTable, type SunspecModelId } from "../config/profile-schema.js";
import type { Device, Layout } from "../config/types.js";
import { DeviceLayoutError, ModbusExceptionError } from "../errors.js";
import { bad, type PointValue } from "../points/point.js";
import { classifyFailure } from "../drivers/modbus/connection.js";
import { RegisterImage } from "../drivers/modbus/decode.js";
import { planDevice } from "../drivers/modbus/device-plan.js";
import { discoverModels, layoutSurplus, mapSunspecPoints, type ModelInstance } from "../drivers/modbus/sunspec.js";
import type { ModbusLine, RegisterReader } from "./modbus-line.js";

export interface PointRow {
  readonly pointId: string;
  readonly unit: string;
  readonly value: PointValue;
}

export interface DeviceReading {
  /** The layout used: the one given, or the one the SunSpec chain holds. */
  readonly layout?: Layout;
  /** What the device holds beyond the layout (empty when it matches). */
  readonly surplus: readonly string[];
  readonly requests: number;
  readonly rows: readonly PointRow[];
}

/**
 * Read every point of `device` once, as one poll of the daemon does. For a SunSpec profile the
 * chain is walked first; a device without `layout` takes the chain's. A request answered with an
 * exception or not at all makes its points bad with that reason; the other requests still run.
 */
export async function readDevicePoints(device: Device, reader: RegisterReader, timeoutMs: number, now: () => number, expand: (layout: Layout) => Device): Promise<DeviceReading> {
  let dev = device;
  let sunspec;
  let surplus: string[] = [];
  const ss = device.profile.sunspec;
  if (ss !== undefined) {
    const models = await discoverModels(device.id, ss.baseAddress, (a, n) => reader.read(ss.table, a, n));
    if (dev.layout === undefined) {
      const found = chainLayout(models);
      if (found === undefined) throw new DeviceLayoutError(device.id, `the SunSpec chain at ${ss.baseAddress} holds no 804/805 models to take a layout from; give --layout`);
      dev = expand(found);
    }
    sunspec = mapSunspecPoints(dev.id, dev.layout!, dev.points, models);
    surplus = layoutSurplus(dev.layout!, models);
  }
  const plan = planDevice(dev, sunspec);
  const image = new RegisterImage();
  const failed = new Map<number, PointValue>();
  for (const [i, req] of plan.requests.entries()) {
    try {
      image.add(req.table, req.start, await reader.read(req.table, req.start, req.count));
    } catch (e) {
      const f = classifyFailure(e, timeoutMs);
      failed.set(i, bad(f.reason, now(), `${req.table} ${req.start}+${req.count}: ${f.detail}`));
    }
  }
  const units = new Map(dev.points.map((p) => [p.pointId, p.def.unit]));
  const ts = now();
  const rows = plan.points.map((p): PointRow => {
    const pointId = p.key.slice(dev.id.length + 1);
    const failure = p.requests.map((r) => failed.get(r)).find((v) => v !== undefined);
    return { pointId, unit: units.get(pointId) ?? "", value: failure ?? p.decoder.decode(image, ts) };
  });
  return { ...(dev.layout !== undefined ? { layout: dev.layout } : {}), surplus, requests: plan.requests.length, rows };
}

/** "gateway": exception 0x0A/0x0B, a gateway saying that no device answered behind it. */
export type ProbeOutcome = "answers" | "exception" | "gateway" | "timeout" | "comm_fail";

/** Gateway path unavailable, gateway target device failed to respond (Application Protocol §7). */
const GATEWAY_CODES: ReadonlySet<number> = new Set([0x0a, 0x0b]);

export interface ProbeResult {
  readonly unit: number;
  readonly outcome: ProbeOutcome;
  readonly detail: string;
}

export interface Probe {
  readonly table: ModbusTable;
  readonly address: number;
  readonly count: number;
}

/**
 * Probe each unit id with one cheap read, one unit at a time (a gateway or a serial line answers
 * one request at a time; the per-request timeout bounds each unit). A unit that answers with an
 * exception is there (it parsed the request); 0x0B from a gateway says nothing answered behind it.
 */
export async function scanUnits(line: ModbusLine, units: readonly number[], probe: Probe, timeoutMs: number, onResult?: (r: ProbeResult) => void): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (const unit of units) {
    let r: ProbeResult;
    try {
      const reader = await line.unit(unit);
      const values = await reader.read(probe.table, probe.address, probe.count);
      r = { unit, outcome: "answers", detail: `${probe.table} ${probe.address}: ${values.map(hex).join(" ")}` };
    } catch (e) {
      const f = classifyFailure(e, timeoutMs);
      const gateway = e instanceof ModbusExceptionError && GATEWAY_CODES.has(e.exceptionCode);
      r = { unit, outcome: gateway ? "gateway" : f.reason === "device_exception" ? "exception" : f.reason === "timeout" ? "timeout" : "comm_fail", detail: f.detail };
    }
    out.push(r);
    onResult?.(r);
  }
  return out;
}

/** One model of a walked chain, with the fields a person commissioning a cabinet looks at. */
export interface ChainModel {
  readonly id: number;
  readonly address: number;
  readonly length: number;
  /** What the model's fixed registers say: index fields, names, repeating groups. */
  readonly notes: readonly string[];
}

export interface ChainWalk {
  readonly base: number;
  readonly models: readonly ChainModel[];
  readonly layout?: Layout;
}

const MODEL_NAMES: Readonly<Record<number, string>> = { 1: "common", 802: "battery base", 803: "Li-ion bank", 804: "Li-ion string", 805: "Li-ion module" };
export const modelName = (id: number): string => MODEL_NAMES[id] ?? "not known to firebreak";

/** The SunSpec base addresses to try, in the order the SunSpec specification lists them. */
export const SUNSPEC_BASES = [40000, 0, 50000] as const;

/** Walk the chain at the first of `bases` with the "SunS" marker; undefined when none has it. */
export async function walkSunspec(reader: RegisterReader, bases: readonly number[], table: "holding" | "input" = "holding"): Promise<{ walk?: ChainWalk; tried: string[] }> {
  const tried: string[] = [];
  const read = (a: number, n: number): Promise<number[]> => reader.read(table, a, n);
  for (const base of bases) {
    let models: ModelInstance[];
    try {
      models = await discoverModels("device", base, read);
    } catch (e) {
      tried.push(`${base}: ${e instanceof DeviceLayoutError ? e.message.replace(/^device device: /, "").replace(/; fix the device's layout.*$/, "") : classifyFailure(e, 0).detail}`);
      continue;
    }
    const out: ChainModel[] = [];
    for (const m of models) out.push({ id: m.id, address: m.address, length: m.length, notes: await notesOf(m, read) });
    const layout = chainLayout(models);
    return { walk: { base, models: out, ...(layout !== undefined ? { layout } : {}) }, tried };
  }
  return { tried };
}

async function notesOf(m: ModelInstance, read: (a: number, n: number) => Promise<number[]>): Promise<string[]> {
  const groups = groupCount(m);
  switch (m.id) {
    case 1: {
      const regs = await read(m.address + 2, Math.min(m.length, 64));
      const text = (from: number, n: number): string => ascii(regs.slice(from, from + n));
      return [`Mn "${text(0, 16)}"`, `Md "${text(16, 16)}"`, `Vr "${text(40, 8)}"`, `SN "${text(48, 16)}"`];
    }
    case 804: {
      const [idx, nMod] = await read(m.address + 2, 2);
      return [`Idx ${idx}`, `NMod ${nMod}`, `${groups ?? "?"} module groups`];
    }
    case 805: {
      const [, , nCell] = await read(m.address + 2, 3);
      return [`StrIdx ${m.strIdx}`, `ModIdx ${m.modIdx}`, `NCell ${nCell}`, `${groups ?? "?"} cell groups`];
    }
    case 803:
      return [`${groups ?? "?"} string groups`];
    default:
      return [];
  }
}

/** Repeating groups in an instance from its length (docs/sources.md#sunspec-offsets), undefined when L does not fit the model. */
function groupCount(m: ModelInstance): number | undefined {
  const shape = sunspecModelShape[m.id as SunspecModelId];
  if (shape === undefined) return undefined;
  const rest = m.length + 2 - shape.fixed;
  if (rest < 0 || shape.group === 0) return rest < 0 ? undefined : 0;
  return rest % shape.group === 0 ? rest / shape.group : undefined;
}

/** The layout a chain holds: strings = 804 instances, modules = the most module groups or ModIdx, cells = the most cell groups. */
export function chainLayout(models: readonly ModelInstance[]): Layout | undefined {
  const strings = models.filter((m) => m.id === 804);
  const modules = models.filter((m) => m.id === 805);
  if (strings.length === 0 && modules.length === 0) return undefined;
  const nStrings = Math.max(strings.length, ...modules.map((m) => m.strIdx ?? 0));
  const nModules = Math.max(0, ...strings.map((m) => groupCount(m) ?? 0), ...modules.map((m) => m.modIdx ?? 0));
  const nCells = Math.max(0, ...modules.map((m) => groupCount(m) ?? 0));
  if (nStrings < 1 || nModules < 1 || nCells < 1) return undefined;
  return { strings: nStrings, modulesPerString: nModules, cellsPerModule: nCells };
}

function ascii(words: readonly number[]): string {
  let s = "";
  for (const w of words) {
    for (const c of [w >> 8, w & 0xff]) {
      if (c === 0) return s;
      s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
    }
  }
  return s;
}

function hex(w: number): string {
  return `0x${w.toString(16).toUpperCase().padStart(4, "0")}`;
}
