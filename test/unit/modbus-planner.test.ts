import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { planRequests, requestLimit, type PlanLimits, type RegisterRead } from "../../src/drivers/modbus/planner.js";
import { ConfigError } from "../../src/errors.js";
import { modbusTables } from "../../src/config/profile-schema.js";

const limits: PlanLimits = { maxRegisters: 125, maxBits: 2000, maxGap: 8 };
const h = (address: number, count = 1): RegisterRead => ({ table: "holding", address, count });

describe("modbus request planner", () => {
  const cases: { name: string; reads: RegisterRead[]; limits?: Partial<PlanLimits>; want: { table: string; start: number; count: number; reads: number[] }[] }[] = [
    { name: "adjacent registers become one request", reads: [h(0), h(1), h(2, 2)], want: [{ table: "holding", start: 0, count: 4, reads: [0, 1, 2] }] },
    { name: "a gap within max_gap is read through", reads: [h(0), h(9)], want: [{ table: "holding", start: 0, count: 10, reads: [0, 1] }] },
    { name: "a gap wider than max_gap splits", reads: [h(0), h(10)], want: [{ table: "holding", start: 0, count: 1, reads: [0] }, { table: "holding", start: 10, count: 1, reads: [1] }] },
    { name: "max_gap 0 merges only touching reads", reads: [h(0), h(1), h(3)], limits: { maxGap: 0 }, want: [{ table: "holding", start: 0, count: 2, reads: [0, 1] }, { table: "holding", start: 3, count: 1, reads: [2] }] },
    { name: "overlapping reads (a bit of a bitfield and the bitfield) share a request", reads: [h(26, 2), h(26, 2), h(27)], want: [{ table: "holding", start: 26, count: 2, reads: [0, 1, 2] }] },
    { name: "unsorted input is planned by address", reads: [h(50), h(0), h(48, 2)], want: [{ table: "holding", start: 0, count: 1, reads: [1] }, { table: "holding", start: 48, count: 3, reads: [2, 0] }] },
    {
      name: "a run longer than 125 registers splits at the limit",
      reads: Array.from({ length: 130 }, (_, i) => h(i)),
      want: [
        { table: "holding", start: 0, count: 125, reads: Array.from({ length: 125 }, (_, i) => i) },
        { table: "holding", start: 125, count: 5, reads: [125, 126, 127, 128, 129] },
      ],
    },
    { name: "a 32-bit value never straddles two requests", reads: [h(0, 3), h(3, 2)], limits: { maxRegisters: 4 }, want: [{ table: "holding", start: 0, count: 3, reads: [0] }, { table: "holding", start: 3, count: 2, reads: [1] }] },
    {
      name: "different tables (function codes) are never merged",
      reads: [h(0), { table: "input", address: 1, count: 1 }, { table: "coil", address: 2, count: 1 }, { table: "discrete", address: 3, count: 1 }],
      want: [
        { table: "holding", start: 0, count: 1, reads: [0] },
        { table: "input", start: 1, count: 1, reads: [1] },
        { table: "coil", start: 2, count: 1, reads: [2] },
        { table: "discrete", start: 3, count: 1, reads: [3] },
      ],
    },
    {
      name: "coils coalesce up to 2000 bits",
      reads: [{ table: "coil", address: 0, count: 1 }, { table: "coil", address: 1999, count: 1 }, { table: "coil", address: 2000, count: 1 }],
      limits: { maxGap: 2000 },
      want: [{ table: "coil", start: 0, count: 2000, reads: [0, 1] }, { table: "coil", start: 2000, count: 1, reads: [2] }],
    },
    { name: "a profile limit above the protocol's is capped at 125", reads: [h(0), h(125)], limits: { maxRegisters: 500, maxGap: 200 }, want: [{ table: "holding", start: 0, count: 1, reads: [0] }, { table: "holding", start: 125, count: 1, reads: [1] }] },
    { name: "no reads, no requests", reads: [], want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(planRequests(c.reads, { ...limits, ...c.limits })).toEqual(c.want);
    });
  }

  it("a single read larger than one request is a config error naming the read", () => {
    const run = () => planRequests([{ table: "holding", address: 0, count: 126, label: "points[4] (serial)" }], { ...limits, file: "p.yaml" });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/p\.yaml.*points\[4\] \(serial\).*126 registers/);
  });

  it("a read running past address 65535 is a config error", () => {
    expect(() => planRequests([h(65535, 2)], limits)).toThrow(/past address 65535/);
  });

  it("every read is covered by exactly one request and no request exceeds its limit", () => {
    const read = fc.record({
      table: fc.constantFrom(...modbusTables),
      address: fc.integer({ min: 0, max: 3000 }),
      count: fc.integer({ min: 1, max: 4 }),
    });
    const lim = fc.record({ maxRegisters: fc.integer({ min: 4, max: 125 }), maxBits: fc.integer({ min: 4, max: 2000 }), maxGap: fc.integer({ min: 0, max: 124 }) });
    fc.assert(
      fc.property(fc.array(read, { maxLength: 200 }), lim, (reads, l) => {
        const plan = planRequests(reads, l);
        const seen = new Array<number>(reads.length).fill(0);
        for (const req of plan) {
          expect(req.count).toBeLessThanOrEqual(requestLimit(req.table, l));
          for (const i of req.reads) {
            const r = reads[i]!;
            seen[i]!++;
            expect(r.table).toBe(req.table);
            expect(r.address).toBeGreaterThanOrEqual(req.start);
            expect(r.address + r.count).toBeLessThanOrEqual(req.start + req.count);
          }
        }
        expect(seen.every((n) => n === 1)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
