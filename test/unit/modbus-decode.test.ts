import { describe, it, expect } from "vitest";
import { compilePoint, RegisterImage, type DecodeSpec } from "../../src/drivers/modbus/decode.js";
import { ConfigError } from "../../src/errors.js";
import type { PointValue } from "../../src/points/point.js";

const TS = 1_700_000_000_000;
const base: DecodeSpec = { label: "p", table: "holding", address: 100, type: "u16", wordOrder: "big", byteOrder: "big", scale: 1, offset: 0, unit: "", sentinels: [] };

function decode(spec: Partial<DecodeSpec>, words: number[], extra?: { at: number; words: number[] }): PointValue {
  const img = new RegisterImage();
  img.add(spec.table ?? "holding", spec.address ?? 100, words);
  if (extra) img.add(spec.table ?? "holding", extra.at, extra.words);
  return compilePoint({ ...base, ...spec }).decode(img, TS);
}

/** f32 / f64 registers, high word first, big-endian bytes. */
function floatWords(v: number, bytes: 4 | 8): number[] {
  const dv = new DataView(new ArrayBuffer(bytes));
  if (bytes === 4) dv.setFloat32(0, v);
  else dv.setFloat64(0, v);
  return Array.from({ length: bytes / 2 }, (_, i) => dv.getUint16(i * 2));
}

describe("register decoding: types and orders", () => {
  const cases: { name: string; spec: Partial<DecodeSpec>; words: number[]; want: number }[] = [
    { name: "u16", spec: { type: "u16" }, words: [0xfffe], want: 65534 },
    { name: "i16 negative", spec: { type: "i16" }, words: [0xff38], want: -200 },
    { name: "u16 with little byte order swaps bytes", spec: { type: "u16", byteOrder: "little" }, words: [0x3412], want: 0x1234 },
    { name: "u32 high word first", spec: { type: "u32" }, words: [0x0001, 0x0002], want: 65538 },
    { name: "u32 low word first", spec: { type: "u32", wordOrder: "little" }, words: [0x0002, 0x0001], want: 65538 },
    { name: "u32 little words and little bytes", spec: { type: "u32", wordOrder: "little", byteOrder: "little" }, words: [0x0200, 0x0100], want: 65538 },
    { name: "i32 negative high word first", spec: { type: "i32" }, words: [0xffff, 0xfffe], want: -2 },
    { name: "i32 negative low word first", spec: { type: "i32", wordOrder: "little" }, words: [0xfffe, 0xffff], want: -2 },
    { name: "f32 high word first", spec: { type: "f32" }, words: floatWords(23.5, 4), want: 23.5 },
    { name: "f32 low word first", spec: { type: "f32", wordOrder: "little" }, words: floatWords(-1.25, 4).reverse(), want: -1.25 },
    { name: "f64 high word first", spec: { type: "f64" }, words: floatWords(1234.5678, 8), want: 1234.5678 },
    { name: "f64 low word first", spec: { type: "f64", wordOrder: "little" }, words: floatWords(-0.001, 8).reverse(), want: -0.001 },
    { name: "bitfield16 whole field, never scaled", spec: { type: "bitfield16", scale: 0.1 }, words: [0x8001], want: 0x8001 },
    { name: "bitfield16 bit 15", spec: { type: "bitfield16", bit: 15 }, words: [0x8001], want: 1 },
    { name: "bitfield16 bit 1 clear", spec: { type: "bitfield16", bit: 1 }, words: [0x8001], want: 0 },
    { name: "bitfield32 whole field", spec: { type: "bitfield32" }, words: [0x8000, 0x0002], want: 0x80000002 },
    { name: "bitfield32 bit 18 (Evt1 temperature imbalance)", spec: { type: "bitfield32", bit: 18 }, words: [0x0004, 0x0000], want: 1 },
    { name: "bitfield32 bit 31, low word first", spec: { type: "bitfield32", bit: 31, wordOrder: "little" }, words: [0x0000, 0x8000], want: 1 },
    { name: "scale and offset", spec: { type: "i16", scale: 0.1, offset: -40 }, words: [655], want: 25.5 },
    { name: "a value at the range edge is good", spec: { type: "u16", range: [0, 100] }, words: [100], want: 100 },
    { name: "coil reads 0/1", spec: { table: "coil" }, words: [1], want: 1 },
    { name: "discrete input reads 0/1", spec: { table: "discrete" }, words: [0], want: 0 },
  ];
  for (const c of cases) {
    it(`decodes ${c.name}`, () => {
      const v = decode(c.spec, c.words);
      expect(v.quality).toBe("good");
      expect(v.value).toBeCloseTo(c.want, 9);
      expect(v.sourceTs).toBe(TS);
    });
  }
});

describe("register decoding: SunSpec scale factors", () => {
  const sf = (v: number): { at: number; words: number[] } => ({ at: 200, words: [v & 0xffff] });
  const cases: { name: string; spec: Partial<DecodeSpec>; words: number[]; sf: number; want: number }[] = [
    { name: "negative SF divides", spec: { type: "u16" }, words: [3301], sf: -3, want: 3.301 },
    { name: "SF 0 keeps the raw value", spec: { type: "i16" }, words: [0xffe7], sf: 0, want: -25 },
    { name: "positive SF multiplies", spec: { type: "u16" }, words: [12], sf: 2, want: 1200 },
    { name: "SF before profile scale", spec: { type: "i16", scale: 2 }, words: [251], sf: -1, want: 50.2 },
  ];
  for (const c of cases) {
    it(`applies raw x 10^SF: ${c.name}`, () => {
      const v = decode({ ...c.spec, sunspec: { sfAddress: 200 } }, c.words, sf(c.sf));
      expect(v.quality).toBe("good");
      expect(v.value).toBeCloseTo(c.want, 9);
    });
  }

  it("a scale factor of 0x8000 makes the point bad/sentinel, never a number", () => {
    const v = decode({ type: "u16", sunspec: { sfAddress: 200 } }, [3301], sf(0x8000));
    expect(v).toMatchObject({ quality: "bad", reason: "sentinel", value: null });
    expect(v.detail).toMatch(/scale factor at 200 is 0x8000/);
  });

  it("a scale factor outside -10..10 is bad/out_of_range", () => {
    expect(decode({ type: "u16", sunspec: { sfAddress: 200 } }, [1], sf(11))).toMatchObject({ quality: "bad", reason: "out_of_range" });
  });

  it("a missing scale-factor register is a fault, not an unscaled value", () => {
    expect(decode({ type: "u16", sunspec: { sfAddress: 200 } }, [1])).toMatchObject({ quality: "bad", reason: "comm_fail" });
  });
});

describe("register decoding: sentinels, NaN and range", () => {
  const cases: { name: string; spec: Partial<DecodeSpec>; words: number[]; reason: string; detail: RegExp }[] = [
    { name: "listed i16 sentinel 0x7FFF (open circuit)", spec: { type: "i16", sentinels: [32767, -32768] }, words: [0x7fff], reason: "sentinel", detail: /raw 0x7FFF is a sentinel listed/ },
    { name: "listed i16 sentinel -32768, matched by value", spec: { type: "i16", sentinels: [-32768] }, words: [0x8000], reason: "sentinel", detail: /raw 0x8000/ },
    { name: "listed sentinel given as unsigned pattern", spec: { type: "i16", sentinels: [0x8000] }, words: [0x8000], reason: "sentinel", detail: /raw 0x8000/ },
    { name: "listed u16 sentinel 65535", spec: { type: "u16", sentinels: [65535] }, words: [0xffff], reason: "sentinel", detail: /raw 0xFFFF/ },
    { name: "SunSpec i16 not implemented", spec: { type: "i16", sunspec: {} }, words: [0x8000], reason: "sentinel", detail: /0x8000 is the SunSpec not-implemented value for i16/ },
    { name: "SunSpec u16 not implemented", spec: { type: "u16", sunspec: {} }, words: [0xffff], reason: "sentinel", detail: /0xFFFF is the SunSpec not-implemented value for u16/ },
    { name: "SunSpec bitfield16 not implemented", spec: { type: "bitfield16", bit: 0, sunspec: {} }, words: [0xffff], reason: "sentinel", detail: /0xFFFF .*bitfield16/ },
    { name: "SunSpec i32 not implemented", spec: { type: "i32", sunspec: {} }, words: [0x8000, 0x0000], reason: "sentinel", detail: /0x80000000 .*i32/ },
    { name: "SunSpec u32 not implemented", spec: { type: "u32", sunspec: {} }, words: [0xffff, 0xffff], reason: "sentinel", detail: /0xFFFFFFFF .*u32/ },
    { name: "SunSpec bitfield32 not implemented", spec: { type: "bitfield32", bit: 1, sunspec: {} }, words: [0xffff, 0xffff], reason: "sentinel", detail: /0xFFFFFFFF .*bitfield32/ },
    { name: "f32 NaN", spec: { type: "f32" }, words: [0x7fc0, 0x0000], reason: "sentinel", detail: /0x7FC00000 is NaN/ },
    { name: "f32 +Infinity", spec: { type: "f32" }, words: [0x7f80, 0x0000], reason: "sentinel", detail: /infinite/ },
    { name: "f64 NaN", spec: { type: "f64" }, words: [0x7ff8, 0, 0, 0], reason: "sentinel", detail: /NaN/ },
    { name: "above range", spec: { type: "i16", scale: 0.1, unit: "degC", range: [-40, 125] }, words: [1300], reason: "out_of_range", detail: /value 130 degC \(raw 0x0514\) is outside the range \[-40, 125\]/ },
    { name: "below range", spec: { type: "i16", range: [0, 100] }, words: [0xffff], reason: "out_of_range", detail: /value -1 .*\[0, 100\]/ },
    { name: "block too short", spec: { type: "u32" }, words: [1], reason: "comm_fail", detail: /missing from the response/ },
  ];
  for (const c of cases) {
    it(`${c.name} is bad/${c.reason}`, () => {
      const v = decode(c.spec, c.words);
      expect(v).toMatchObject({ quality: "bad", reason: c.reason, value: null, sourceTs: TS });
      expect(v.detail).toMatch(c.detail);
    });
  }

  it("0x8000 in an i16 is a number for a plain (non-SunSpec) point", () => {
    expect(decode({ type: "i16" }, [0x8000])).toMatchObject({ quality: "good", value: -32768 });
  });

  it("a bit beyond the type's width is refused when the decoder is compiled", () => {
    expect(() => compilePoint({ ...base, type: "bitfield16", bit: 16 })).toThrow(ConfigError);
  });

  it("decodes a value from the middle of a larger block", () => {
    const img = new RegisterImage();
    img.add("holding", 90, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0001, 0x0002, 0]);
    expect(compilePoint({ ...base, type: "u32" }).decode(img, TS)).toMatchObject({ quality: "good", value: 65538 });
  });
});

describe("register decoding: packed bytes and divide-by-scale (vendor maps, docs/sources.md#vendor-maps)", () => {
  const cases: { name: string; spec: Partial<DecodeSpec>; words: number[]; want: number }[] = [
    { name: "i8 high byte, negative", spec: { type: "i8", byte: "high" }, words: [0xf619], want: -10 },
    { name: "i8 low byte of the same register", spec: { type: "i8", byte: "low" }, words: [0xf619], want: 25 },
    { name: "u8 high byte", spec: { type: "u8", byte: "high" }, words: [0xc819], want: 200 },
    { name: "i8 low byte with swapped bytes", spec: { type: "i8", byte: "low", byteOrder: "little" }, words: [0xf619], want: -10 },
    { name: "i8 with an offset (temperature + 40 encodings)", spec: { type: "u8", byte: "low", offset: -40 }, words: [0x0041], want: 25 },
    { name: "divisor 10 is exact where scale 0.1 is not (971 * 0.1 is 97.10000000000001)", spec: { type: "u16", divisor: 10 }, words: [971], want: 97.1 },
    { name: "divisor then scale", spec: { type: "u32", wordOrder: "little", divisor: 1000 }, words: [0x86a0, 0x0001], want: 100 },
  ];
  for (const c of cases) {
    it(`decodes ${c.name}`, () => {
      const v = decode(c.spec, c.words);
      expect(v.quality).toBe("good");
      expect(v.value).toBe(c.want);
    });
  }

  it("a listed 8-bit sentinel (-128, no sensor) is bad/sentinel and names the byte", () => {
    const v = decode({ type: "i8", byte: "high", sentinels: [-128] }, [0x8019]);
    expect(v).toMatchObject({ quality: "bad", reason: "sentinel" });
    expect(v.detail).toContain("0x80");
    expect(decode({ type: "i8", byte: "low", sentinels: [-128] }, [0x8019]).value).toBe(25);
  });

  it("a bit beyond 7 of an 8-bit value is refused when the decoder is compiled", () => {
    expect(() => compilePoint({ ...base, type: "u8", byte: "low", bit: 8 })).toThrow(ConfigError);
  });
});
