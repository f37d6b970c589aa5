import { describe, it, expect } from "vitest";
import { discoverModels, layoutSurplus, mapSunspecPoints, type ReadRegisters } from "../../src/drivers/modbus/sunspec.js";
import { writeSunspecImage } from "../../src/drivers/modbus/sunspec-image.js";
import { profileSchema, toProfile } from "../../src/config/profile-schema.js";
import { expandPoints } from "../../src/config/expand.js";
import { DeviceLayoutError } from "../../src/errors.js";
import type { Layout } from "../../src/config/types.js";

const BASE = 40000;
const layout: Layout = { strings: 2, modulesPerString: 4, cellsPerModule: 8 };

const profile = toProfile(
  profileSchema.parse({
    id: "t",
    description: "test cabinet",
    protocol: "modbus",
    sunspec: {
      points: [
        { id: "soc", model: 802, offset: 11, sf_offset: 56 },
        { id: "voltV", model: 804, offset: 14, sf_offset: 42 },
        { id: "modVMax", model: 804, group: true, offset: 3, sf_offset: 38 },
        { id: "voltV", model: 805, offset: 10, sf_offset: 41 },
        { id: "tempC", model: 805, group: true, offset: 1, type: "i16", sf_offset: 43 },
      ],
    },
  }),
  "t.yaml",
);

function image(l: Layout = layout): { regs: Uint16Array; read: ReadRegisters; reads: () => number } {
  const regs = new Uint16Array(65536);
  writeSunspecImage(regs, BASE, l);
  let n = 0;
  return { regs, read: async (a, c) => (n++, Array.from(regs.subarray(a, a + c))), reads: () => n };
}

describe("SunSpec discovery and point mapping", () => {
  it("walks the chain: 802, one 804 per string, one 805 per module with its string and module index", async () => {
    const { read } = image();
    const models = await discoverModels("cab1", BASE, read);
    expect(models.map((m) => m.id)).toEqual([802, 804, 804, 805, 805, 805, 805, 805, 805, 805, 805]);
    expect(models[0]).toEqual({ id: 802, address: 40002, length: 62 });
    expect(models[1]).toEqual({ id: 804, address: 40066, length: 46 + 16 * 4 });
    expect(models.filter((m) => m.id === 805).map((m) => `${m.strIdx}/${m.modIdx}`)).toEqual(["1/1", "1/2", "1/3", "1/4", "2/1", "2/2", "2/3", "2/4"]);
  });

  it("maps 802, string, module-group, module and cell-group points to absolute addresses", async () => {
    const { regs, read } = image();
    const map = writeSunspecImage(regs, BASE, layout); // same layout: same addresses
    const addr = mapSunspecPoints("cab1", layout, expandPoints(profile, layout), await discoverModels("cab1", BASE, read));
    expect(addr.get("soc")).toEqual({ address: map.at802(11), sfAddress: map.at802(56) });
    expect(addr.get("s2/voltV")).toEqual({ address: map.at804(2, 14), sfAddress: map.at804(2, 42) });
    expect(addr.get("s2/m3/modVMax")).toEqual({ address: map.at804(2, 3, 3), sfAddress: map.at804(2, 38) });
    expect(addr.get("s1/m4/voltV")).toEqual({ address: map.at805(1, 4, 10), sfAddress: map.at805(1, 4, 41) });
    expect(addr.get("s2/m4/c8/tempC")).toEqual({ address: map.at805(2, 4, 1, 8), sfAddress: map.at805(2, 4, 43) });
    // 805 of s2/m4 is the last model: its cell 8 group ends right before the end marker.
    expect(map.at805(2, 4, 3, 8) + 1).toBe(map.end);
    expect(addr.size).toBe(expandPoints(profile, layout).filter((p) => p.source === "sunspec").length);
  });

  it("finds a module by StrIdx/ModIdx, not by its place in the chain", async () => {
    const { regs, read } = image();
    const map = writeSunspecImage(regs, BASE, layout);
    // Swap the indices of the first two 805 instances.
    regs[map.at805(1, 1, 3)] = 2;
    regs[map.at805(1, 2, 3)] = 1;
    const addr = mapSunspecPoints("cab1", layout, expandPoints(profile, layout), await discoverModels("cab1", BASE, read));
    expect(addr.get("s1/m1/voltV")?.address).toBe(map.at805(1, 2, 10));
  });

  it("a chain with fewer modules than the layout is a DeviceLayoutError saying what was expected and found", async () => {
    const { read } = image({ strings: 2, modulesPerString: 3, cellsPerModule: 8 });
    const models = await discoverModels("cab1", BASE, read);
    const run = () => mapSunspecPoints("cab1", layout, expandPoints(profile, layout), models);
    expect(run).toThrow(DeviceLayoutError);
    expect(run).toThrow(/device cab1: .*no model 805 for s1\/m4, s2\/m4 \(found s1\/m1, s1\/m2, s1\/m3, s2\/m1, s2\/m2, s2\/m3\)/);
    // The 804s hold 3 module groups where the layout needs 4.
    expect(run).toThrow(/model 804 at 40066 holds 3 module groups, layout needs 4/);
  });

  it("a chain with fewer cells or strings than the layout is a DeviceLayoutError", async () => {
    const few = await discoverModels("cab1", BASE, image({ strings: 1, modulesPerString: 4, cellsPerModule: 6 }).read);
    const run = () => mapSunspecPoints("cab1", layout, expandPoints(profile, layout), few);
    expect(run).toThrow(/layout has 2 strings, the chain holds 1 model 804 instances/);
    expect(run).toThrow(/holds 6 cell groups, layout needs 8/);
  });

  it("a model whose L does not fit its shape is named", async () => {
    const { regs, read } = image();
    const map = writeSunspecImage(regs, BASE, layout);
    regs[map.end] = 805; // turn the end marker into a model with a bogus L, then end

    regs[map.end + 1] = 3;
    regs[map.end + 2] = 9;
    regs[map.end + 3] = 9;
    regs[map.end + 5] = 0xffff;
    const models = await discoverModels("cab1", BASE, read);
    expect(() => mapSunspecPoints("cab1", layout, expandPoints(profile, layout), models)).toThrow(/model 805 at \d+ has L=3, which is not 42 \+ a multiple of 4/);
  });

  it("no SunS marker is a DeviceLayoutError naming what was found", async () => {
    const regs = new Uint16Array(65536);
    regs[BASE] = 0x1234;
    await expect(discoverModels("cab1", BASE, async (a, c) => Array.from(regs.subarray(a, a + c)))).rejects.toThrow(/no SunSpec marker "SunS" .* at 40000: found 0x1234 0x0000/);
  });

  it("a chain without an end marker stops at the walk limit", async () => {
    const regs = new Uint16Array(65536);
    regs[BASE] = 0x5375;
    regs[BASE + 1] = 0x6e53;
    for (let a = BASE + 2; a < 65534; a += 2) regs[a] = 1; // model 1 with L=0, forever
    await expect(discoverModels("cab1", BASE, async (a, c) => Array.from(regs.subarray(a, a + c)), { maxModels: 50, maxRegisters: 10_000 })).rejects.toThrow(/no end marker .* within 50 models/);
  });

  it("read failures during discovery propagate unchanged, for the poller to classify", async () => {
    const boom = new Error("Timed out");
    await expect(discoverModels("cab1", BASE, () => Promise.reject(boom))).rejects.toBe(boom);
  });

  describe("a device that holds more than its layout", () => {
    it("a chain that matches the layout has no surplus", async () => {
      expect(layoutSurplus(layout, await discoverModels("cab1", BASE, image().read))).toEqual([]);
    });

    it.each([
      [{ strings: 3, modulesPerString: 4, cellsPerModule: 8 }, ["string s3"]],
      [{ strings: 2, modulesPerString: 5, cellsPerModule: 8 }, ["modules s1/m5, s2/m5"]],
      [{ strings: 2, modulesPerString: 4, cellsPerModule: 16 }, ["cells c9-c16 of every module (8), which hold 16 cells"]],
      [{ strings: 3, modulesPerString: 4, cellsPerModule: 9 }, ["string s3", "cells c9 of every module (8), which hold 9 cells"]],
    ] as const)("device %o under a 2x4x8 config: %o not watched", async (device, expected) => {
      const models = await discoverModels("cab1", BASE, image(device).read);
      // The configured part still maps: nothing is refused, the rest is reported.
      expect(() => mapSunspecPoints("cab1", layout, expandPoints(profile, layout), models)).not.toThrow();
      expect(layoutSurplus(layout, models)).toEqual(expected);
    });
  });
});
