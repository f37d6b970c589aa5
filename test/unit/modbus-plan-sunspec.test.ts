// The read plan of whole SunSpec cabinets (the shipped li-ion-cabinet profile on the bench's layouts)
// and of plain maps with declared holes: how many requests, none over 125 registers, none reading
// outside the map the device defines.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expandPoints } from "../../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import { defaultMaxGap, PLAIN_MAX_GAP, profileSchema, SUNSPEC_MAX_GAP, toProfile, type Profile } from "../../src/config/profile-schema.js";
import type { Device, Layout } from "../../src/config/types.js";
import { planDevice, type DevicePlan } from "../../src/drivers/modbus/device-plan.js";
import { planRequests } from "../../src/drivers/modbus/planner.js";
import { writeSunspecImage } from "../../src/drivers/modbus/sunspec-image.js";
import { discoverModels, mapSunspecPoints } from "../../src/drivers/modbus/sunspec.js";
import { ConfigError } from "../../src/errors.js";

const BASE = 40000;

async function cabinetPlan(profile: Profile, layout: Layout, maxGap?: number): Promise<{ plan: DevicePlan; mapEnd: number }> {
  const regs = new Uint16Array(65536);
  const map = writeSunspecImage(regs, BASE, layout);
  const points = expandPoints(profile, layout);
  const models = await discoverModels("cab", BASE, async (a, n) => Array.from(regs.subarray(a, a + n)));
  const device: Device = { id: "cab", zone: "z", profile, modbus: { host: "127.0.0.1", port: 502, unitId: 1 }, pollIntervalMs: 1000, timeoutMs: 500, staleAfterMs: 3000, layout, points, ...(maxGap === undefined ? {} : { maxGap }) };
  return { plan: planDevice(device, mapSunspecPoints("cab", layout, points, models)), mapEnd: map.end + 2 };
}

describe("SunSpec read plans", () => {
  // The example site's cabinet, and the bench's 10k and 100k cabinets (bench/site-gen.ts).
  const layouts: { layout: Layout; before: number; after: number }[] = [
    { layout: { strings: 2, modulesPerString: 4, cellsPerModule: 8 }, before: 7, after: 6 },
    { layout: { strings: 1, modulesPerString: 8, cellsPerModule: 15 }, before: 8, after: 8 },
    { layout: { strings: 2, modulesPerString: 8, cellsPerModule: 38 }, before: 27, after: 27 },
    { layout: { strings: 4, modulesPerString: 14, cellsPerModule: 24 }, before: 61, after: 61 },
  ];
  for (const { layout, before, after } of layouts) {
    const name = `${layout.strings}x${layout.modulesPerString}x${layout.cellsPerModule}`;
    it(`cabinet ${name}: ${before} requests with max_gap 40 (before), ${after} with the SunSpec default; none over 125 registers or outside the map`, async () => {
      const profile = await loadProfile(join(shippedProfilesDir(), "li-ion-cabinet.yaml"));
      expect(profile.defaults.max_gap).toBeUndefined();
      expect(defaultMaxGap(profile)).toBe(SUNSPEC_MAX_GAP);
      const old = await cabinetPlan(profile, layout, 40);
      const now = await cabinetPlan(profile, layout);
      expect(old.plan.requests.length).toBe(before);
      expect(now.plan.requests.length).toBe(after);
      for (const r of now.plan.requests) {
        expect(r.count).toBeLessThanOrEqual(125);
        expect(r.table).toBe("holding");
        expect(r.start).toBeGreaterThanOrEqual(BASE);
        expect(r.start + r.count).toBeLessThanOrEqual(now.mapEnd);
      }
      // Reads through model boundaries: all but the last request are nearly full, except where a
      // run of unread registers longer than a request (an 804's module groups) forces a new one.
      const full = now.plan.requests.filter((r) => r.count >= 100).length;
      expect(full).toBeGreaterThanOrEqual(now.plan.requests.length - layout.strings - 2);
    });
  }

  it("a request crosses a model boundary: it starts in one model and ends in the next", async () => {
    const profile = await loadProfile(join(shippedProfilesDir(), "li-ion-cabinet.yaml"));
    const layout = { strings: 2, modulesPerString: 4, cellsPerModule: 8 };
    const regs = new Uint16Array(65536);
    const map = writeSunspecImage(regs, BASE, layout);
    const { plan } = await cabinetPlan(profile, layout);
    const starts = [...map.modules.values()].sort((a, b) => a - b);
    const crossing = plan.requests.filter((r) => starts.some((m) => r.start < m && r.start + r.count > m + 2));
    expect(crossing.length).toBeGreaterThan(0);
  });

  it("a device's max_gap overrides the profile's: 0 reads only touching registers", async () => {
    const profile = await loadProfile(join(shippedProfilesDir(), "li-ion-cabinet.yaml"));
    const { plan } = await cabinetPlan(profile, { strings: 2, modulesPerString: 4, cellsPerModule: 8 }, 0);
    expect(plan.requests.length).toBeGreaterThan(7);
    expect(defaultMaxGap(profile, 0)).toBe(0);
  });
});

describe("plain maps with holes", () => {
  const parse = (holes: unknown[], maxGap?: number): Profile =>
    toProfile(
      profileSchema.parse({
        id: "p",
        description: "plain map with a hole",
        protocol: "modbus",
        ...(maxGap === undefined ? {} : { defaults: { max_gap: maxGap } }),
        points: [
          { id: "a", table: "input", address: 0, type: "u16" },
          { id: "b", table: "input", address: 6, type: "u16" },
          { id: "c", table: "input", address: 12, type: "u16" },
        ],
        holes,
      }),
      "p.yaml",
    );
  const plan = (profile: Profile): DevicePlan =>
    planDevice({ id: "d", zone: "z", profile, modbus: { host: "h", port: 502, unitId: 1 }, pollIntervalMs: 1000, timeoutMs: 500, staleAfterMs: 3000, points: expandPoints(profile, undefined) });

  it("without holes the default gap (8) reads through; a declared hole splits the request there", () => {
    expect(defaultMaxGap(parse([]))).toBe(PLAIN_MAX_GAP);
    expect(plan(parse([])).requests.map((r) => [r.start, r.count])).toEqual([[0, 13]]);
    expect(plan(parse([{ table: "input", address: 8, count: 2 }])).requests.map((r) => [r.start, r.count])).toEqual([[0, 7], [12, 1]]);
    // A hole in another table changes nothing.
    expect(plan(parse([{ table: "holding", address: 8, count: 2 }])).requests).toHaveLength(1);
  });

  it("a point inside a hole is a config error naming the point", () => {
    expect(() => plan(parse([{ table: "input", address: 5, count: 3 }]))).toThrow(ConfigError);
    expect(() => plan(parse([{ table: "input", address: 5, count: 3 }]))).toThrow(/b.*inside a hole/);
  });

  it("a hole past address 65535 is refused when the profile loads", () => {
    expect(() => parse([{ table: "input", address: 65530, count: 10 }])).toThrow(/past address 65535/);
  });

  it("the planner never reads through a hole, whatever the gap", () => {
    const reads = [0, 10, 20, 30].map((address) => ({ table: "holding" as const, address, count: 1 }));
    const holes = [{ table: "holding" as const, address: 15, count: 1 }];
    expect(planRequests(reads, { maxRegisters: 125, maxBits: 2000, maxGap: 124, holes }).map((r) => [r.start, r.count])).toEqual([[0, 11], [20, 11]]);
  });
});
