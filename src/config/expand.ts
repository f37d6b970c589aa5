// Expands a profile into the concrete points of one device: plain points as they are, SunSpec
// points once per string / module / cell of the device's layout. Point ids name the position:
// `s1/voltV` (string 1), `s1/m3/voltV` (module 3 of string 1), `s1/m3/c7/tempC` (cell 7).
import type { OpcuaNodeDef, OpcuaProfile, Profile, SunspecPointDef } from "./profile-schema.js";
import type { BatteryPosition, DevicePoint, Layout, OpcuaDevicePoint } from "./types.js";

export function sunspecPointId(def: SunspecPointDef | OpcuaNodeDef, pos: BatteryPosition): string {
  const parts: string[] = [];
  if (pos.string !== undefined) parts.push(`s${pos.string}`);
  if (pos.module !== undefined) parts.push(`m${pos.module}`);
  if (pos.cell !== undefined) parts.push(`c${pos.cell}`);
  parts.push(def.id);
  return parts.join("/");
}

/** Positions a SunSpec point occurs at, given the device's layout. */
export function sunspecPositions(def: SunspecPointDef, layout: Layout): BatteryPosition[] {
  const out: BatteryPosition[] = [];
  const strings = range(layout.strings);
  const modules = range(layout.modulesPerString);
  const cells = range(layout.cellsPerModule);
  switch (def.model) {
    case 802:
      out.push({});
      break;
    case 804:
      for (const s of strings) {
        if (def.group) for (const m of modules) out.push({ string: s, module: m });
        else out.push({ string: s });
      }
      break;
    case 805:
      for (const s of strings)
        for (const m of modules) {
          if (def.group) for (const c of cells) out.push({ string: s, module: m, cell: c });
          else out.push({ string: s, module: m });
        }
      break;
  }
  return out;
}

/** The point that says whether a SunSpec device holds more than its layout (see LayoutPointDef). */
export const LAYOUT_POINT_ID = "layout";

export function expandPoints(profile: Profile, layout: Layout | undefined): DevicePoint[] {
  const points: DevicePoint[] = profile.points.map((def) => ({ source: "plain" as const, pointId: def.id, def }));
  if (profile.sunspec !== undefined && layout !== undefined) {
    // First, so that the comm_loss rule, which reads a device's points in order, sees it at once.
    points.unshift({ source: "layout", pointId: LAYOUT_POINT_ID, def: { id: LAYOUT_POINT_ID, unit: "elements" } });
    for (const def of profile.sunspec.points) {
      for (const position of sunspecPositions(def, layout)) {
        points.push({ source: "sunspec", pointId: sunspecPointId(def, position), def, position });
      }
    }
  }
  return points;
}

/**
 * OPC UA profile nodes as device points: a node with `per` once per string, module or cell of the
 * layout (its {string}/{module}/{cell} placeholders filled in), ids named as SunSpec points are, so
 * rules read `cab1/s1/m3/c7/tempC` whichever protocol the cabinet speaks.
 */
export function expandOpcuaPoints(profile: OpcuaProfile, layout: Layout | undefined): OpcuaDevicePoint[] {
  const out: OpcuaDevicePoint[] = [];
  for (const def of profile.nodes) {
    const positions = def.per === undefined ? [{}] : layout === undefined ? [] : opcuaPositions(def.per, layout);
    const deadband = def.deadband ?? profile.defaults.deadband;
    for (const position of positions) {
      out.push({
        source: "opcua",
        pointId: sunspecPointId(def, position),
        def,
        node: fillNode(def.node, position),
        position,
        samplingIntervalMs: def.sampling_interval_ms ?? profile.defaults.sampling_interval_ms,
        queueSize: def.queue_size ?? profile.defaults.queue_size,
        ...(deadband !== undefined ? { deadband } : {}),
      });
    }
  }
  return out;
}

function opcuaPositions(per: "string" | "module" | "cell", layout: Layout): BatteryPosition[] {
  const out: BatteryPosition[] = [];
  for (const s of range(layout.strings)) {
    if (per === "string") {
      out.push({ string: s });
      continue;
    }
    for (const m of range(layout.modulesPerString)) {
      if (per === "module") out.push({ string: s, module: m });
      else for (const c of range(layout.cellsPerModule)) out.push({ string: s, module: m, cell: c });
    }
  }
  return out;
}

function fillNode(node: string, pos: BatteryPosition): string {
  return node
    .replaceAll("{string}", String(pos.string ?? ""))
    .replaceAll("{module}", String(pos.module ?? ""))
    .replaceAll("{cell}", String(pos.cell ?? ""));
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
