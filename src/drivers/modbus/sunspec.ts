// SunSpec discovery (docs/sources.md#sunspec-map): find the "SunS" marker, walk the model chain to its end, and
// map a device's expanded SunSpec points onto absolute register addresses, checking that the chain
// holds the strings, modules and cells the site's layout says. Reads go through a function the
// poller passes in, so this file knows the map, not the socket.
import { DeviceLayoutError } from "../../errors.js";
import { sunspecModelShape, type SunspecModelId } from "../../config/profile-schema.js";
import type { DevicePoint, Layout } from "../../config/types.js";

/** One model in the chain. `address` is where its ID register sits; `length` is its L. */
export interface ModelInstance {
  readonly id: number;
  readonly address: number;
  readonly length: number;
  /** 805 only: the string and module this instance describes (offsets 2 and 3). */
  readonly strIdx?: number;
  readonly modIdx?: number;
}

/** Reads `count` registers from `address` of the table the SunSpec map lives in. */
export type ReadRegisters = (address: number, count: number) => Promise<readonly number[]>;

/** Bounds on the walk, so a corrupt chain cannot loop or read forever (firebreak's choice). */
export interface WalkLimits {
  readonly maxModels: number;
  readonly maxRegisters: number;
}
export const DEFAULT_WALK_LIMITS: WalkLimits = { maxModels: 200, maxRegisters: 10_000 };

/** "SunS" (docs/sources.md#sunspec-map). */
const MARKER = [0x5375, 0x6e53] as const;
const END_ID = 0xffff;

const hex = (w: number | undefined): string => (w === undefined ? "nothing" : `0x${w.toString(16).toUpperCase().padStart(4, "0")}`);

/** Walk the model chain from `baseAddress`. Read failures propagate; a malformed chain is a DeviceLayoutError. */
export async function discoverModels(deviceId: string, baseAddress: number, read: ReadRegisters, limits: WalkLimits = DEFAULT_WALK_LIMITS): Promise<ModelInstance[]> {
  const marker = await read(baseAddress, 2);
  if (marker[0] !== MARKER[0] || marker[1] !== MARKER[1]) {
    throw new DeviceLayoutError(deviceId, `no SunSpec marker "SunS" (0x5375 0x6E53) at ${baseAddress}: found ${hex(marker[0])} ${hex(marker[1])}`);
  }
  const models: ModelInstance[] = [];
  let address = baseAddress + 2;
  for (;;) {
    if (models.length >= limits.maxModels || address - baseAddress > limits.maxRegisters) {
      throw new DeviceLayoutError(deviceId, `SunSpec chain from ${baseAddress} has no end marker (0xFFFF) within ${limits.maxModels} models / ${limits.maxRegisters} registers`);
    }
    if (address + 2 > 65536) throw new DeviceLayoutError(deviceId, `SunSpec chain from ${baseAddress} runs past address 65535 without an end marker`);
    const [id, length] = await read(address, 2);
    if (id === undefined || length === undefined) throw new DeviceLayoutError(deviceId, `short read of the model header at ${address}`);
    if (id === END_ID) return models;
    if (id === 805 && length >= 2) {
      const [strIdx, modIdx] = await read(address + 2, 2);
      models.push({ id, address, length, ...(strIdx !== undefined ? { strIdx } : {}), ...(modIdx !== undefined ? { modIdx } : {}) });
    } else {
      models.push({ id, address, length });
    }
    address += 2 + length;
  }
}

/** Where one SunSpec point and its scale factor sit. */
export interface SunspecAddress {
  readonly address: number;
  readonly sfAddress?: number;
}

/** Repeating groups in an instance, computed from L (docs/sources.md#sunspec-offsets: "compute repeating-group counts from L"). */
function groupCount(m: ModelInstance): number | undefined {
  const shape = sunspecModelShape[m.id as SunspecModelId];
  if (shape === undefined) return undefined;
  const rest = m.length + 2 - shape.fixed;
  if (rest < 0) return undefined;
  if (shape.group === 0) return 0;
  return rest % shape.group === 0 ? rest / shape.group : undefined;
}

/**
 * Map every SunSpec point of a device to absolute addresses, keyed by point id. 802 points use the
 * first 802 instance, string n the n-th 804 instance, module (s, m) the 805 instance whose
 * StrIdx/ModIdx are s/m. A chain that does not hold what `layout` says is a DeviceLayoutError
 * listing every difference.
 */
export function mapSunspecPoints(deviceId: string, layout: Layout, points: readonly DevicePoint[], models: readonly ModelInstance[]): Map<string, SunspecAddress> {
  const problems: string[] = [];
  const base802 = models.find((m) => m.id === 802);
  const strings = models.filter((m) => m.id === 804);
  const modules = new Map<string, ModelInstance>();
  for (const m of models) if (m.id === 805 && !modules.has(`${m.strIdx}/${m.modIdx}`)) modules.set(`${m.strIdx}/${m.modIdx}`, m);
  for (const m of models) {
    if ((m.id === 802 || m.id === 804 || m.id === 805) && groupCount(m) === undefined) {
      const s = sunspecModelShape[m.id];
      problems.push(`model ${m.id} at ${m.address} has L=${m.length}, which is not ${s.fixed - 2}${s.group > 0 ? ` + a multiple of ${s.group}` : " or more"}`);
    }
  }
  const uses = new Set(points.flatMap((p) => (p.source === "sunspec" ? [p.def.model] : [])));
  if (uses.has(802) && base802 === undefined) problems.push("no model 802 (battery base) in the chain");
  if (uses.has(804) && strings.length < layout.strings) problems.push(`layout has ${layout.strings} strings, the chain holds ${strings.length} model 804 instances`);
  if (uses.has(805)) {
    const missing: string[] = [];
    for (let s = 1; s <= layout.strings; s++) for (let m = 1; m <= layout.modulesPerString; m++) if (!modules.has(`${s}/${m}`)) missing.push(`s${s}/m${m}`);
    if (missing.length > 0) {
      const found = [...modules.keys()].map((k) => `s${k.replace("/", "/m")}`);
      problems.push(`layout has ${layout.strings}x${layout.modulesPerString} modules, no model 805 for ${list(missing)} (found ${found.length === 0 ? "none" : list(found)})`);
    }
  }
  const wantGroups = (m: ModelInstance, want: number, what: string): void => {
    const n = groupCount(m);
    if (n !== undefined && n < want) problems.push(`model ${m.id} at ${m.address} holds ${n} ${what}, layout needs ${want}`);
  };
  if (uses.has(804)) for (const m of strings.slice(0, layout.strings)) if (points.some((p) => p.source === "sunspec" && p.def.model === 804 && p.def.group)) wantGroups(m, layout.modulesPerString, "module groups");
  if (uses.has(805) && points.some((p) => p.source === "sunspec" && p.def.model === 805 && p.def.group)) for (const m of modules.values()) wantGroups(m, layout.cellsPerModule, "cell groups");
  if (problems.length > 0) throw new DeviceLayoutError(deviceId, `SunSpec map does not match the layout: ${problems.join("; ")}`);

  const out = new Map<string, SunspecAddress>();
  for (const p of points) {
    if (p.source !== "sunspec") continue;
    const { def, position } = p;
    const inst =
      def.model === 802 ? base802 : def.model === 804 ? strings[(position.string ?? 0) - 1] : modules.get(`${position.string}/${position.module}`);
    if (inst === undefined) throw new DeviceLayoutError(deviceId, `no model ${def.model} instance for ${p.pointId}`);
    const shape = sunspecModelShape[def.model];
    const groupIndex = def.model === 804 ? position.module : position.cell;
    const address = def.group ? inst.address + shape.fixed + ((groupIndex ?? 1) - 1) * shape.group + def.offset : inst.address + def.offset;
    if (address >= inst.address + 2 + inst.length) throw new DeviceLayoutError(deviceId, `point ${p.pointId} (offset ${def.offset}) lies outside model ${def.model} at ${inst.address} (L=${inst.length})`);
    out.set(p.pointId, def.sf_offset === undefined ? { address } : { address, sfAddress: inst.address + def.sf_offset });
  }
  return out;
}

/**
 * What the chain holds beyond `layout`: strings, modules and cells nobody watches because the site
 * config does not list them, one entry per kind (empty when the layout covers the device). The other
 * direction (the layout asks for more than the chain holds) is mapSunspecPoints's DeviceLayoutError.
 */
export function layoutSurplus(layout: Layout, models: readonly ModelInstance[]): string[] {
  const out: string[] = [];
  const strings = models.filter((m) => m.id === 804);
  const modules = models.filter((m) => m.id === 805);
  const extraStrings = new Set<number>();
  strings.forEach((_, i) => i + 1 > layout.strings && extraStrings.add(i + 1));
  for (const m of modules) if (m.strIdx !== undefined && m.strIdx > layout.strings) extraStrings.add(m.strIdx);
  if (extraStrings.size > 0) out.push(`string${extraStrings.size === 1 ? "" : "s"} ${list([...extraStrings].sort((a, b) => a - b).map((s) => `s${s}`))}`);
  const extraModules = new Set<string>();
  for (const m of modules) {
    if (m.strIdx === undefined || m.modIdx === undefined || m.strIdx > layout.strings) continue;
    if (m.modIdx > layout.modulesPerString) extraModules.add(`s${m.strIdx}/m${m.modIdx}`);
  }
  // Module groups in a string's 804 count its modules even where no 805 describes them.
  strings.slice(0, layout.strings).forEach((m, i) => {
    const n = groupCount(m) ?? 0;
    for (let mod = layout.modulesPerString + 1; mod <= n; mod++) extraModules.add(`s${i + 1}/m${mod}`);
  });
  if (extraModules.size > 0) out.push(`module${extraModules.size === 1 ? "" : "s"} ${list([...extraModules])}`);
  const cellsBeyond = new Map<number, string[]>();
  for (const m of modules) {
    if (m.strIdx === undefined || m.modIdx === undefined || m.strIdx > layout.strings || m.modIdx > layout.modulesPerString) continue;
    const n = groupCount(m) ?? 0;
    if (n > layout.cellsPerModule) cellsBeyond.set(n, [...(cellsBeyond.get(n) ?? []), `s${m.strIdx}/m${m.modIdx}`]);
  }
  for (const [n, where] of cellsBeyond) {
    const cells = n === layout.cellsPerModule + 1 ? `c${n}` : `c${layout.cellsPerModule + 1}-c${n}`;
    out.push(`cells ${cells} of ${where.length === layout.strings * layout.modulesPerString ? `every module (${where.length})` : list(where)}, which hold ${n} cells`);
  }
  return out;
}

function list(items: readonly string[]): string {
  return items.length <= 6 ? items.join(", ") : `${items.slice(0, 6).join(", ")} and ${items.length - 6} more`;
}
