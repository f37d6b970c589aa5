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

export interface SiteYamlOptions {
  readonly site: BenchSite;
  /** Port of each gateway, by gateway index. */
  readonly ports: readonly number[];
  readonly mqttUrl: string;
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly staleAfterMs: number;
  readonly profilesDir: string;
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
      modbus: { host: "127.0.0.1", port: o.ports[g.index]!, unit_id: u.unit },
      poll_interval_ms: o.pollIntervalMs,
      timeout_ms: o.timeoutMs,
      stale_after_ms: o.staleAfterMs,
      ...(u.layout === undefined ? {} : { layout: { strings: u.layout.strings, modules_per_string: u.layout.modulesPerString, cells_per_module: u.layout.cellsPerModule } }),
    })),
  );
  const rules = site.zones.flatMap((zone, i) => {
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
  const doc = {
    site: "bench",
    instance: "bench",
    rooms: [{ id: "hall", zones: site.zones.map((id) => ({ id, racks: [{ id: `R-${id}`, hosts: [`node-${id}`] }], clear_hold_s: 0 })) }],
    devices,
    rules,
    mqtt: { url: o.mqttUrl, client_id: "firebreak-bench", clean_session: true, queue_limit: 10000 },
    log: { level: "warn" },
    profiles_dir: resolve(o.profilesDir),
  };
  return stringify(doc, { lineWidth: 0 });
}
