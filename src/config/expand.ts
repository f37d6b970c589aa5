// Expands a profile into the concrete points of one device: plain points as they are, SunSpec
// points once per string / module / cell of the device's layout. Point ids name the position:
// `s1/voltV` (string 1), `s1/m3/voltV` (module 3 of string 1), `s1/m3/c7/tempC` (cell 7).
import type { Profile, SunspecPointDef } from "./profile-schema.js";
import type { BatteryPosition, DevicePoint, Layout } from "./types.js";

export function sunspecPointId(def: SunspecPointDef, pos: BatteryPosition): string {
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

export function expandPoints(profile: Profile, layout: Layout | undefined): DevicePoint[] {
  const points: DevicePoint[] = profile.points.map((def) => ({ source: "plain" as const, pointId: def.id, def }));
  if (profile.sunspec !== undefined && layout !== undefined) {
    for (const def of profile.sunspec.points) {
      for (const position of sunspecPositions(def, layout)) {
        points.push({ source: "sunspec", pointId: sunspecPointId(def, position), def, position });
      }
    }
  }
  return points;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
