import { describe, expect, it } from "vitest";
import type { PlainPointDef, Profile } from "../../src/config/profile-schema.js";
import type { Device } from "../../src/config/types.js";
import { planWrite } from "../../src/drivers/modbus/write-plan.js";
import { ActionWriteError } from "../../src/errors.js";

const plain = (id: string, over: Partial<PlainPointDef>): PlainPointDef => ({ id, type: "u16", scale: 1, divisor: 1, offset: 0, unit: "", sentinels: [], table: "holding", address: 0, writable: false, ...over });
const profile = (over: Partial<Profile> = {}): Profile => ({
  id: "hvac",
  description: "test",
  protocol: "modbus",
  defaults: { word_order: "little", byte_order: "big", max_gap: 8, max_registers: 125, max_bits: 2000 },
  points: [],
  file: "hvac.yaml",
  ...over,
});
const device = (points: PlainPointDef[], over: Partial<Profile> = {}): Device => ({
  id: "ahu1",
  zone: "z",
  profile: profile({ points, ...over }),
  modbus: { host: "127.0.0.1", port: 502, unitId: 1 },
  pollIntervalMs: 1000,
  timeoutMs: 500,
  staleAfterMs: 3000,
  points: points.map((def) => ({ source: "plain" as const, pointId: def.id, def })),
});

describe("planning a protective action's write", () => {
  it("a coil is FC 5, a 16-bit register FC 6, a 32-bit one FC 16 in the profile's word order", () => {
    const d = device([plain("recirc", { table: "coil", address: 12, writable: true }), plain("damper", { address: 30, writable: true }), plain("setpoint", { type: "u32", address: 40, writable: true })]);
    expect(planWrite(d, "recirc", 0)).toEqual({ fc: 5, address: 12, values: [0] });
    expect(planWrite(d, "damper", 1)).toEqual({ fc: 6, address: 30, values: [1] });
    expect(planWrite(d, "setpoint", 0x12345)).toEqual({ fc: 16, address: 40, values: [0x2345, 0x0001] }); // low word first
  });

  it("a negative i16 goes as its two's complement", () => {
    expect(planWrite(device([plain("t", { type: "i16", address: 1, writable: true })]), "t", -2)).toEqual({ fc: 6, address: 1, values: [0xfffe] });
  });

  it("refuses a point not declared writable, and every write to a suppression-release panel", () => {
    expect(() => planWrite(device([plain("a", { address: 1 })]), "a", 1)).toThrow(ActionWriteError);
    const panel = device([plain("release", { table: "coil", address: 1, writable: true })], { role: "suppression_panel" });
    expect(() => planWrite(panel, "release", 1)).toThrow(/suppression-release panel: firebreak never writes to it/);
  });
});
