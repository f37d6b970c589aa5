// Modbus RTU framing for the read functions (FC 1-4): a request frame (unit id, PDU, CRC), and the
// bytes that came back judged against that request field by field, the PDU by ./pdu.ts as for TCP,
// then the CRC (MODBUS over Serial Line v1.02 §2.5.1 frame, §6.2.2 CRC). Also the line's timing: a
// character's time at the baud rate and the silent interval (t3.5) that delimits frames. Pure.
import { checkByteCount, checkExceptionCode, checkFunctionCode, expectedDataBytes, malformed, readValues, type Malformed, type ReadFunction } from "./pdu.js";

export interface RtuReadRequest {
  readonly unitId: number;
  readonly fc: ReadFunction;
  readonly start: number;
  readonly count: number;
}

export type RtuVerdict =
  | { readonly kind: "incomplete" }
  | { readonly kind: "data"; readonly frameBytes: number; readonly values: number[] }
  | { readonly kind: "exception"; readonly frameBytes: number; readonly code: number }
  | Malformed;

/** Unit id, function code, start (2), quantity (2), CRC (2). */
export const RTU_REQUEST_BYTES = 8;
/** Unit id, function code | 0x80, exception code, CRC (2). */
const EXCEPTION_FRAME_BYTES = 5;

/** CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF), Serial Line v1.02 §6.2.2. */
export function crc16(buf: Buffer, end = buf.length): number {
  let crc = 0xffff;
  for (let i = 0; i < end; i++) {
    crc ^= buf[i]!;
    for (let b = 0; b < 8; b++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** The CRC goes on the wire low byte first (Serial Line v1.02 §2.5.1.2). */
export function withCrc(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 2);
  body.copy(out, 0);
  out.writeUInt16LE(crc16(body), body.length);
  return out;
}

export function encodeRtuRequest(r: RtuReadRequest): Buffer {
  const b = Buffer.allocUnsafe(RTU_REQUEST_BYTES);
  b[0] = r.unitId;
  b[1] = r.fc;
  b.writeUInt16BE(r.start, 2);
  b.writeUInt16BE(r.count, 4);
  b.writeUInt16LE(crc16(b, 6), 6);
  return b;
}

/** Bytes of a valid data answer to `fc`/`count`: unit id, function code, byte count, data, CRC. */
export function rtuResponseBytes(fc: ReadFunction, count: number): number {
  return 5 + expectedDataBytes(fc, count);
}

function crcOk(buf: Buffer, frameBytes: number): Malformed | undefined {
  const got = buf.readUInt16LE(frameBytes - 2);
  const want = crc16(buf, frameBytes - 2);
  return got === want ? undefined : malformed("crc", `CRC 0x${got.toString(16).padStart(4, "0")}, computed 0x${want.toString(16).padStart(4, "0")} over ${frameBytes - 2} bytes`);
}

/**
 * Judge the response at the start of `buf` against `req`, as far as the bytes go: a wrong unit id,
 * function code or byte count is reported as soon as it has arrived; the CRC once the frame is complete.
 */
export function checkRtuResponse(buf: Buffer, req: RtuReadRequest): RtuVerdict {
  if (buf.length < 1) return { kind: "incomplete" };
  if (buf[0] !== req.unitId) return malformed("unit id", `unit id ${buf[0]}, expected ${req.unitId}`);
  if (buf.length < 2) return { kind: "incomplete" };
  const fc = checkFunctionCode(buf[1]!, req);
  if (fc === "exception") {
    if (buf.length < EXCEPTION_FRAME_BYTES) return { kind: "incomplete" };
    const code = buf[2]!;
    return crcOk(buf, EXCEPTION_FRAME_BYTES) ?? checkExceptionCode(code) ?? { kind: "exception", frameBytes: EXCEPTION_FRAME_BYTES, code };
  }
  if (fc !== "data") return fc;
  if (buf.length < 3) return { kind: "incomplete" };
  const wrongCount = checkByteCount(buf[2]!, req);
  if (wrongCount !== undefined) return wrongCount;
  const frameBytes = rtuResponseBytes(req.fc, req.count);
  if (buf.length < frameBytes) return { kind: "incomplete" };
  return crcOk(buf, frameBytes) ?? { kind: "data", frameBytes, values: readValues(buf, 3, req) };
}

/**
 * A frame nobody waits for any more (the late answer of a unit whose request timed out): its size
 * when it is a complete, CRC-valid read answer or exception from `unitId`, "incomplete" before that,
 * undefined when it is not one.
 */
export function lateRtuFrameBytes(buf: Buffer, unitId: number, fc: ReadFunction): number | "incomplete" | undefined {
  if (buf.length < 2) return "incomplete";
  if (buf[0] !== unitId) return undefined;
  let bytes: number;
  if (buf[1] === (fc | 0x80)) bytes = EXCEPTION_FRAME_BYTES;
  else if (buf[1] === fc) {
    if (buf.length < 3) return "incomplete";
    bytes = 5 + buf[2]!;
  } else return undefined;
  if (buf.length < bytes) return "incomplete";
  return crcOk(buf, bytes) === undefined ? bytes : undefined;
}

// ---- the line's timing (MODBUS over Serial Line v1.02 §2.5.1.1) ----

export type Parity = "none" | "even" | "odd";

export interface CharFormat {
  readonly baud: number;
  readonly dataBits: 7 | 8;
  readonly parity: Parity;
  readonly stopBits: 1 | 2;
}

/** Bits per character on the wire: start bit, data bits, parity bit (if any), stop bits. RTU is 8E1 = 11 by default. */
export function charBits(f: CharFormat): number {
  return 1 + f.dataBits + (f.parity === "none" ? 0 : 1) + f.stopBits;
}

/** Milliseconds one character takes at the line's baud rate. */
export function charMs(f: CharFormat): number {
  return (charBits(f) * 1000) / f.baud;
}

/**
 * Above 19200 baud the spec fixes t3.5 at 1.75 ms instead of 3.5 character times (§2.5.1.1:
 * interrupt load on the device), which is also this floor.
 */
export const T35_FLOOR_MS = 1.75;
const FIXED_ABOVE_BAUD = 19200;

/** The silent interval between frames, t3.5 (ms): 3.5 character times, 1.75 ms above 19200 baud. */
export function t35Ms(f: CharFormat): number {
  return f.baud > FIXED_ABOVE_BAUD ? T35_FLOOR_MS : Math.max(T35_FLOOR_MS, 3.5 * charMs(f));
}

/** Milliseconds a frame of `bytes` takes on the wire. */
export function frameMs(bytes: number, f: CharFormat): number {
  return bytes * charMs(f);
}
