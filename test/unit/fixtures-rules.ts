// Small hand-built SiteConfigs, rules and stores for the deciding core's unit tests, plus the
// example site loaded through the real loader for realistic scenarios.
import { loadSiteConfig } from "../../src/config/load.js";
import type { PlainPointDef, Profile } from "../../src/config/profile-schema.js";
import type {
  CommLossRule,
  Device,
  DeviationRule,
  DisagreeRule,
  OffgasRule,
  RateOfRiseRule,
  Rule,
  SiteConfig,
  StateRule,
  StuckRule,
  ThresholdRule,
  VoteRule,
  Zone,
} from "../../src/config/types.js";
import { good, pointKey, type PointValue } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";

export const T0 = Date.UTC(2026, 10, 25, 3, 0, 0);
export const STALE_MS = 3_000;

const common = { description: "", onDelayMs: 0, offDelayMs: 0 };

export function thresholdRule(p: Partial<ThresholdRule> & Pick<ThresholdRule, "id" | "points" | "levels">): ThresholdRule {
  return { zone: "z1", deadband: 0, ...common, ...p, kind: "threshold" };
}

export function rateOfRiseRule(p: Partial<RateOfRiseRule> & Pick<RateOfRiseRule, "id" | "points">): RateOfRiseRule {
  return { zone: "z1", ratePerMin: 2, windowMs: 60_000, minSamples: 10, stage: "watch", ...common, ...p, kind: "rate_of_rise" };
}

export function deviationRule(p: Partial<DeviationRule> & Pick<DeviationRule, "id" | "points">): DeviationRule {
  return { zone: "z1", aboveMedian: 8, groupByTrim: 2, minGroup: 3, deadband: 1, stage: "pre_alarm", ...common, ...p, kind: "deviation" };
}

export function offgasRule(p: Partial<OffgasRule> & Pick<OffgasRule, "id" | "points">): OffgasRule {
  return {
    zone: "z1",
    referencePoints: [],
    baselinePpm: 0,
    levels: [
      { ppmAboveBaseline: 10, stage: "pre_alarm" },
      { ppmAboveBaseline: 50, stage: "alarm" },
    ],
    deadband: 2,
    ...common,
    ...p,
    kind: "offgas",
  };
}

export function stuckRule(p: Partial<StuckRule> & Pick<StuckRule, "id" | "points">): StuckRule {
  return { zone: "z1", resolution: 0.1, flatMs: 60_000, groupByTrim: 2, peers: "adjacent", minMovingPeers: 2, ...common, ...p, kind: "stuck" };
}

export function disagreeRule(p: Partial<DisagreeRule> & Pick<DisagreeRule, "id" | "points">): DisagreeRule {
  return { zone: "z1", maxDifference: 3, deadband: 0, ...common, ...p, kind: "disagree" };
}

export function stateRule(p: Partial<StateRule> & Pick<StateRule, "id" | "points" | "states">): StateRule {
  return { zone: "z1", class: "condition", ...common, ...p, kind: "state" };
}

export function voteRule(p: Partial<VoteRule> & Pick<VoteRule, "id" | "points">): VoteRule {
  return { zone: "z1", votes: 2, when: { value: 1 }, stage: "alarm", blindDetector: "vote", ...common, ...p, kind: "vote" };
}

export function commLossRule(p: Partial<CommLossRule> & Pick<CommLossRule, "id" | "devices">): CommLossRule {
  return { zone: "z1", description: "", afterMs: 3_000, ...p, kind: "comm_loss" };
}

export function zone(id: string, p: Partial<Zone> = {}): Zone {
  return {
    id,
    name: id,
    roomId: "room1",
    racks: [
      { id: "R1", hosts: ["node-1", "node-2"] },
      { id: "R2", hosts: ["node-3"] },
    ],
    evacuateAfterAlarmRules: 2,
    clearHoldMs: 60_000,
    ...p,
  };
}

/** A device with plain points only; its profile is not read by the deciding core. */
export function device(id: string, pointIds: readonly string[], zoneId = "z1"): Device {
  return {
    id,
    zone: zoneId,
    profile: { id: "test", description: "", protocol: "modbus", points: [] } as unknown as Profile,
    modbus: { host: "127.0.0.1", port: 502, unitId: 1 },
    pollIntervalMs: 1000,
    timeoutMs: 1000,
    staleAfterMs: STALE_MS,
    points: pointIds.map((pointId) => ({ source: "plain" as const, pointId, def: { id: pointId } as unknown as PlainPointDef })),
  };
}

export function siteConfig(opts: { rules: readonly Rule[]; zones?: readonly Zone[]; devices?: readonly Device[]; site?: string }): SiteConfig {
  const zones = opts.zones ?? [zone("z1")];
  return {
    file: "test.yaml",
    site: opts.site ?? "dc1",
    instance: "test",
    rooms: [{ id: "room1", name: "room 1", zones }],
    zones: new Map(zones.map((z) => [z.id, z])),
    devices: opts.devices ?? [],
    rules: opts.rules,
    operators: [],
    commands: { maxSkewMs: 30_000 },
    logLevel: "info",
    stateDir: "/nonexistent/firebreak-unit-tests-keep-no-state",
  };
}

/** A store with the given point keys declared (stale after STALE_MS). */
export function storeWith(keys: readonly string[], historyCapacity = 300): PointStore {
  const store = new PointStore({ historyCapacity });
  for (const key of keys) {
    const [deviceId, ...rest] = key.split("/");
    store.declare({ key, deviceId: deviceId!, pointId: rest.join("/"), unit: "" }, STALE_MS);
  }
  return store;
}

/** Write good values for many points at once. */
export function feed(store: PointStore, values: Record<string, number | PointValue>, t: number): void {
  for (const [key, v] of Object.entries(values)) store.update(key, typeof v === "number" ? good(v, t) : v);
}

/** Cell temperature keys of one module: `cab1/s1/m1/c1/tempC` … */
export function moduleCells(deviceId: string, module: number, cells: number): string[] {
  return Array.from({ length: cells }, (_, i) => pointKey(deviceId, `s1/m${module}/c${i + 1}/tempC`));
}

/** The shipped example site through the real loader, with a store declaring every point. */
export async function exampleSite(): Promise<{ config: SiteConfig; store: PointStore }> {
  const config = await loadSiteConfig("config/example-site.yaml");
  const store = new PointStore();
  for (const d of config.devices) {
    for (const p of d.points) {
      store.declare({ key: pointKey(d.id, p.pointId), deviceId: d.id, pointId: p.pointId, unit: "", zone: d.zone }, d.staleAfterMs);
    }
  }
  return { config, store };
}
