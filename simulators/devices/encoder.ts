// What every simulated device has in common: it writes the model's state into its RegisterBank,
// and single points can be frozen (stuck sensor) or replaced by a sentinel (no reading).
import type { ModbusTable } from "../../src/config/profile-schema.js";
import { registerCount } from "../../src/config/profile-schema.js";
import type { Device, DevicePoint } from "../../src/config/types.js";
import type { RegisterBank } from "../modbus-server.js";
import type { NoiseChannel } from "../sensor-noise.js";

/** Where a point's raw value lives: a table, a first address and a number of registers (or 1 bit). */
export interface PointLocation {
  readonly table: ModbusTable;
  readonly address: number;
  readonly count: number;
  /** The raw words (or 0/1 for a bit) that mean "no reading" for this point. */
  readonly sentinel: readonly number[];
}

export interface DeviceEncoder {
  /** Write the device's registers for clock time nowMs. */
  encode(bank: RegisterBank, nowMs: number): void;
  /** Where a point of this device lives, or undefined for an unknown point id. */
  locate(pointId: string): PointLocation | undefined;
  /**
   * Declare the device's register map on its bank (RegisterBank.define / allowWrite), once, before
   * serving: reads outside it answer exception 02 and writes outside its writable registers are
   * refused, as a device does.
   */
  declareMap(bank: RegisterBank): void;
  /**
   * A client's write was accepted into the bank (only at addresses declared writable): act on it
   * (e.g. open a contactor). Returns what it did, in plain words, or undefined when it did nothing.
   */
  onWrite?(bank: RegisterBank, table: "holding" | "coil", addr: number, count: number, nowMs: number): string | undefined;
  /** Accept writes and echo them, but carry none out: a device that ignores its commands (tests the read-back). */
  ignoreWrites?(on: boolean): void;
}

/** Registers of one table as a flat array (coils and discrete inputs hold 0/1). */
export function tableOf(bank: RegisterBank, table: ModbusTable): Uint16Array | Uint8Array {
  switch (table) {
    case "holding":
      return bank.holding;
    case "input":
      return bank.input;
    case "coil":
      return bank.coils;
    case "discrete":
      return bank.discrete;
  }
}

/** The raw words a point of this type writes for "no reading": SunSpec not-implemented values (docs/sources.md#sunspec-not-implemented), or the profile's first sentinel. */
export function sentinelWords(p: Exclude<DevicePoint, { source: "layout" }>): number[] {
  const def = p.def;
  if (def.type === "i8" || def.type === "u8") {
    // The override writes whole registers: the sentinel byte goes into both bytes, so the point
    // packed beside this one reads "no reading" as well (stated in README "The simulator on its own").
    const b = (def.sentinels[0] ?? (def.type === "i8" ? -128 : 0xff)) & 0xff;
    return [(b << 8) | b];
  }
  if (def.sentinels.length > 0 && registerCount[def.type] === 1) return [def.sentinels[0]! & 0xffff];
  switch (def.type) {
    case "i16":
      return [0x8000];
    case "u16":
    case "bitfield16":
      return [0xffff];
    case "i32":
      return [0x8000, 0];
    case "u32":
    case "bitfield32":
      return [0xffff, 0xffff];
    case "f32":
      return [0x7fc0, 0]; // NaN
    case "f64":
      return [0x7ff8, 0, 0, 0]; // NaN
  }
}

/** locate() for devices with a plain register map: straight from the profile's point list. */
export function locatePlain(device: Device, pointId: string): PointLocation | undefined {
  const p = device.points.find((x) => x.pointId === pointId);
  if (p === undefined || p.source !== "plain") return undefined;
  const bit = p.def.table === "coil" || p.def.table === "discrete";
  return { table: p.def.table, address: p.def.address, count: bit ? 1 : registerCount[p.def.type], sentinel: sentinelWords(p) };
}

/**
 * declareMap() for a plain register map: per table, the block from the profile's first address to
 * its last (a device's map is a block; the planner reads through small gaps in it), and the points
 * marked `writable` open to writes.
 */
export function declarePlain(device: Device, bank: RegisterBank): void {
  const spans = new Map<ModbusTable, [number, number]>();
  for (const p of device.points) {
    if (p.source !== "plain") continue;
    const loc = locatePlain(device, p.pointId)!;
    const s = spans.get(loc.table);
    spans.set(loc.table, s === undefined ? [loc.address, loc.address + loc.count] : [Math.min(s[0], loc.address), Math.max(s[1], loc.address + loc.count)]);
    if (p.def.writable && (loc.table === "holding" || loc.table === "coil")) bank.allowWrite(loc.table, loc.address, loc.count);
  }
  for (const [table, [a, b]] of spans) bank.define(table, a, b - a);
}

/** Clamp and round a value to an unsigned 16-bit register. */
export function u16(v: number): number {
  if (!Number.isFinite(v)) return 0xffff;
  return Math.min(0xfffe, Math.max(0, Math.round(v)));
}

/** Clamp and round a value to a signed 16-bit register, stored as its two's-complement word. */
export function i16(v: number): number {
  const r = Math.min(0x7fff, Math.max(-0x7fff, Math.round(v)));
  return r & 0xffff;
}

/**
 * What a sensor reads at clock time nowMs: the model's value plus its noise (in counts of the
 * register's resolution), rounded to a count and given back in the value's unit. Aggregates a device
 * computes (module max, string average) are computed from these readings, as a BMS does.
 */
export function measured(value: number, countsPerUnit: number, noise: NoiseChannel, nowMs: number): number {
  return Math.round(value * countsPerUnit + noise(nowMs)) / countsPerUnit;
}
