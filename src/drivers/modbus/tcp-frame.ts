// Modbus TCP framing for the read functions (FC 1-4): build a request ADU, and judge the bytes that
// came back against that request field by field (MODBUS Messaging on TCP/IP Implementation Guide
// v1.0b §3.1.3, MBAP header; MODBUS Application Protocol v1.1b3 §6.1-6.4 and §7). Pure: bytes in,
// a verdict out. The socket lives in ./tcp-client.ts; the PDU checks are ./pdu.ts, shared with RTU.
import { checkByteCount, checkExceptionCode, checkFunctionCode, malformed as malformedPdu, readValues, type FrameField, type Malformed, type ReadFunction } from "./pdu.js";

export { describeException, expectedDataBytes, type FrameField, type ReadFunction } from "./pdu.js";

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

/** Transaction id (2), protocol id (2), length (2), unit id (1). */
export const MBAP_BYTES = 7;
/** The length field counts the unit id and the PDU; a PDU is at most 253 bytes (Application Protocol §4.1). */
const MAX_LENGTH_FIELD = 254;
/** Unit id, function code and the exception code. */
const EXCEPTION_LENGTH_FIELD = 3;
const REQUEST_BYTES = 12;

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

const malformed = (field: FrameField, detail: string): ResponseVerdict => malformedPdu(field, detail);

/**
 * Judge the response at the start of `buf` against `req`, as far as the bytes go: a wrong field is
 * reported as soon as it has arrived, without waiting for the rest of the frame. The transaction id
 * is the caller's to match (it picks `req` by it); it is checked here again for a direct caller.
 */
export function checkResponse(buf: Buffer, req: ReadRequest): ResponseVerdict {
  const head = checkHeader(buf, req);
  if (head.kind !== "header") return head;
  const { length } = head;
  if (buf.length < MBAP_BYTES + 1) return { kind: "incomplete" };
  const fc = checkFunctionCode(buf[7]!, req);
  if (fc === "exception") return exceptionVerdict(buf, length);
  if (fc !== "data") return fc;
  if (buf.length < MBAP_BYTES + 2) return { kind: "incomplete" };
  const byteCount = buf[8]!;
  // The byte count first: a length field that agrees with a wrong byte count is the byte count's fault.
  const wrongCount = checkByteCount(byteCount, req);
  if (wrongCount !== undefined) return wrongCount;
  if (length !== byteCount + 3) return malformed("length", `length field ${length}, expected ${byteCount + 3} (unit id, function code, byte count and ${byteCount} data bytes)`);
  const frameBytes = 6 + length;
  if (buf.length < frameBytes) return { kind: "incomplete" };
  return { kind: "data", frameBytes, values: readValues(buf, MBAP_BYTES + 2, req) };
}

/** An exception response after a valid header: its length field and code checked. */
export function exceptionVerdict(buf: Buffer, length: number): { readonly kind: "incomplete" } | { readonly kind: "exception"; readonly frameBytes: number; readonly code: number } | Malformed {
  if (length !== EXCEPTION_LENGTH_FIELD) return malformedPdu("length", `length field ${length}, expected ${EXCEPTION_LENGTH_FIELD} for an exception response`);
  if (buf.length < MBAP_BYTES + 2) return { kind: "incomplete" };
  const code = buf[8]!;
  return checkExceptionCode(code) ?? { kind: "exception", frameBytes: MBAP_BYTES + 2, code };
}

/**
 * The MBAP header of a response against its request (transaction id, protocol id, length range,
 * unit id), shared by reads and writes (./write-frame.ts): the length field once it is valid.
 */
export function checkHeader(buf: Buffer, req: { readonly transactionId: number; readonly unitId: number }): { readonly kind: "header"; readonly length: number } | { readonly kind: "incomplete" } | Malformed {
  if (buf.length < 2) return { kind: "incomplete" };
  const tid = buf.readUInt16BE(0);
  if (tid !== req.transactionId) return malformedPdu("transaction id", `transaction id ${tid}, expected ${req.transactionId}`);
  if (buf.length < 4) return { kind: "incomplete" };
  const protocol = buf.readUInt16BE(2);
  if (protocol !== 0) return malformedPdu("protocol id", `protocol id ${protocol}, expected 0 (Modbus)`);
  if (buf.length < 6) return { kind: "incomplete" };
  const length = buf.readUInt16BE(4);
  if (length < EXCEPTION_LENGTH_FIELD || length > MAX_LENGTH_FIELD) return malformedPdu("length", `length field ${length}, outside ${EXCEPTION_LENGTH_FIELD}..${MAX_LENGTH_FIELD}`);
  if (buf.length < MBAP_BYTES) return { kind: "incomplete" };
  const unit = buf[6]!;
  if (unit !== req.unitId) return malformedPdu("unit id", `unit id ${unit}, expected ${req.unitId}`);
  return { kind: "header", length };
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
