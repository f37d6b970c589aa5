import { describe, expect, it } from "vitest";
import { checkResponse, encodeReadRequest, lateFrameBytes, type ReadRequest } from "../../src/drivers/modbus/tcp-frame.js";

const req: ReadRequest = { transactionId: 0x1234, unitId: 7, fc: 3, start: 100, count: 10 };

/** A valid answer to `r`, then `edit` applied to it. */
function answer(r: ReadRequest, edit: (b: Buffer) => void = () => undefined): Buffer {
  const data = r.fc === 3 || r.fc === 4 ? 2 * r.count : Math.ceil(r.count / 8);
  const b = Buffer.alloc(9 + data);
  b.writeUInt16BE(r.transactionId, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(3 + data, 4);
  b[6] = r.unitId;
  b[7] = r.fc;
  b[8] = data;
  for (let i = 0; i < data; i++) b[9 + i] = i + 1;
  edit(b);
  return b;
}

describe("Modbus TCP frame codec", () => {
  it("encodes a read request as MBAP header + PDU", () => {
    expect(encodeReadRequest(req).toString("hex")).toBe("123400000006070300640" + "00a");
  });

  it("a valid FC 3 answer gives the registers and its size", () => {
    const v = checkResponse(answer(req), req);
    expect(v).toEqual({ kind: "data", frameBytes: 29, values: [0x0102, 0x0304, 0x0506, 0x0708, 0x090a, 0x0b0c, 0x0d0e, 0x0f10, 0x1112, 0x1314] });
  });

  it("a valid FC 1 answer unpacks bits, least significant first", () => {
    const r: ReadRequest = { ...req, fc: 1, count: 10 };
    const b = answer(r, (x) => ((x[9] = 0b1000_0101), (x[10] = 0b10)));
    expect(checkResponse(b, r)).toEqual({ kind: "data", frameBytes: 11, values: [1, 0, 1, 0, 0, 0, 0, 1, 0, 1] });
  });

  it("an exception answer gives its code", () => {
    const b = Buffer.from([0x12, 0x34, 0, 0, 0, 3, 7, 0x83, 2]);
    expect(checkResponse(b, req)).toEqual({ kind: "exception", frameBytes: 9, code: 2 });
  });

  it("waits for the rest of a frame that fits so far", () => {
    const full = answer(req);
    for (const n of [0, 1, 5, 8, 9, 28]) expect(checkResponse(full.subarray(0, n), req)).toEqual({ kind: "incomplete" });
  });

  // Each malformed field, reported as soon as it has arrived, with a detail that names it.
  it.each([
    ["transaction id", (b: Buffer): void => void b.writeUInt16BE(0x1235, 0), /transaction id 4661, expected 4660/],
    ["protocol id", (b: Buffer): void => void b.writeUInt16BE(1, 2), /protocol id 1, expected 0/],
    ["length", (b: Buffer): void => void b.writeUInt16BE(0, 4), /length field 0, outside 3\.\.254/],
    ["length", (b: Buffer): void => void b.writeUInt16BE(24, 4), /length field 24, expected 23/],
    ["unit id", (b: Buffer): void => void (b[6] = 8), /unit id 8, expected 7/],
    ["function code", (b: Buffer): void => void (b[7] = 4), /function code 4, expected 3 \(or 131 with an exception\)/],
    ["byte count", (b: Buffer): void => void (b[8] = 7), /byte count 7, expected 20 for 10 registers/],
    ["byte count", (b: Buffer): void => void (b[8] = 2), /byte count 2, expected 20 for 10 registers/],
  ] as const)("a wrong %s is malformed (%s)", (field, edit, detail) => {
    const v = checkResponse(answer(req, edit), req);
    expect(v).toMatchObject({ kind: "malformed", field });
    expect(v.kind === "malformed" && v.detail).toMatch(detail);
  });

  it("a byte count that agrees with its length field is blamed on the byte count", () => {
    const b = answer(req, (x) => ((x[8] = 7), x.writeUInt16BE(10, 4)));
    expect(checkResponse(b, req)).toMatchObject({ kind: "malformed", field: "byte count", detail: "byte count 7, expected 20 for 10 registers" });
  });

  it("an exception frame with a wrong length or a zero code is malformed", () => {
    expect(checkResponse(Buffer.from([0x12, 0x34, 0, 0, 0, 4, 7, 0x83, 2, 0]), req)).toMatchObject({ kind: "malformed", field: "length" });
    expect(checkResponse(Buffer.from([0x12, 0x34, 0, 0, 0, 3, 7, 0x83, 0]), req)).toMatchObject({ kind: "malformed", field: "exception code" });
  });

  it("FC 1/2 byte counts are ceil(bits / 8)", () => {
    const r: ReadRequest = { ...req, fc: 2, count: 17 };
    expect(checkResponse(answer(r, (x) => (x[8] = 2)), r)).toMatchObject({ kind: "malformed", detail: "byte count 2, expected 3 for 17 bits" });
  });

  it("a late frame is measured by its header, or rejected when the header is not Modbus", () => {
    expect(lateFrameBytes(answer(req))).toBe(29);
    expect(lateFrameBytes(answer(req).subarray(0, 20))).toBe("incomplete");
    expect(lateFrameBytes(answer(req, (b) => b.writeUInt16BE(9, 2)))).toMatchObject({ field: "protocol id" });
  });
});
