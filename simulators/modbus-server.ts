// A lean Modbus TCP server on node:net for the simulators and tests: MBAP framing by hand, because
// modbus-serial's ServerTCP costs ~10x more per request. Serves one RegisterBank per unit id.
import net from "node:net";

/** The four Modbus tables of one unit, addressed 0..65535 as on the wire. */
export class RegisterBank {
  readonly holding = new Uint16Array(65536);
  readonly input = new Uint16Array(65536);
  readonly coils = new Uint8Array(65536);
  readonly discrete = new Uint8Array(65536);
}

export interface ModbusTcpServer {
  readonly port: number;
  /** Requests answered so far. */
  requests(): number;
  /** Accept connections and requests but never answer: a hung device. */
  setSilent(silent: boolean): void;
  close(): Promise<void>;
}

export interface ModbusTcpServerOptions {
  host?: string;
  /** 0 = an ephemeral port, read back from `port`. */
  port: number;
  units: ReadonlyMap<number, RegisterBank>;
  /** Called for every register read answered (FC 3/4), before the answer is sent: the bench uses it to see when a poll carried a change. */
  onRead?: (unitId: number, bank: RegisterBank, addr: number, count: number) => void;
}

// Modbus Application Protocol v1.1b3: exception codes and request limits.
const EX_ILLEGAL_FUNCTION = 0x01;
const EX_ILLEGAL_ADDRESS = 0x02;
const EX_ILLEGAL_VALUE = 0x03;
const EX_GATEWAY_TARGET_FAILED = 0x0b;
const MAX_READ_REGS = 125;
const MAX_READ_BITS = 2000;
const MAX_WRITE_REGS = 123;
const MBAP_HEADER = 7; // transaction(2) protocol(2) length(2) unit(1)
const MAX_LENGTH_FIELD = 254; // unit id + PDU of at most 253 bytes

/** Thrown inside request handling when the frame cannot be a valid request: the connection closes. */
class MalformedFrame extends Error {}

export function startModbusTcpServer(opts: ModbusTcpServerOptions): Promise<ModbusTcpServer> {
  const sockets = new Set<net.Socket>();
  let silent = false;
  let served = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy()); // a client reset is that client's business
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const replies: Buffer[] = [];
      let at = 0;
      try {
        while (pending.length - at >= MBAP_HEADER) {
          const protocol = pending.readUInt16BE(at + 2);
          const length = pending.readUInt16BE(at + 4);
          if (protocol !== 0 || length < 2 || length > MAX_LENGTH_FIELD) throw new MalformedFrame();
          const end = at + 6 + length;
          if (pending.length < end) break; // the rest of this frame is in a later chunk
          if (!silent) {
            replies.push(answer(pending.subarray(at, end), opts));
            served++;
          }
          at = end;
        }
      } catch (err) {
        if (!(err instanceof MalformedFrame)) throw err;
        socket.destroy();
        return;
      }
      pending = at === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(at));
      if (replies.length === 1) socket.write(replies[0]!);
      else if (replies.length > 1) socket.write(Buffer.concat(replies));
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      const addr = server.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : opts.port;
      resolve({
        port,
        requests: () => served,
        setSilent: (s) => {
          silent = s;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** One complete ADU (MBAP header + PDU) in, one response ADU out (also the RTU transport's, simulators/rtu-server.ts). */
export function answer(adu: Buffer, opts: ModbusTcpServerOptions): Buffer {
  const unitId = adu[6]!;
  const pdu = adu.subarray(MBAP_HEADER);
  const fc = pdu[0]!;
  const bank = opts.units.get(unitId);
  if (bank !== undefined && (fc === 3 || fc === 4)) return readRegisters(adu, unitId, bank, opts);
  const body = bank === undefined ? exception(fc, EX_GATEWAY_TARGET_FAILED) : execute(fc, pdu, bank);
  const out = Buffer.allocUnsafe(MBAP_HEADER + body.length);
  adu.copy(out, 0, 0, 4); // transaction id and protocol id echo the request
  out.writeUInt16BE(body.length + 1, 4);
  out[6] = unitId;
  body.copy(out, MBAP_HEADER);
  return out;
}

/** FC 3/4, the hot path of every poll: the answer is built in place, one buffer per request. */
function readRegisters(adu: Buffer, unitId: number, bank: RegisterBank, opts: ModbusTcpServerOptions): Buffer {
  const pdu = adu.subarray(MBAP_HEADER);
  need(pdu, 5);
  const fc = pdu[0]!;
  const addr = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  const ok = count >= 1 && count <= MAX_READ_REGS && addr + count <= 65536;
  const out = Buffer.allocUnsafe(MBAP_HEADER + (ok ? 2 + 2 * count : 2));
  adu.copy(out, 0, 0, 4); // transaction id and protocol id echo the request
  out.writeUInt16BE(out.length - 6, 4);
  out[6] = unitId;
  if (!ok) {
    out[7] = fc | 0x80;
    out[8] = EX_ILLEGAL_ADDRESS;
    return out;
  }
  const regs = fc === 3 ? bank.holding : bank.input;
  out[7] = fc;
  out[8] = 2 * count;
  for (let i = 0; i < count; i++) out.writeUInt16BE(regs[addr + i]!, MBAP_HEADER + 2 + 2 * i);
  opts.onRead?.(unitId, bank, addr, count);
  return out;
}

function exception(fc: number, code: number): Buffer {
  return Buffer.from([fc | 0x80, code]);
}

function need(pdu: Buffer, bytes: number): void {
  if (pdu.length !== bytes) throw new MalformedFrame();
}

function execute(fc: number, pdu: Buffer, bank: RegisterBank): Buffer {
  switch (fc) {
    case 1:
    case 2: {
      need(pdu, 5);
      const addr = pdu.readUInt16BE(1);
      const count = pdu.readUInt16BE(3);
      // The brief asks for 02 on an oversize count as well as on an address overrun.
      if (count < 1 || count > MAX_READ_BITS || addr + count > 65536) return exception(fc, EX_ILLEGAL_ADDRESS);
      const bits = fc === 1 ? bank.coils : bank.discrete;
      const bytes = Math.ceil(count / 8);
      const out = Buffer.alloc(2 + bytes);
      out[0] = fc;
      out[1] = bytes;
      for (let i = 0; i < count; i++) if (bits[addr + i]) out[2 + (i >> 3)]! |= 1 << (i & 7);
      return out;
    }
    case 6: {
      need(pdu, 5);
      bank.holding[pdu.readUInt16BE(1)] = pdu.readUInt16BE(3);
      return Buffer.from(pdu); // echo
    }
    case 16: {
      if (pdu.length < 6) throw new MalformedFrame();
      const addr = pdu.readUInt16BE(1);
      const count = pdu.readUInt16BE(3);
      const byteCount = pdu[5]!;
      need(pdu, 6 + byteCount);
      if (byteCount !== 2 * count) return exception(fc, EX_ILLEGAL_VALUE);
      if (count < 1 || count > MAX_WRITE_REGS || addr + count > 65536) return exception(fc, EX_ILLEGAL_ADDRESS);
      for (let i = 0; i < count; i++) bank.holding[addr + i] = pdu.readUInt16BE(6 + 2 * i);
      return Buffer.from(pdu.subarray(0, 5));
    }
    default:
      return exception(fc, EX_ILLEGAL_FUNCTION);
  }
}
