// The one place where Modbus registers become point values (README.md#device-profiles): a decoder is
// compiled once per point when the device's points are resolved (after evcc), then applied to the
// blocks a poll read, with bounds checks, sentinels, SunSpec scale factors and physical ranges.
import { outOfRange } from "../limits.js";
import { ConfigError } from "../../errors.js";
import { bad, good, type PointValue } from "../../points/point.js";
import { registerCount, type DataType, type ModbusTable, type PlainPointDef, type ProfileDefaults, type SunspecPointDef } from "../../config/profile-schema.js";
import { isBitTable, type RegisterRead } from "./planner.js";

type Order = "big" | "little";

/** Everything needed to decode one point, with absolute addresses. */
export interface DecodeSpec {
  /** Names the point in messages, e.g. `s1/m3/c7/tempC`. */
  readonly label: string;
  readonly table: ModbusTable;
  readonly address: number;
  readonly type: DataType;
  /** "big": high word first (Modbus convention, SunSpec); "little": low word first. */
  readonly wordOrder: Order;
  /** "big": high byte first inside each register (Modbus convention); "little": bytes swapped. */
  readonly byteOrder: Order;
  readonly scale: number;
  /** value = raw / divisor * scale + offset: exact for datasheets that say "divide by 10". */
  readonly divisor?: number;
  readonly offset: number;
  readonly bit?: number;
  /** For i8/u8: the byte of the register (after byteOrder) that holds the value. */
  readonly byte?: "high" | "low";
  readonly unit: string;
  readonly range?: readonly [number, number];
  readonly sentinels: readonly number[];
  /** Present for SunSpec points: the not-implemented values apply, and the sunssf sits at sfAddress. */
  readonly sunspec?: { readonly sfAddress?: number };
}

/** The blocks one poll read, per table; values sliced out with bounds checks. */
export class RegisterImage {
  readonly #blocks = new Map<ModbusTable, { start: number; data: readonly number[] }[]>();
  /** The block of the last hit: points are decoded in address order, so it usually holds the next one too. */
  #last: { table: ModbusTable; start: number; data: readonly number[] } | undefined;
  /** The data of the last find() that hit (the decoders' hot path: no result object per point). */
  hit: readonly number[] = [];

  add(table: ModbusTable, start: number, data: readonly number[]): void {
    const list = this.#blocks.get(table) ?? [];
    list.push({ start, data });
    this.#blocks.set(table, list);
  }

  /** The block holding all of [address, address+count), and the index of address in it. */
  locate(table: ModbusTable, address: number, count: number): { data: readonly number[]; at: number } | undefined {
    const at = this.find(table, address, count);
    return at < 0 ? undefined : { data: this.hit, at };
  }

  /** locate() without an object: the index of address in `hit`, or -1 when no block holds it all. */
  find(table: ModbusTable, address: number, count: number): number {
    const last = this.#last;
    if (last !== undefined && last.table === table) {
      const at = address - last.start;
      if (at >= 0 && at + count <= last.data.length) {
        this.hit = last.data;
        return at;
      }
    }
    for (const b of this.#blocks.get(table) ?? []) {
      const at = address - b.start;
      if (at >= 0 && at + count <= b.data.length) {
        this.#last = { table, start: b.start, data: b.data };
        this.hit = b.data;
        return at;
      }
    }
    return -1;
  }
}

export interface CompiledPoint {
  /** Reads this point needs: its value, and its scale-factor register if it has one. */
  readonly reads: readonly RegisterRead[];
  decode(image: RegisterImage, ts: number): PointValue;
  /**
   * decode() for the poller's hot path: a good reading as its bare number (no PointValue built),
   * anything else as the PointValue that says why.
   */
  decodeNumber(image: RegisterImage, ts: number): number | PointValue;
}

/** SunSpec not-implemented raw values by data type (docs/sources.md#sunspec-not-implemented); floats use NaN, checked for every point. */
const SUNSPEC_NOT_IMPLEMENTED: Readonly<Record<DataType, number | undefined>> = {
  i16: 0x8000, u16: 0xffff, bitfield16: 0xffff, i32: 0x80000000, u32: 0xffffffff, bitfield32: 0xffffffff, f32: undefined, f64: undefined, i8: undefined, u8: undefined,
};
const SUNSSF_NOT_IMPLEMENTED = 0x8000;
/** sunssf registers hold -10..10 (SunSpec Information Model Specification, "sunssf"). */
const SUNSSF_MAX = 10;
/** 10 ** k for k in 0..SUNSSF_MAX, the same doubles `10 ** k` gives: the operator was half of decoding a point. */
const POW10 = Float64Array.from({ length: SUNSSF_MAX + 1 }, (_, k) => 10 ** k);

/**
 * One scratch buffer for every decoder (decoding is synchronous, one point at a time): no buffer,
 * closure or result object per point. At 100,000 points, per-point closures and DataViews were
 * ~1.4 KB a point (measured with bench/probe.ts).
 */
const scratch = new DataView(new ArrayBuffer(8));
/** The typed value of the last raw read (signed for i16/i32, IEEE for floats). */
let rawValue = 0;
/** Its unsigned bit pattern, for sentinels and messages (f32: the IEEE bits; f64: the high word's). */
let rawPattern = 0;

function readRaw(type: DataType, words: number, wordOrder: Order, byteOrder: Order, data: readonly number[], at: number, byte: "high" | "low" | undefined): void {
  for (let k = 0; k < words; k++) {
    const w = data[at + (wordOrder === "big" ? k : words - 1 - k)]!;
    scratch.setUint16(k * 2, fixBytes(w, byteOrder));
  }
  switch (type) {
    case "u16":
    case "bitfield16":
      rawValue = rawPattern = scratch.getUint16(0);
      return;
    case "i16":
      rawValue = scratch.getInt16(0);
      rawPattern = scratch.getUint16(0);
      return;
    case "u32":
    case "bitfield32":
      rawValue = rawPattern = scratch.getUint32(0);
      return;
    case "i32":
      rawValue = scratch.getInt32(0);
      rawPattern = scratch.getUint32(0);
      return;
    case "f32":
      rawValue = scratch.getFloat32(0);
      rawPattern = scratch.getUint32(0);
      return;
    case "f64":
      rawValue = scratch.getFloat64(0);
      rawPattern = scratch.getUint32(0);
      return;
    case "i8":
      rawValue = scratch.getInt8(byte === "low" ? 1 : 0);
      rawPattern = scratch.getUint8(byte === "low" ? 1 : 0);
      return;
    case "u8":
      rawValue = rawPattern = scratch.getUint8(byte === "low" ? 1 : 0);
      return;
  }
}

/** Compile the decoder of one point. A bit beyond its type's width is a ConfigError. */
export function compilePoint(spec: DecodeSpec, file = "(profile)"): CompiledPoint {
  if (isBitTable(spec.table)) return new BitDecoder(spec);
  const width = spec.type === "i8" || spec.type === "u8" ? 8 : registerCount[spec.type] * 16;
  if (spec.bit !== undefined && (spec.bit >= width || spec.type === "f32" || spec.type === "f64")) {
    throw new ConfigError([{ file, line: 0, column: 0, path: spec.label, message: `bit ${spec.bit} does not exist in a ${spec.type}` }]);
  }
  return new RegisterDecoder(spec);
}

/** What decoders of many points share (every cell temperature of a profile decodes alike). */
interface Shape {
  readonly table: ModbusTable;
  readonly words: number;
  readonly type: DataType;
  readonly wordOrder: Order;
  readonly byteOrder: Order;
  readonly bitfield: boolean;
  readonly bit: number | undefined;
  readonly byte: "high" | "low" | undefined;
  readonly divisor: number;
  /** A u16 or i16 in one big-endian register, whole (most points): read without the scratch DataView. */
  readonly plain16: "u16" | "i16" | undefined;
  /** The SunSpec not-implemented pattern of this type, for SunSpec points. */
  readonly ni: number | undefined;
  /** Profile sentinels; undefined when there are none (the usual case). */
  readonly listed: ReadonlySet<number> | undefined;
  readonly scale: number;
  readonly offset: number;
  readonly unit: string;
  readonly lo: number;
  readonly hi: number;
}

/** Shapes by their content: a few per profile, however many points (bounded by the profiles' point kinds). */
const shapes = new Map<string, Shape>();

function shapeOf(spec: DecodeSpec): Shape {
  const [lo, hi] = spec.range ?? [-Infinity, Infinity];
  const ni = spec.sunspec !== undefined ? SUNSPEC_NOT_IMPLEMENTED[spec.type] : undefined;
  const key = [spec.table, spec.type, spec.wordOrder, spec.byteOrder, spec.bit, spec.byte, spec.divisor ?? 1, ni, spec.sentinels.join(","), spec.scale, spec.offset, spec.unit, lo, hi].join("|");
  let shape = shapes.get(key);
  if (shape === undefined) {
    shape = {
      table: spec.table,
      words: registerCount[spec.type],
      type: spec.type,
      wordOrder: spec.wordOrder,
      byteOrder: spec.byteOrder,
      bitfield: spec.type === "bitfield16" || spec.type === "bitfield32" || spec.bit !== undefined,
      bit: spec.bit,
      byte: spec.byte,
      divisor: spec.divisor ?? 1,
      plain16: (spec.type === "u16" || spec.type === "i16") && spec.byteOrder === "big" && spec.byte === undefined ? spec.type : undefined,
      ni,
      listed: spec.sentinels.length > 0 ? new Set(spec.sentinels) : undefined,
      scale: spec.scale,
      offset: spec.offset,
      unit: spec.unit,
      lo,
      hi,
    };
    shapes.set(key, shape);
  }
  return shape;
}

/** A compiled register point: its addresses and label, the rest shared with points that decode alike. */
class RegisterDecoder implements CompiledPoint {
  readonly #shape: Shape;
  readonly #address: number;
  readonly #sfAddress: number | undefined;
  readonly #label: string;

  constructor(spec: DecodeSpec) {
    this.#shape = shapeOf(spec);
    this.#address = spec.address;
    this.#sfAddress = spec.sunspec?.sfAddress;
    this.#label = spec.label;
  }

  get reads(): readonly RegisterRead[] {
    const { table, words } = this.#shape;
    const reads: RegisterRead[] = [{ table, address: this.#address, count: words, label: this.#label }];
    if (this.#sfAddress !== undefined) reads.push({ table, address: this.#sfAddress, count: 1, label: `${this.#label} scale factor` });
    return reads;
  }

  #hex(p: number): string {
    const bits = this.#shape.byte !== undefined ? 8 : Math.min(this.#shape.words * 16, 32);
    return `0x${p.toString(16).toUpperCase().padStart(bits / 4, "0")}`;
  }

  decode(image: RegisterImage, ts: number): PointValue {
    const v = this.decodeNumber(image, ts);
    return typeof v === "number" ? good(v, ts) : v;
  }

  decodeNumber(image: RegisterImage, ts: number): number | PointValue {
    const sh = this.#shape;
    const table = sh.table;
    const words = sh.words;
    const at = image.find(table, this.#address, words);
    if (at < 0) return bad("comm_fail", ts, `${table} ${this.#address}+${words} missing from the response`);
    let raw: number;
    let pattern: number;
    if (sh.plain16 !== undefined) {
      pattern = image.hit[at]!;
      raw = sh.plain16 === "i16" && pattern >= 0x8000 ? pattern - 0x10000 : pattern;
    } else {
      readRaw(sh.type, words, sh.wordOrder, sh.byteOrder, image.hit, at, sh.byte);
      raw = rawValue;
      pattern = rawPattern;
    }
    if (sh.listed !== undefined && (sh.listed.has(raw) || sh.listed.has(pattern))) return bad("sentinel", ts, `raw ${this.#hex(pattern)} is a sentinel listed in the profile`);
    if (sh.ni !== undefined && pattern === sh.ni) return bad("sentinel", ts, `raw ${this.#hex(pattern)} is the SunSpec not-implemented value for ${sh.type}`);
    if (!Number.isFinite(raw)) return bad("sentinel", ts, `raw ${this.#hex(pattern)} is ${Number.isNaN(raw) ? "NaN" : "infinite"}, not a reading`);
    let value: number;
    if (sh.bitfield) {
      // A bitfield is a set of flags: no scale, offset or scale factor applies.
      value = sh.bit === undefined ? pattern : Math.floor(pattern / 2 ** sh.bit) % 2;
    } else {
      value = raw;
      const sfAddress = this.#sfAddress;
      if (sfAddress !== undefined) {
        const sfAt = image.find(table, sfAddress, 1);
        if (sfAt < 0) return bad("comm_fail", ts, `scale factor ${table} ${sfAddress} missing from the response`);
        const sfWord = fixBytes(image.hit[sfAt]!, sh.byteOrder);
        if (sfWord === SUNSSF_NOT_IMPLEMENTED) return bad("sentinel", ts, `scale factor at ${sfAddress} is 0x8000, the SunSpec not-implemented value`);
        const sf = sfWord >= 0x8000 ? sfWord - 0x10000 : sfWord;
        if (Math.abs(sf) > SUNSSF_MAX) return bad("out_of_range", ts, `scale factor at ${sfAddress} is ${sf}, outside -10..10`);
        // Divide for negative exponents: 971 / 10 is exactly 97.1, 971 * 0.1 is not.
        value = sf < 0 ? value / POW10[-sf]! : value * POW10[sf]!;
      }
      if (sh.divisor !== 1) value /= sh.divisor;
      if (sh.scale !== 1) value *= sh.scale;
      if (sh.offset !== 0) value += sh.offset;
    }
    if (!Number.isFinite(value)) return bad("sentinel", ts, `raw ${this.#hex(pattern)} scales to ${value}`);
    if (value < sh.lo || value > sh.hi) return outOfRange(value, [sh.lo, sh.hi], sh.unit, ts, this.#hex(pattern));
    return value;
  }
}

/** Coils and discrete inputs: one bit, 0 or 1. */
class BitDecoder implements CompiledPoint {
  readonly #table: ModbusTable;
  readonly #address: number;
  readonly #label: string;

  constructor(spec: DecodeSpec) {
    this.#table = spec.table;
    this.#address = spec.address;
    this.#label = spec.label;
  }

  get reads(): readonly RegisterRead[] {
    return [{ table: this.#table, address: this.#address, count: 1, label: this.#label }];
  }

  decode(image: RegisterImage, ts: number): PointValue {
    const v = this.decodeNumber(image, ts);
    return typeof v === "number" ? good(v, ts) : v;
  }

  decodeNumber(image: RegisterImage, ts: number): number | PointValue {
    const at = image.find(this.#table, this.#address, 1);
    if (at < 0) return bad("comm_fail", ts, `${this.#table} ${this.#address} missing from the response`);
    return image.hit[at] ? 1 : 0;
  }
}

function fixBytes(word: number, byteOrder: Order): number {
  return byteOrder === "big" ? word : ((word & 0xff) << 8) | ((word >> 8) & 0xff);
}

/** The decode spec of a plain profile point. */
export function plainSpec(label: string, def: PlainPointDef, defaults: ProfileDefaults): DecodeSpec {
  return {
    label,
    table: def.table,
    address: def.address,
    type: def.type,
    wordOrder: def.word_order ?? defaults.word_order,
    byteOrder: def.byte_order ?? defaults.byte_order,
    scale: def.scale,
    ...(def.divisor !== 1 ? { divisor: def.divisor } : {}),
    offset: def.offset,
    ...(def.bit !== undefined ? { bit: def.bit } : {}),
    ...(def.byte !== undefined ? { byte: def.byte } : {}),
    unit: def.unit,
    ...(def.range !== undefined ? { range: def.range } : {}),
    sentinels: def.sentinels,
  };
}

/**
 * The decode spec of a SunSpec point at an absolute address. The profile's `offset` key is the
 * register offset inside the model (docs/sources.md#sunspec-offsets), so no additive offset applies to SunSpec points.
 */
export function sunspecSpec(label: string, def: SunspecPointDef, defaults: ProfileDefaults, table: ModbusTable, address: number, sfAddress: number | undefined): DecodeSpec {
  return {
    label,
    table,
    address,
    type: def.type,
    wordOrder: def.word_order ?? defaults.word_order,
    byteOrder: def.byte_order ?? defaults.byte_order,
    scale: def.scale,
    ...(def.divisor !== 1 ? { divisor: def.divisor } : {}),
    offset: 0,
    ...(def.bit !== undefined ? { bit: def.bit } : {}),
    unit: def.unit,
    ...(def.range !== undefined ? { range: def.range } : {}),
    sentinels: def.sentinels,
    sunspec: sfAddress === undefined ? {} : { sfAddress },
  };
}
