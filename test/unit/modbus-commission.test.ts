import { describe, expect, it } from "vitest";
import { profileSchema } from "../../src/config/profile-schema.js";
import { chainLayout, scanUnits } from "../../src/cli/modbus-commission.js";
import type { ModbusLine } from "../../src/cli/modbus-line.js";
import { parseLayout, parseUnits } from "../../src/cli/modbus.js";
import { ModbusExceptionError } from "../../src/errors.js";
import { RequestTimeout } from "../../src/drivers/modbus/tcp-client.js";

describe("modbus commissioning: arguments", () => {
  it("reads unit lists and ranges within 1-247, and refuses the rest naming the part", () => {
    expect(parseUnits("1-3,7, 10-11")).toEqual([1, 2, 3, 7, 10, 11]);
    expect(parseUnits("1-247")).toHaveLength(247);
    for (const bad of ["0", "1-248", "5-2", "x", "1,,2"]) expect(() => parseUnits(bad)).toThrow(/--units: ".*" is not a unit id or range within 1-247/);
  });

  it("reads a layout as strings,modules,cells", () => {
    expect(parseLayout("2,4,8")).toEqual({ strings: 2, modulesPerString: 4, cellsPerModule: 8 });
    expect(() => parseLayout("2,4")).toThrow(/--layout: "2,4" is not strings,modules_per_string,cells_per_module/);
  });
});

describe("modbus commissioning: the layout a SunSpec chain holds", () => {
  it("strings from 804 instances, modules from module groups or ModIdx, cells from 805 cell groups", () => {
    const models = [
      { id: 1, address: 40002, length: 66 },
      { id: 802, address: 40070, length: 62 },
      { id: 804, address: 40134, length: 46 + 16 * 3 },
      { id: 804, address: 40228, length: 46 + 16 * 3 },
      ...[1, 2].flatMap((s) => [1, 2, 3].map((m) => ({ id: 805, address: 41000 + s * 100 + m, length: 42 + 4 * 16, strIdx: s, modIdx: m }))),
    ];
    expect(chainLayout(models)).toEqual({ strings: 2, modulesPerString: 3, cellsPerModule: 16 });
    expect(chainLayout(models.slice(0, 2))).toBeUndefined();
  });
});

describe("modbus commissioning: scan", () => {
  it("sorts each unit into answers, exception, gateway and timeout, one unit at a time", async () => {
    const asked: number[] = [];
    let inFlight = 0;
    const line: ModbusLine = {
      name: "fake",
      unit: (u) => {
        asked.push(u);
        return Promise.resolve({
          read: async () => {
            expect(++inFlight).toBe(1);
            await Promise.resolve();
            inFlight--;
            if (u === 1) return [0x5375, 0x6e53];
            if (u === 2) throw new ModbusExceptionError("d", 2, "Modbus exception 2 (illegal data address)");
            if (u === 3) throw new ModbusExceptionError("d", 11, "Modbus exception 11 (gateway target device failed to respond)");
            throw new RequestTimeout("no answer within 300 ms");
          },
        });
      },
      close: () => Promise.resolve(),
    };
    const r = await scanUnits(line, [1, 2, 3, 4], { table: "holding", address: 40000, count: 2 }, 300);
    expect(asked).toEqual([1, 2, 3, 4]);
    expect(r.map((x) => [x.unit, x.outcome])).toEqual([[1, "answers"], [2, "exception"], [3, "gateway"], [4, "timeout"]]);
    expect(r[0]!.detail).toBe("holding 40000: 0x5375 0x6E53");
  });
});

describe("profile format: packed bytes", () => {
  const base = { id: "p", description: "d", protocol: "modbus" };
  it("needs byte for i8/u8, refuses it elsewhere, and keeps bits inside the byte", () => {
    const issues = (point: object): string[] => {
      const r = profileSchema.safeParse({ ...base, points: [{ id: "x", address: 0, ...point }] });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    };
    expect(issues({ type: "i8", byte: "low" })).toEqual([]);
    expect(issues({ type: "i8" })).toEqual(["points.0.byte: type i8 needs byte: high or byte: low (which byte of the register)"]);
    expect(issues({ type: "u16", byte: "high" })).toEqual(["points.0.byte: byte applies to i8 and u8 only, not u16"]);
    expect(issues({ type: "u8", byte: "high", bit: 8 })).toEqual(["points.0.bit: bit 8 does not exist in a u8"]);
  });
});
