// The checks of a Modbus read response's PDU (function code, exception code, byte count against the
// quantity asked for, the values), shared by the TCP framing (./tcp-frame.ts) and the RTU framing
// (./rtu-frame.ts): one place judges a PDU, whatever carried it. MODBUS Application Protocol
// v1.1b3 §6.1-6.4 (read functions) and §7 (exceptions). Pure: bytes in, a verdict out.

export type ReadFunction = 1 | 2 | 3 | 4;

/** The fields of a response a framing checks, as named in a malformed-frame detail. */
export type FrameField = "transaction id" | "protocol id" | "length" | "unit id" | "function code" | "exception code" | "byte count" | "crc" | "address" | "value" | "quantity";

/** The part of a read request the PDU checks need. */
export interface PduRequest {
  readonly fc: ReadFunction;
  readonly count: number;
}

/** MODBUS Application Protocol v1.1b3 §7, exception codes. */
const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

/** "Modbus exception 2 (illegal data address)": the detail a device_exception point carries. */
export function describeException(code: number): string {
  return `Modbus exception ${code} (${EXCEPTION_NAMES[code] ?? "unknown code"})`;
}

/** Data bytes a valid answer to `count` carries: 2 per register (FC 3/4), 1 per 8 bits (FC 1/2). */
export function expectedDataBytes(fc: ReadFunction, count: number): number {
  return fc === 3 || fc === 4 ? 2 * count : Math.ceil(count / 8);
}

export interface Malformed {
  readonly kind: "malformed";
  readonly field: FrameField;
  readonly detail: string;
}

export const malformed = (field: FrameField, detail: string): Malformed => ({ kind: "malformed", field, detail });

const what = (fc: ReadFunction, count: number): string => `${count} ${fc === 3 || fc === 4 ? "register" : "bit"}${count === 1 ? "" : "s"}`;

/** The response's function code: the one asked for ("data"), or it | 0x80 ("exception"), or wrong. */
export function checkFunctionCode(fc: number, req: { readonly fc: number }): "data" | "exception" | Malformed {
  if (fc === (req.fc | 0x80)) return "exception";
  if (fc !== req.fc) return malformed("function code", `function code ${fc}, expected ${req.fc} (or ${req.fc | 0x80} with an exception)`);
  return "data";
}

/** An exception code: 0 is none of §7's (every other value is reported, named where known). */
export function checkExceptionCode(code: number): Malformed | undefined {
  return code === 0 ? malformed("exception code", "exception code 0 (not a Modbus exception code)") : undefined;
}

/** The byte count must be exactly what the quantity asked for takes. */
export function checkByteCount(byteCount: number, req: PduRequest): Malformed | undefined {
  const want = expectedDataBytes(req.fc, req.count);
  return byteCount === want ? undefined : malformed("byte count", `byte count ${byteCount}, expected ${want} for ${what(req.fc, req.count)}`);
}

/** The values of a data response whose data bytes start at `at`: registers 0..65535, bits 0/1 (least significant first). */
export function readValues(buf: Buffer, at: number, req: PduRequest): number[] {
  const out = new Array<number>(req.count);
  if (req.fc === 3 || req.fc === 4) for (let i = 0; i < req.count; i++) out[i] = buf.readUInt16BE(at + 2 * i);
  else for (let i = 0; i < req.count; i++) out[i] = (buf[at + (i >> 3)]! >> (i & 7)) & 1;
  return out;
}
