// The one place where Modbus registers become point values (DESIGN.md §2–3): a decoder is
// compiled once per point when the device's points are resolved (after evcc), then applied to the
// blocks a poll read, with bounds checks, sentinels, SunSpec scale factors and physical ranges.
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
  readonly offset: number;
  readonly bit?: number;
  readonly unit: string;
  readonly range?: readonly [number, number];
  readonly sentinels: readonly number[];
  /** Present for SunSpec points: the not-implemented values apply, and the sunssf sits at sfAddress. */
  readonly sunspec?: { readonly sfAddress?: number };
}

/** The blocks one poll read, per table; values sliced out with bounds checks. */
export class RegisterImage {
  readonly #blocks = new Map<ModbusTable, { start: number; data: readonly number[] }[]>();

  add(table: ModbusTable, start: number, data: readonly number[]): void {
    const list = this.#blocks.get(table) ?? [];
    list.push({ start, data });
    this.#blocks.set(table, list);
  }

  /** The block holding all of [address, address+count), and the index of address in it. */
  locate(table: ModbusTable, address: number, count: number): { data: readonly number[]; at: number } | undefined {
    for (const b of this.#blocks.get(table) ?? []) {
      const at = address - b.start;
      if (at >= 0 && at + count <= b.data.length) return { data: b.data, at };
    }
    return undefined;
  }
}

export interface CompiledPoint {
  /** Reads this point needs: its value, and its scale-factor register if it has one. */
  readonly reads: readonly RegisterRead[];
  decode(image: RegisterImage, ts: number): PointValue;
}

/** SunSpec not-implemented raw values by data type (FACTS.md §3); floats use NaN, checked for every point. */
const SUNSPEC_NOT_IMPLEMENTED: Readonly<Record<DataType, number | undefined>> = {
  i16: 0x8000, u16: 0xffff, bitfield16: 0xffff, i32: 0x80000000, u32: 0xffffffff, bitfield32: 0xffffffff, f32: undefined, f64: undefined,
};
const SUNSSF_NOT_IMPLEMENTED = 0x8000;
/** sunssf registers hold -10..10 (SunSpec Information Model Specification, "sunssf"). */
const SUNSSF_MAX = 10;

interface Raw {
  /** The typed value (signed for i16/i32, IEEE for floats). */
  readonly value: number;
  /** The unsigned bit pattern, for sentinels and messages (floats: the IEEE bits of f32; f64: NaN-safe hex of the high word). */
  readonly pattern: number;
}

/** Compile the decoder of one point. A bit beyond its type's width is a ConfigError. */
export function compilePoint(spec: DecodeSpec, file = "(profile)"): CompiledPoint {
  if (isBitTable(spec.table)) return compileBit(spec);
  const words = registerCount[spec.type];
  const width = words * 16;
  if (spec.bit !== undefined && (spec.bit >= width || spec.type === "f32" || spec.type === "f64")) {
    throw new ConfigError([{ file, line: 0, column: 0, path: spec.label, message: `bit ${spec.bit} does not exist in a ${spec.type}` }]);
  }
  const readRaw = rawReader(spec.type, spec.wordOrder, spec.byteOrder);
  const isBitfield = spec.type === "bitfield16" || spec.type === "bitfield32" || spec.bit !== undefined;
  const ni = spec.sunspec !== undefined ? SUNSPEC_NOT_IMPLEMENTED[spec.type] : undefined;
  const listed = new Set(spec.sentinels);
  const sfAddress = spec.sunspec?.sfAddress;
  const reads: RegisterRead[] = [{ table: spec.table, address: spec.address, count: words, label: spec.label }];
  if (sfAddress !== undefined) reads.push({ table: spec.table, address: sfAddress, count: 1, label: `${spec.label} scale factor` });
  const hex = (p: number): string => `0x${p.toString(16).toUpperCase().padStart(Math.min(width, 32) / 4, "0")}`;
  const [lo, hi] = spec.range ?? [-Infinity, Infinity];

  return {
    reads,
    decode(image, ts) {
      const block = image.locate(spec.table, spec.address, words);
      if (block === undefined) return bad("comm_fail", ts, `${spec.table} ${spec.address}+${words} missing from the response`);
      const raw = readRaw(block.data, block.at);
      if (listed.has(raw.value) || listed.has(raw.pattern)) return bad("sentinel", ts, `raw ${hex(raw.pattern)} is a sentinel listed in the profile`);
      if (ni !== undefined && raw.pattern === ni) return bad("sentinel", ts, `raw ${hex(raw.pattern)} is the SunSpec not-implemented value for ${spec.type}`);
      if (!Number.isFinite(raw.value)) return bad("sentinel", ts, `raw ${hex(raw.pattern)} is ${Number.isNaN(raw.value) ? "NaN" : "infinite"}, not a reading`);
      let value: number;
      if (isBitfield) {
        // A bitfield is a set of flags: no scale, offset or scale factor applies.
        value = spec.bit === undefined ? raw.pattern : Math.floor(raw.pattern / 2 ** spec.bit) % 2;
      } else {
        value = raw.value;
        if (sfAddress !== undefined) {
          const sfBlock = image.locate(spec.table, sfAddress, 1);
          if (sfBlock === undefined) return bad("comm_fail", ts, `scale factor ${spec.table} ${sfAddress} missing from the response`);
          const sfWord = fixBytes(sfBlock.data[sfBlock.at]!, spec.byteOrder);
          if (sfWord === SUNSSF_NOT_IMPLEMENTED) return bad("sentinel", ts, `scale factor at ${sfAddress} is 0x8000, the SunSpec not-implemented value`);
          const sf = sfWord >= 0x8000 ? sfWord - 0x10000 : sfWord;
          if (Math.abs(sf) > SUNSSF_MAX) return bad("out_of_range", ts, `scale factor at ${sfAddress} is ${sf}, outside -10..10`);
          // Divide for negative exponents: 3301 / 10 is exactly 330.1, 3301 * 0.1 is not.
          value = sf < 0 ? value / 10 ** -sf : value * 10 ** sf;
        }
        if (spec.scale !== 1) value *= spec.scale;
        if (spec.offset !== 0) value += spec.offset;
      }
      if (!Number.isFinite(value)) return bad("sentinel", ts, `raw ${hex(raw.pattern)} scales to ${value}`);
      if (value < lo || value > hi) return bad("out_of_range", ts, `value ${value}${spec.unit === "" ? "" : " " + spec.unit} (raw ${hex(raw.pattern)}) is outside the range [${lo}, ${hi}]`);
      return good(value, ts);
    },
  };
}

/** Coils and discrete inputs: one bit, 0 or 1. */
function compileBit(spec: DecodeSpec): CompiledPoint {
  return {
    reads: [{ table: spec.table, address: spec.address, count: 1, label: spec.label }],
    decode(image, ts) {
      const block = image.locate(spec.table, spec.address, 1);
      if (block === undefined) return bad("comm_fail", ts, `${spec.table} ${spec.address} missing from the response`);
      return good(block.data[block.at] ? 1 : 0, ts);
    },
  };
}

function fixBytes(word: number, byteOrder: Order): number {
  return byteOrder === "big" ? word : ((word & 0xff) << 8) | ((word >> 8) & 0xff);
}

/** Chosen once per point: reads `type` from registers at `at`, honouring word and byte order. */
function rawReader(type: DataType, wordOrder: Order, byteOrder: Order): (data: readonly number[], at: number) => Raw {
  const n = registerCount[type];
  // One scratch buffer per point, big-endian, high word first: no allocation per sample.
  const view = new DataView(new ArrayBuffer(8));
  const load = (data: readonly number[], at: number): void => {
    for (let k = 0; k < n; k++) {
      const w = data[at + (wordOrder === "big" ? k : n - 1 - k)]!;
      view.setUint16(k * 2, fixBytes(w, byteOrder));
    }
  };
  switch (type) {
    case "u16":
    case "bitfield16":
      return (d, at) => (load(d, at), { value: view.getUint16(0), pattern: view.getUint16(0) });
    case "i16":
      return (d, at) => (load(d, at), { value: view.getInt16(0), pattern: view.getUint16(0) });
    case "u32":
    case "bitfield32":
      return (d, at) => (load(d, at), { value: view.getUint32(0), pattern: view.getUint32(0) });
    case "i32":
      return (d, at) => (load(d, at), { value: view.getInt32(0), pattern: view.getUint32(0) });
    case "f32":
      return (d, at) => (load(d, at), { value: view.getFloat32(0), pattern: view.getUint32(0) });
    case "f64":
      return (d, at) => (load(d, at), { value: view.getFloat64(0), pattern: view.getUint32(0) });
  }
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
    offset: def.offset,
    ...(def.bit !== undefined ? { bit: def.bit } : {}),
    unit: def.unit,
    ...(def.range !== undefined ? { range: def.range } : {}),
    sentinels: def.sentinels,
  };
}

/**
 * The decode spec of a SunSpec point at an absolute address. The profile's `offset` key is the
 * register offset inside the model (FACTS.md §3), so no additive offset applies to SunSpec points.
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
    offset: 0,
    ...(def.bit !== undefined ? { bit: def.bit } : {}),
    unit: def.unit,
    ...(def.range !== undefined ? { range: def.range } : {}),
    sentinels: def.sentinels,
    sunspec: sfAddress === undefined ? {} : { sfAddress },
  };
}
