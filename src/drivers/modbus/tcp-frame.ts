// Modbus TCP framing for the read functions (FC 1-4): build a request ADU, and judge the bytes that
// came back against that request field by field (MODBUS Messaging on TCP/IP Implementation Guide
// v1.0b §3.1.3, MBAP header; MODBUS Application Protocol v1.1b3 §6.1-6.4 and §7). Pure: bytes in,
// a verdict out. The socket lives in ./tcp-client.ts.

export type ReadFunction = 1 | 2 | 3 | 4;

/** The fields of a response this file checks, as named in a malformed-frame detail. */
export type FrameField = "transaction id" | "protocol id" | "length" | "unit id" | "function code" | "exception code" | "byte count";

export interface ReadRequest {
  readonly transactionId: number;
  readonly unitId: number;
  readonly fc: ReadFunction;
  readonly start: number;
  readonly count: number;
}

export type ResponseVerdict =
  /** Everything so far fits; the frame is not complete yet. */
  | { readonly kind: "incomplete" }
  /** A complete, valid data response: registers as 0..65535, bits as 0/1. */
  | { readonly kind: "data"; readonly frameBytes: number; readonly values: number[] }
  /** A complete, valid exception response (function code | 0x80, one exception code byte). */
  | { readonly kind: "exception"; readonly frameBytes: number; readonly code: number }
  | { readonly kind: "malformed"; readonly field: FrameField; readonly detail: string };

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

/** Transaction id (2), protocol id (2), length (2), unit id (1). */
export const MBAP_BYTES = 7;
/** The length field counts the unit id and the PDU; a PDU is at most 253 bytes (Application Protocol §4.1). */
const MAX_LENGTH_FIELD = 254;
/** Unit id, function code and the exception code. */
const EXCEPTION_LENGTH_FIELD = 3;
const REQUEST_BYTES = 12;

/** Data bytes a valid answer to `count` carries: 2 per register (FC 3/4), 1 per 8 bits (FC 1/2). */
export function expectedDataBytes(fc: ReadFunction, count: number): number {
  return fc === 3 || fc === 4 ? 2 * count : Math.ceil(count / 8);
}

export function encodeReadRequest(r: ReadRequest): Buffer {
  const b = Buffer.allocUnsafe(REQUEST_BYTES);
  b.writeUInt16BE(r.transactionId, 0);
  b.writeUInt16BE(0, 2); // protocol id: 0 is Modbus
  b.writeUInt16BE(6, 4); // unit id + FC + start + count
  b[6] = r.unitId;
  b[7] = r.fc;
  b.writeUInt16BE(r.start, 8);
  b.writeUInt16BE(r.count, 10);
  return b;
}

/** The transaction id a frame at the start of `buf` carries, or undefined before 2 bytes arrived. */
export function peekTransactionId(buf: Buffer): number | undefined {
  return buf.length >= 2 ? buf.readUInt16BE(0) : undefined;
}

const what = (fc: ReadFunction, count: number): string => `${count} ${fc === 3 || fc === 4 ? "register" : "bit"}${count === 1 ? "" : "s"}`;
const malformed = (field: FrameField, detail: string): ResponseVerdict => ({ kind: "malformed", field, detail });

/**
 * Judge the response at the start of `buf` against `req`, as far as the bytes go: a wrong field is
 * reported as soon as it has arrived, without waiting for the rest of the frame. The transaction id
 * is the caller's to match (it picks `req` by it); it is checked here again for a direct caller.
 */
export function checkResponse(buf: Buffer, req: ReadRequest): ResponseVerdict {
  if (buf.length < 2) return { kind: "incomplete" };
  const tid = buf.readUInt16BE(0);
  if (tid !== req.transactionId) return malformed("transaction id", `transaction id ${tid}, expected ${req.transactionId}`);
  if (buf.length < 4) return { kind: "incomplete" };
  const protocol = buf.readUInt16BE(2);
  if (protocol !== 0) return malformed("protocol id", `protocol id ${protocol}, expected 0 (Modbus)`);
  if (buf.length < 6) return { kind: "incomplete" };
  const length = buf.readUInt16BE(4);
  if (length < EXCEPTION_LENGTH_FIELD || length > MAX_LENGTH_FIELD) return malformed("length", `length field ${length}, outside ${EXCEPTION_LENGTH_FIELD}..${MAX_LENGTH_FIELD}`);
  if (buf.length < MBAP_BYTES) return { kind: "incomplete" };
  const unit = buf[6]!;
  if (unit !== req.unitId) return malformed("unit id", `unit id ${unit}, expected ${req.unitId}`);
  if (buf.length < MBAP_BYTES + 1) return { kind: "incomplete" };
  const fc = buf[7]!;
  if (fc === (req.fc | 0x80)) {
    if (length !== EXCEPTION_LENGTH_FIELD) return malformed("length", `length field ${length}, expected ${EXCEPTION_LENGTH_FIELD} for an exception response`);
    if (buf.length < MBAP_BYTES + 2) return { kind: "incomplete" };
    const code = buf[8]!;
    if (code === 0) return malformed("exception code", "exception code 0 (not a Modbus exception code)");
    return { kind: "exception", frameBytes: MBAP_BYTES + 2, code };
  }
  if (fc !== req.fc) return malformed("function code", `function code ${fc}, expected ${req.fc} (or ${req.fc | 0x80} with an exception)`);
  if (buf.length < MBAP_BYTES + 2) return { kind: "incomplete" };
  const byteCount = buf[8]!;
  const want = expectedDataBytes(req.fc, req.count);
  // The byte count first: a length field that agrees with a wrong byte count is the byte count's fault.
  if (byteCount !== want) return malformed("byte count", `byte count ${byteCount}, expected ${want} for ${what(req.fc, req.count)}`);
  if (length !== byteCount + 3) return malformed("length", `length field ${length}, expected ${byteCount + 3} (unit id, function code, byte count and ${byteCount} data bytes)`);
  const frameBytes = 6 + length;
  if (buf.length < frameBytes) return { kind: "incomplete" };
  return { kind: "data", frameBytes, values: req.fc === 3 || req.fc === 4 ? registers(buf, req.count) : bits(buf, req.count) };
}

function registers(buf: Buffer, count: number): number[] {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = buf.readUInt16BE(MBAP_BYTES + 2 + 2 * i);
  return out;
}

function bits(buf: Buffer, count: number): number[] {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = (buf[MBAP_BYTES + 2 + (i >> 3)]! >> (i & 7)) & 1;
  return out;
}

/**
 * For a frame nobody waits for any more (the answer to a request that timed out): its size when its
 * header is plausible and it is complete, "incomplete" before that, or the field that is wrong.
 */
export function lateFrameBytes(buf: Buffer): number | "incomplete" | { readonly field: FrameField; readonly detail: string } {
  if (buf.length < 6) return "incomplete";
  const protocol = buf.readUInt16BE(2);
  if (protocol !== 0) return { field: "protocol id", detail: `protocol id ${protocol}, expected 0 (Modbus)` };
  const length = buf.readUInt16BE(4);
  if (length < EXCEPTION_LENGTH_FIELD || length > MAX_LENGTH_FIELD) return { field: "length", detail: `length field ${length}, outside ${EXCEPTION_LENGTH_FIELD}..${MAX_LENGTH_FIELD}` };
  return buf.length < 6 + length ? "incomplete" : 6 + length;
}
