import { describe, expect, it } from "vitest";
import { charBits, checkRtuResponse, crc16, encodeRtuRequest, frameMs, lateRtuFrameBytes, t35Ms, withCrc, type RtuReadRequest } from "../../src/drivers/modbus/rtu-frame.js";

const req: RtuReadRequest = { unitId: 7, fc: 3, start: 100, count: 3 };

/** A valid answer to `r` (CRC recomputed after `edit` unless `keepCrc`). */
function answer(r: RtuReadRequest, edit: (b: Buffer) => void = () => undefined, fixCrc = true): Buffer {
  const data = r.fc === 3 || r.fc === 4 ? 2 * r.count : Math.ceil(r.count / 8);
  const body = Buffer.alloc(3 + data);
  body[0] = r.unitId;
  body[1] = r.fc;
  body[2] = data;
  for (let i = 0; i < data; i++) body[3 + i] = i + 1;
  const framed = withCrc(body);
  edit(framed);
  if (fixCrc) framed.writeUInt16LE(crc16(framed, framed.length - 2), framed.length - 2);
  return framed;
}

describe("Modbus RTU frame codec", () => {
  it("computes the CRC of the specification's example (01 03 00 00 00 0A -> C5 CD)", () => {
    expect(encodeRtuRequest({ unitId: 1, fc: 3, start: 0, count: 10 }).toString("hex")).toBe("01030000000ac5cd");
  });

  it("a valid FC 3 answer gives the registers and the frame size", () => {
    expect(checkRtuResponse(answer(req), req)).toEqual({ kind: "data", frameBytes: 11, values: [0x0102, 0x0304, 0x0506] });
  });

  it("a valid FC 2 answer unpacks bits, least significant first", () => {
    const r: RtuReadRequest = { ...req, fc: 2, count: 10 };
    const b = answer(r, (x) => ((x[3] = 0b1000_0101), (x[4] = 0b10)));
    expect(checkRtuResponse(b, r)).toEqual({ kind: "data", frameBytes: 7, values: [1, 0, 1, 0, 0, 0, 0, 1, 0, 1] });
  });

  it("an exception answer gives its code", () => {
    expect(checkRtuResponse(withCrc(Buffer.from([7, 0x83, 2])), req)).toEqual({ kind: "exception", frameBytes: 5, code: 2 });
  });

  it("waits for the rest of a frame that fits so far", () => {
    const full = answer(req);
    for (const n of [0, 1, 2, 3, 10]) expect(checkRtuResponse(full.subarray(0, n), req)).toEqual({ kind: "incomplete" });
  });

  it.each([
    ["unit id", (b: Buffer): void => void (b[0] = 8), /unit id 8, expected 7/],
    ["function code", (b: Buffer): void => void (b[1] = 4), /function code 4, expected 3 \(or 131 with an exception\)/],
    ["byte count", (b: Buffer): void => void (b[2] = 4), /byte count 4, expected 6 for 3 registers/],
  ] as const)("a wrong %s is malformed", (field, edit, detail) => {
    const v = checkRtuResponse(answer(req, edit), req);
    expect(v).toMatchObject({ kind: "malformed", field });
    expect(v.kind === "malformed" && v.detail).toMatch(detail);
  });

  it("a flipped data bit is a CRC error, not a value", () => {
    const v = checkRtuResponse(answer(req, (b) => void (b[4] = b[4]! ^ 0x10), false), req);
    expect(v).toMatchObject({ kind: "malformed", field: "crc" });
  });

  it("exception code 0 is malformed; a bad CRC on an exception too", () => {
    expect(checkRtuResponse(withCrc(Buffer.from([7, 0x83, 0])), req)).toMatchObject({ kind: "malformed", field: "exception code" });
    expect(checkRtuResponse(Buffer.from([7, 0x83, 2, 0, 0]), req)).toMatchObject({ kind: "malformed", field: "crc" });
  });

  it("recognises a complete, CRC-valid late answer of a given unit", () => {
    const late = answer(req);
    expect(lateRtuFrameBytes(late, 7, 3)).toBe(11);
    expect(lateRtuFrameBytes(late.subarray(0, 6), 7, 3)).toBe("incomplete");
    expect(lateRtuFrameBytes(late, 8, 3)).toBeUndefined();
    expect(lateRtuFrameBytes(answer(req, (b) => void (b[4] = b[4]! ^ 1), false), 7, 3)).toBeUndefined();
  });
});

describe("RTU line timing", () => {
  it("8E1 is 11 bits a character; t3.5 is 3.5 characters up to 19200 baud, then 1.75 ms", () => {
    const f = { baud: 9600, dataBits: 8, parity: "even", stopBits: 1 } as const;
    expect(charBits(f)).toBe(11);
    expect(t35Ms(f)).toBeCloseTo((3.5 * 11 * 1000) / 9600, 6); // 4.01 ms
    expect(t35Ms({ ...f, baud: 19200 })).toBeCloseTo(2.005, 3);
    expect(t35Ms({ ...f, baud: 115200 })).toBe(1.75);
    expect(frameMs(8, f)).toBeCloseTo(9.167, 3);
  });
});
