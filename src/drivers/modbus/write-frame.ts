// Modbus TCP framing for the write functions a protective action uses (README "Protective actions"):
// FC 5 write single coil, FC 6 write single register, FC 16 write multiple registers (MODBUS
// Application Protocol v1.1b3 §6.5, §6.6, §6.12). A request ADU out; the answer judged field by
// field as reads are (./tcp-frame.ts checkHeader, the same MBAP checks): a normal answer echoes the
// address and the value (FC 5/6) or the address and the quantity (FC 16), and anything else is
// malformed. Pure: bytes in, a verdict out.
import { checkFunctionCode, malformed, type Malformed } from "./pdu.js";
import { checkHeader, exceptionVerdict, MBAP_BYTES } from "./tcp-frame.js";

export type WriteFunction = 5 | 6 | 16;

/** A write as the driver hands it to a link: the function, the first address and the raw values. */
export interface WriteCommand {
  readonly fc: WriteFunction;
  readonly address: number;
  /** FC 5: one value, 0 or 1; FC 6: one register 0..65535; FC 16: 1..123 registers. */
  readonly values: readonly number[];
}

export interface WriteRequest extends WriteCommand {
  readonly transactionId: number;
  readonly unitId: number;
}

export type WriteVerdict =
  | { readonly kind: "incomplete" }
  | { readonly kind: "written"; readonly frameBytes: number }
  | { readonly kind: "exception"; readonly frameBytes: number; readonly code: number }
  | Malformed;

/** §6.12: at most 123 registers in one FC 16 request (the PDU's 253 bytes). */
export const MAX_WRITE_REGISTERS = 123;
/** §6.5: a coil is switched on by 0xFF00 and off by 0x0000; nothing else is a valid value. */
const COIL_ON = 0xff00;
/** Unit id + FC + address (2) + value or quantity (2): every normal write answer has this length field. */
const ECHO_LENGTH_FIELD = 6;

/** Why `cmd` is not a valid write, or undefined: checked before anything goes on the wire. */
export function invalidWrite(cmd: WriteCommand): string | undefined {
  const { fc, address, values } = cmd;
  if (!Number.isInteger(address) || address < 0 || address > 0xffff) return `address ${address} outside 0..65535`;
  if (fc === 5 || fc === 6) {
    if (values.length !== 1) return `FC ${fc} writes exactly one value, not ${values.length}`;
    const v = values[0]!;
    if (fc === 5 && v !== 0 && v !== 1) return `a coil is 0 or 1, not ${v}`;
    if (fc === 6 && !(Number.isInteger(v) && v >= 0 && v <= 0xffff)) return `a register holds 0..65535, not ${v}`;
    return undefined;
  }
  if (values.length < 1 || values.length > MAX_WRITE_REGISTERS) return `FC 16 writes 1..${MAX_WRITE_REGISTERS} registers, not ${values.length}`;
  if (address + values.length > 0x10000) return `FC 16 of ${values.length} registers from ${address} runs past 65535`;
  const bad = values.find((v) => !(Number.isInteger(v) && v >= 0 && v <= 0xffff));
  return bad === undefined ? undefined : `a register holds 0..65535, not ${bad}`;
}

export function encodeWriteRequest(r: WriteRequest): Buffer {
  const pduBytes = r.fc === 16 ? 6 + 2 * r.values.length : 5;
  const b = Buffer.allocUnsafe(MBAP_BYTES + pduBytes);
  b.writeUInt16BE(r.transactionId, 0);
  b.writeUInt16BE(0, 2); // protocol id: Modbus
  b.writeUInt16BE(1 + pduBytes, 4); // unit id + PDU
  b[6] = r.unitId;
  b[7] = r.fc;
  b.writeUInt16BE(r.address, 8);
  if (r.fc === 5) b.writeUInt16BE(r.values[0] === 1 ? COIL_ON : 0, 10);
  else if (r.fc === 6) b.writeUInt16BE(r.values[0]!, 10);
  else {
    b.writeUInt16BE(r.values.length, 10);
    b[12] = 2 * r.values.length;
    r.values.forEach((v, i) => b.writeUInt16BE(v, 13 + 2 * i));
  }
  return b;
}

/** The second echoed field a normal answer must carry: the value (FC 5/6) or the quantity (FC 16). */
function echoedField(r: WriteCommand): number {
  if (r.fc === 5) return r.values[0] === 1 ? COIL_ON : 0;
  if (r.fc === 6) return r.values[0]!;
  return r.values.length;
}

/** Judge the answer at the start of `buf` against the write `req`, as far as the bytes go. */
export function checkWriteResponse(buf: Buffer, req: WriteRequest): WriteVerdict {
  const head = checkHeader(buf, req);
  if (head.kind !== "header") return head;
  if (buf.length < MBAP_BYTES + 1) return { kind: "incomplete" };
  const fc = checkFunctionCode(buf[7]!, req);
  if (fc === "exception") return exceptionVerdict(buf, head.length);
  if (fc !== "data") return fc;
  if (head.length !== ECHO_LENGTH_FIELD) return malformed("length", `length field ${head.length}, expected ${ECHO_LENGTH_FIELD} for an FC ${req.fc} answer`);
  const frameBytes = MBAP_BYTES + 5;
  if (buf.length < frameBytes) return { kind: "incomplete" };
  const address = buf.readUInt16BE(8);
  if (address !== req.address) return malformed("address", `echoed address ${address}, expected ${req.address}`);
  const field = buf.readUInt16BE(10);
  const want = echoedField(req);
  if (field !== want) return malformed(req.fc === 16 ? "quantity" : "value", `echoed ${req.fc === 16 ? "quantity" : "value"} ${field}, expected ${want}`);
  return { kind: "written", frameBytes };
}
