// The bench's site: Li-ion cabinets (the shipped li-ion-cabinet profile, bigger layouts) and an
// off-gas detector per zone, several unit ids per gateway port, and rules like the example site's,
// sized to a point count. Pure: returns the YAML text and where every injectable cell sits.
import { stringify } from "yaml";
import { resolve } from "node:path";

export interface Layout {
  readonly strings: number;
  readonly modulesPerString: number;
  readonly cellsPerModule: number;
}

/** One bench size: `cabinets` cabinets of one layout, one zone (cabinet + detector) each. */
export interface BenchSize {
  readonly target: number;
  readonly cabinets: number;
  readonly layout: Layout;
}

// Layouts chosen so the point count lands near the target (points per cabinet:
// 10 + 5·S + S·M·(1 + 2·C)) and a cabinet's SunSpec chain stays under the driver's 10,000-register
// discovery bound (src/drivers/modbus/sunspec.ts DEFAULT_WALK_LIMITS).
export const SIZES: readonly BenchSize[] = [
  { target: 1_000, cabinets: 4, layout: { strings: 1, modulesPerString: 8, cellsPerModule: 15 } },
  { target: 10_000, cabinets: 8, layout: { strings: 2, modulesPerString: 8, cellsPerModule: 38 } },
  { target: 50_000, cabinets: 18, layout: { strings: 4, modulesPerString: 14, cellsPerModule: 24 } },
  { target: 100_000, cabinets: 36, layout: { strings: 4, modulesPerString: 14, cellsPerModule: 24 } },
];

/** Points the li-ion-cabinet profile expands to for a layout (802: 10, 804: 5 per string, 805: 1 + 2 per cell per module). */
export function cabinetPoints(l: Layout): number {
  return 10 + 5 * l.strings + l.strings * l.modulesPerString * (1 + 2 * l.cellsPerModule);
}
/** offgas-detector profile: ppm, lflPct, sensorFault, warmingUp. */
export const DETECTOR_POINTS = 4;

/** Zones served per gateway port: each zone is a cabinet (unit 1..) and its detector (unit 101..). */
export const ZONES_PER_GATEWAY = 4;
export const DETECTOR_UNIT_BASE = 100;

export interface BenchUnit {
  readonly unit: number;
  readonly kind: "cabinet" | "detector";
  readonly deviceId: string;
  readonly zone: string;
  readonly layout?: Layout;
}

export interface Gateway {
  /** Index into the sim processes that serves it. */
  readonly index: number;
  readonly units: readonly BenchUnit[];
}

export interface BenchSite {
  readonly size: BenchSize;
  readonly points: number;
  readonly zones: readonly string[];
  readonly gateways: readonly Gateway[];
}

export function benchSite(size: BenchSize): BenchSite {
  const gateways: { index: number; units: BenchUnit[] }[] = [];
  const zones: string[] = [];
  for (let z = 0; z < size.cabinets; z++) {
    const g = Math.floor(z / ZONES_PER_GATEWAY);
    gateways[g] ??= { index: g, units: [] };
    const zone = `z${z + 1}`;
    zones.push(zone);
    const slot = (z % ZONES_PER_GATEWAY) + 1;
    gateways[g].units.push({ unit: slot, kind: "cabinet", deviceId: `cab${z + 1}`, zone, layout: size.layout });
    gateways[g].units.push({ unit: DETECTOR_UNIT_BASE + slot, kind: "detector", deviceId: `gas${z + 1}`, zone });
  }
  return { size, points: size.cabinets * (cabinetPoints(size.layout) + DETECTOR_POINTS), zones, gateways };
}

/**
 * What the rules look like (issue 13's scale shapes), over the same devices:
 * - `site`: today's SunSpec site, 7 rules per cabinet zone (the injections run only here);
 * - `hall-rule`: one threshold rule over every point of the site (a hall-wide "any cell above");
 * - `zone-400`: one zone holding 400 threshold rules, the cell points split among them (by module or cell);
 * - `zones-400`: 400 zones of one threshold rule each, the cell points split among them likewise.
 */
export const SHAPES = ["site", "hall-rule", "zone-400", "zones-400"] as const;
export type Shape = (typeof SHAPES)[number];
/** Rules of `zone-400`, zones of `zones-400`. */
export const SHAPE_COUNT = 400;

/**
 * Globs that together cover every cell point (tempC and voltV) of the site once, in site order:
 * one per module when the site has at least SHAPE_COUNT modules, else one per cell (a list of
 * plain keys would pass the config loader's 1 MiB file limit at 100k points).
 */
export function cellGlobs(site: BenchSite): string[] {
  const cabinets = site.gateways.flatMap((g) => g.units.filter((u) => u.layout !== undefined));
  const modules = cabinets.reduce((n, u) => n + u.layout!.strings * u.layout!.modulesPerString, 0);
  const out: string[] = [];
  for (const u of cabinets) {
    const l = u.layout!;
    for (let s = 1; s <= l.strings; s++)
      for (let m = 1; m <= l.modulesPerString; m++) {
        if (modules >= SHAPE_COUNT) out.push(`${u.deviceId}/s${s}/m${m}/*/*`);
        else for (let c = 1; c <= l.cellsPerModule; c++) out.push(`${u.deviceId}/s${s}/m${m}/c${c}/*`);
      }
  }
  return out;
}

/** `keys` split into `parts` contiguous chunks (sizes differ by at most one). */
function chunks(keys: readonly string[], parts: number): string[][] {
  return Array.from({ length: parts }, (_, k) => keys.slice(Math.floor((k * keys.length) / parts), Math.floor(((k + 1) * keys.length) / parts)));
}

/** Levels no reading of the bench reaches: the shapes measure cost, not alarms. */
const QUIET_LEVELS = [{ name: "high", value: 1000, stage: "pre_alarm" }];

function shapeRules(site: BenchSite, shape: Exclude<Shape, "site">): { zones: string[]; rules: Record<string, unknown>[] } {
  switch (shape) {
    case "hall-rule":
      return { zones: site.zones.slice(), rules: [{ id: "hall-any-hot", kind: "threshold", zone: site.zones[0], points: ["*/**"], levels: QUIET_LEVELS }] };
    case "zone-400":
      return { zones: site.zones.slice(), rules: chunks(cellGlobs(site), SHAPE_COUNT).map((points, k) => ({ id: `r${k + 1}`, kind: "threshold", zone: site.zones[0], points, levels: QUIET_LEVELS })) };
    case "zones-400": {
      const zones = Array.from({ length: SHAPE_COUNT }, (_, k) => `q${k + 1}`);
      return { zones: [...site.zones, ...zones], rules: chunks(cellGlobs(site), SHAPE_COUNT).map((points, k) => ({ id: `r${k + 1}`, kind: "threshold", zone: zones[k], points, levels: QUIET_LEVELS })) };
    }
  }
}

export interface SiteYamlOptions {
  readonly site: BenchSite;
  /** Default `site`. */
  readonly shape?: Shape;
  /** Port of each gateway, by gateway index. */
  readonly ports: readonly number[];
  readonly mqttUrl: string;
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly staleAfterMs: number;
  readonly profilesDir: string;
  /** Every device's `modbus.max_in_flight` (requests of one poll on the wire at once); absent: the default, 1. */
  readonly maxInFlight?: number;
}

/** Temperatures the injections step to (°C): `warm` raises pre_alarm only; `runaway` makes two rules alarm (evacuate). */
export const WARM_C = 70;
export const RUNAWAY_C = 200;
export const NOMINAL_C = 25;

export function siteYaml(o: SiteYamlOptions): string {
  const { site } = o;
  const devices = site.gateways.flatMap((g) =>
    g.units.map((u) => ({
      id: u.deviceId,
      profile: u.kind === "cabinet" ? "li-ion-cabinet" : "offgas-detector",
      zone: u.zone,
      modbus: { host: "127.0.0.1", port: o.ports[g.index]!, unit_id: u.unit, ...(o.maxInFlight === undefined ? {} : { max_in_flight: o.maxInFlight }) },
      poll_interval_ms: o.pollIntervalMs,
      timeout_ms: o.timeoutMs,
      stale_after_ms: o.staleAfterMs,
      ...(u.layout === undefined ? {} : { layout: { strings: u.layout.strings, modules_per_string: u.layout.modulesPerString, cells_per_module: u.layout.cellsPerModule } }),
    })),
  );
  const shaped = o.shape === undefined || o.shape === "site" ? undefined : shapeRules(site, o.shape);
  const siteRules = site.zones.flatMap((zone, i) => {
    const cab = `cab${i + 1}`;
    const gas = `gas${i + 1}`;
    return [
      // Like the example site's rules; levels chosen so a WARM_C step is pre_alarm (not latching)
      // and a RUNAWAY_C step is two rules at alarm (double knock: evacuate).
      { id: `gas-${zone}`, kind: "offgas", zone, points: [`${gas}/ppm`], baseline_ppm: 0, levels: [{ ppm_above_baseline: 10, stage: "pre_alarm" }, { ppm_above_baseline: 50, stage: "alarm" }], deadband: 2 },
      { id: `lfl-${zone}`, kind: "threshold", zone, points: [`${gas}/lflPct`], levels: [{ name: "high", value: 25, stage: "evacuate" }], deadband: 2 },
      { id: `ror-${zone}`, kind: "rate_of_rise", zone, points: [`${cab}/**/tempC`], rate_per_min: 2, window_s: 60, min_samples: 10, stage: "watch" },
      { id: `dev-${zone}`, kind: "deviation", zone, points: [`${cab}/*/*/*/tempC`], group_by_trim: 2, above_median: 100, deadband: 2, stage: "alarm" },
      { id: `temp-${zone}`, kind: "threshold", zone, points: [`${cab}/*/*/*/tempC`], levels: [{ name: "high", value: 60, stage: "pre_alarm" }, { name: "high_high", value: 150, stage: "alarm" }], deadband: 2 },
      { id: `volt-${zone}`, kind: "threshold", zone, points: [`${cab}/*/*/*/voltV`], levels: [{ name: "low", value: 2.5, stage: "watch" }], deadband: 0.05 },
      { id: `comm-${zone}`, kind: "comm_loss", zone, devices: [cab, gas], after_s: 10 },
    ];
  });
  const rules = shaped?.rules ?? siteRules;
  const doc = {
    site: "bench",
    instance: "bench",
    rooms: [{ id: "hall", zones: (shaped?.zones ?? site.zones).map((id) => ({ id, racks: [{ id: `R-${id}`, hosts: [`node-${id}`] }], clear_hold_s: 0 })) }],
    devices,
    rules,
    mqtt: { url: o.mqttUrl, client_id: "firebreak-bench", clean_session: true, queue_limit: 10000 },
    log: { level: "warn" },
    profiles_dir: resolve(o.profilesDir),
  };
  return stringify(doc, { lineWidth: 0 });
}
