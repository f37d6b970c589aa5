import { describe, expect, it } from "vitest";
import { checkWriteResponse, encodeWriteRequest, invalidWrite, type WriteRequest } from "../../src/drivers/modbus/write-frame.js";

const hex = (b: Buffer) => b.toString("hex").replace(/(..)/g, "$1 ").trim();
const req = (over: Partial<WriteRequest>): WriteRequest => ({ transactionId: 7, unitId: 1, fc: 6, address: 40213, values: [2], ...over });
/** An answer ADU: MBAP with the length of the PDU + unit id, the PDU bytes. */
const answer = (tid: number, unit: number, pdu: number[]) => Buffer.from([tid >> 8, tid & 0xff, 0, 0, 0, pdu.length + 1, unit, ...pdu]);

describe("Modbus write frames (FC 5, 6, 16)", () => {
  it.each([
    ["FC 5 coil on (0xFF00)", req({ fc: 5, address: 3, values: [1] }), "00 07 00 00 00 06 01 05 00 03 ff 00"],
    ["FC 5 coil off (0x0000)", req({ fc: 5, address: 3, values: [0] }), "00 07 00 00 00 06 01 05 00 03 00 00"],
    ["FC 6 one register", req({ fc: 6, address: 40213, values: [2] }), "00 07 00 00 00 06 01 06 9d 15 00 02"],
    ["FC 16 two registers", req({ fc: 16, address: 100, values: [0x0001, 0x86a0] }), "00 07 00 00 00 0b 01 10 00 64 00 02 04 00 01 86 a0"],
  ])("encodes %s", (_name, r, bytes) => {
    expect(hex(encodeWriteRequest(r))).toBe(bytes);
  });

  it("accepts the echo of the request (FC 5/6: address and value; FC 16: address and quantity)", () => {
    expect(checkWriteResponse(answer(7, 1, [6, 0x9d, 0x15, 0, 2]), req({}))).toEqual({ kind: "written", frameBytes: 12 });
    expect(checkWriteResponse(answer(7, 1, [5, 0, 3, 0xff, 0]), req({ fc: 5, address: 3, values: [1] }))).toEqual({ kind: "written", frameBytes: 12 });
    expect(checkWriteResponse(answer(7, 1, [16, 0, 100, 0, 2]), req({ fc: 16, address: 100, values: [1, 2] }))).toEqual({ kind: "written", frameBytes: 12 });
  });

  it("reports an exception answer with its code", () => {
    expect(checkWriteResponse(answer(7, 1, [0x86, 2]), req({}))).toEqual({ kind: "exception", frameBytes: 9, code: 2 });
  });

  it.each([
    ["a wrong echoed address", answer(7, 1, [6, 0x9d, 0x16, 0, 2]), "address", "echoed address 40214, expected 40213"],
    ["a wrong echoed value", answer(7, 1, [6, 0x9d, 0x15, 0, 1]), "value", "echoed value 1, expected 2"],
    ["another function code", answer(7, 1, [3, 0x9d, 0x15, 0, 2]), "function code", "function code 3, expected 6 (or 134 with an exception)"],
    ["another unit", answer(7, 2, [6, 0x9d, 0x15, 0, 2]), "unit id", "unit id 2, expected 1"],
    ["another transaction", answer(8, 1, [6, 0x9d, 0x15, 0, 2]), "transaction id", "transaction id 8, expected 7"],
    ["a length that does not fit an echo", answer(7, 1, [6, 0x9d, 0x15, 0, 2, 0]), "length", "length field 7, expected 6 for an FC 6 answer"],
  ])("refuses %s, naming the field", (_name, buf, field, detail) => {
    expect(checkWriteResponse(buf, req({}))).toEqual({ kind: "malformed", field, detail });
  });

  it("a quantity echo that differs from the registers written is malformed", () => {
    expect(checkWriteResponse(answer(7, 1, [16, 0, 100, 0, 3]), req({ fc: 16, address: 100, values: [1, 2] }))).toMatchObject({ kind: "malformed", field: "quantity" });
  });

  it("waits for the rest of a frame", () => {
    const full = answer(7, 1, [6, 0x9d, 0x15, 0, 2]);
    for (let n = 0; n < full.length; n++) expect(checkWriteResponse(full.subarray(0, n), req({}))).toEqual({ kind: "incomplete" });
  });

  it("refuses writes outside the protocol before they go on the wire", () => {
    expect(invalidWrite({ fc: 5, address: 0, values: [2] })).toBe("a coil is 0 or 1, not 2");
    expect(invalidWrite({ fc: 6, address: 0, values: [70000] })).toBe("a register holds 0..65535, not 70000");
    expect(invalidWrite({ fc: 16, address: 0, values: new Array<number>(124).fill(0) })).toBe("FC 16 writes 1..123 registers, not 124");
    expect(invalidWrite({ fc: 16, address: 65535, values: [1, 2] })).toBe("FC 16 of 2 registers from 65535 runs past 65535");
    expect(invalidWrite({ fc: 6, address: 1, values: [1] })).toBeUndefined();
  });
});
