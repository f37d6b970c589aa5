// A lean Modbus TCP server on node:net for the simulators and tests: MBAP framing by hand, because
// modbus-serial's ServerTCP costs ~10x more per request. Serves one RegisterBank per unit id and
// answers as the MODBUS Application Protocol v1.1b3 §6 assigns exception codes (README "The simulator on its own").
import net from "node:net";
import { RegisterBank } from "./register-bank.js";

export { RegisterBank } from "./register-bank.js";

export interface ModbusTcpServer {
  readonly port: number;
  /** Requests answered so far. */
  requests(): number;
  /** Accept connections and requests but never answer: a hung device. */
  setSilent(silent: boolean): void;
  /** Answer every request this long after it arrived (0: at once): a slow device or a long network path. */
  setResponseDelay(ms: number): void;
  close(): Promise<void>;
}

export interface ModbusTcpServerOptions {
  host?: string;
  /** 0 = an ephemeral port, read back from `port`. */
  port: number;
  units: ReadonlyMap<number, RegisterBank>;
  /** Called for every register read answered (FC 3/4), before the answer is sent: the bench uses it to see when a poll carried a change. */
  onRead?: (unitId: number, bank: RegisterBank, addr: number, count: number) => void;
  /**
   * Called after an accepted write (FC 5/6/15/16) changed the bank: the hook a simulated device
   * uses to act on a command register (e.g. SunSpec 802 AlmRst, 804 SetCon, once a profile
   * declares them writable).
   */
  onWrite?: (unitId: number, bank: RegisterBank, table: "holding" | "coil", addr: number, count: number) => void;
  /**
   * A unit id with no bank: "exception" answers 0x0B (gateway target device failed to respond),
   * as a gateway does; "silent" never answers, as a lone device on a serial line does.
   */
  unknownUnit?: "exception" | "silent";
  /** Answer every request this long after it arrived; default 0. Changeable with setResponseDelay. */
  responseDelayMs?: number;
}

// Modbus Application Protocol v1.1b3: exception codes and request limits.
const EX_ILLEGAL_FUNCTION = 0x01;
const EX_ILLEGAL_ADDRESS = 0x02;
const EX_ILLEGAL_VALUE = 0x03;
const EX_GATEWAY_TARGET_FAILED = 0x0b;
const MAX_READ_REGS = 125; // §6.3/6.4
const MAX_READ_BITS = 2000; // §6.1/6.2
const MAX_WRITE_REGS = 123; // §6.12
const MAX_WRITE_BITS = 1968; // §6.11 (0x7B0)
const MBAP_HEADER = 7; // transaction(2) protocol(2) length(2) unit(1)
const MAX_LENGTH_FIELD = 254; // unit id + PDU of at most 253 bytes

/**
 * An MBAP header that cannot be trusted (protocol id not 0, length outside 2..254): the stream has
 * lost its frame boundaries, so the connection closes. A bad PDU inside an honest MBAP length is
 * answered (exception 03) and the connection kept.
 */
class MalformedFrame extends Error {}

export function startModbusTcpServer(opts: ModbusTcpServerOptions): Promise<ModbusTcpServer> {
  const sockets = new Set<net.Socket>();
  let silent = false;
  let served = 0;
  let delayMs = opts.responseDelayMs ?? 0;
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
            const reply = answer(pending.subarray(at, end), opts);
            if (reply !== undefined) {
              replies.push(reply);
              served++;
            }
          }
          at = end;
        }
      } catch (err) {
        if (!(err instanceof MalformedFrame)) throw err;
        socket.destroy();
        return;
      }
      pending = at === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(at));
      if (replies.length === 0) return;
      const out = replies.length === 1 ? replies[0]! : Buffer.concat(replies);
      // Timers of equal delay fire in the order they were set: delayed answers keep their order.
      if (delayMs > 0) setTimeout(() => void (socket.destroyed ? undefined : socket.write(out)), delayMs);
      else socket.write(out);
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
        setResponseDelay: (ms) => {
          delayMs = Math.max(0, ms);
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

/** One complete ADU (MBAP header + PDU) in, one response ADU out (undefined: no answer); also the RTU transport's (simulators/rtu-server.ts). */
export function answer(adu: Buffer, opts: ModbusTcpServerOptions): Buffer | undefined {
  const unitId = adu[6]!;
  const pdu = adu.subarray(MBAP_HEADER);
  const fc = pdu[0]!;
  const bank = opts.units.get(unitId);
  if (bank === undefined && opts.unknownUnit === "silent") return undefined;
  if (bank !== undefined && (fc === 3 || fc === 4) && pdu.length === 5) return readRegisters(adu, unitId, bank, opts);
  const body = bank === undefined ? exception(fc, EX_GATEWAY_TARGET_FAILED) : execute(unitId, fc, pdu, bank, opts);
  const out = Buffer.allocUnsafe(MBAP_HEADER + body.length);
  adu.copy(out, 0, 0, 4); // transaction id and protocol id echo the request
  out.writeUInt16BE(body.length + 1, 4);
  out[6] = unitId;
  body.copy(out, MBAP_HEADER);
  return out;
}

/** FC 3/4 with a whole PDU, the hot path of every poll: the answer is built in place, one buffer per request. */
function readRegisters(adu: Buffer, unitId: number, bank: RegisterBank, opts: ModbusTcpServerOptions): Buffer {
  const pdu = adu.subarray(MBAP_HEADER);
  const fc = pdu[0]!;
  const addr = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  // §6.3: the quantity is checked first (03), then the address range (02).
  const code = count < 1 || count > MAX_READ_REGS ? EX_ILLEGAL_VALUE : bank.readable(fc === 3 ? "holding" : "input", addr, count) ? 0 : EX_ILLEGAL_ADDRESS;
  const out = Buffer.allocUnsafe(MBAP_HEADER + (code === 0 ? 2 + 2 * count : 2));
  adu.copy(out, 0, 0, 4); // transaction id and protocol id echo the request
  out.writeUInt16BE(out.length - 6, 4);
  out[6] = unitId;
  if (code !== 0) {
    out[7] = fc | 0x80;
    out[8] = code;
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
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

/** PDU bytes each function's request has (the write-multiple ones: before their data). */
const PDU_BYTES: Readonly<Record<number, number>> = { 1: 5, 2: 5, 3: 5, 4: 5, 5: 5, 6: 5, 15: 6, 16: 6 };

/**
 * Every function but the FC 3/4 hot path. The order of checks follows the Application Protocol's
 * state diagrams (§6.1-6.12): function supported (01), PDU length and quantity (03), address range
 * (02). A write to a register the device does not declare writable is 02; a device with no
 * writable register in that table does not implement the write function at all: 01.
 */
function execute(unitId: number, fc: number, pdu: Buffer, bank: RegisterBank, opts: ModbusTcpServerOptions): Buffer {
  const need = PDU_BYTES[fc];
  if (need === undefined) return exception(fc, EX_ILLEGAL_FUNCTION);
  const writeTable = fc === 5 || fc === 15 ? "coil" : fc === 6 || fc === 16 ? "holding" : undefined;
  if (writeTable !== undefined && !bank.writesSupported(writeTable)) return exception(fc, EX_ILLEGAL_FUNCTION);
  // A truncated (or padded) PDU inside an honest MBAP length: answered, the connection kept.
  if (pdu.length < need || (need === 5 && pdu.length !== 5)) return exception(fc, EX_ILLEGAL_VALUE);
  const addr = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      const table = fc === 1 ? "coil" : fc === 2 ? "discrete" : fc === 3 ? "holding" : "input";
      const max = fc <= 2 ? MAX_READ_BITS : MAX_READ_REGS;
      if (count < 1 || count > max) return exception(fc, EX_ILLEGAL_VALUE);
      if (!bank.readable(table, addr, count)) return exception(fc, EX_ILLEGAL_ADDRESS);
      if (fc >= 3) return registerAnswer(fc, fc === 3 ? bank.holding : bank.input, addr, count);
      const bits = fc === 1 ? bank.coils : bank.discrete;
      const bytes = Math.ceil(count / 8);
      const out = Buffer.alloc(2 + bytes);
      out[0] = fc;
      out[1] = bytes;
      for (let i = 0; i < count; i++) if (bits[addr + i]) out[2 + (i >> 3)]! |= 1 << (i & 7);
      return out;
    }
    case 5: {
      // §6.5: the value is 0xFF00 (on) or 0x0000 (off), anything else 03; then the address.
      if (count !== 0xff00 && count !== 0) return exception(fc, EX_ILLEGAL_VALUE);
      if (!bank.writable("coil", addr, 1)) return exception(fc, EX_ILLEGAL_ADDRESS);
      bank.coils[addr] = count === 0xff00 ? 1 : 0;
      opts.onWrite?.(unitId, bank, "coil", addr, 1);
      return Buffer.from(pdu); // echo
    }
    case 6: {
      if (!bank.writable("holding", addr, 1)) return exception(fc, EX_ILLEGAL_ADDRESS);
      bank.holding[addr] = count; // the second field of FC 6 is the value
      opts.onWrite?.(unitId, bank, "holding", addr, 1);
      return Buffer.from(pdu); // echo
    }
    case 15:
    case 16: {
      const byteCount = pdu[5]!;
      const max = fc === 15 ? MAX_WRITE_BITS : MAX_WRITE_REGS;
      const want = fc === 15 ? Math.ceil(count / 8) : 2 * count;
      if (count < 1 || count > max || byteCount !== want || pdu.length !== 6 + byteCount) return exception(fc, EX_ILLEGAL_VALUE);
      const table = fc === 15 ? "coil" : "holding";
      if (!bank.writable(table, addr, count)) return exception(fc, EX_ILLEGAL_ADDRESS);
      if (fc === 15) for (let i = 0; i < count; i++) bank.coils[addr + i] = (pdu[6 + (i >> 3)]! >> (i & 7)) & 1;
      else for (let i = 0; i < count; i++) bank.holding[addr + i] = pdu.readUInt16BE(6 + 2 * i);
      opts.onWrite?.(unitId, bank, table, addr, count);
      return Buffer.from(pdu.subarray(0, 5));
    }
    default:
      return exception(fc, EX_ILLEGAL_FUNCTION);
  }
}

function registerAnswer(fc: number, regs: Uint16Array, addr: number, count: number): Buffer {
  const out = Buffer.allocUnsafe(2 + 2 * count);
  out[0] = fc;
  out[1] = 2 * count;
  for (let i = 0; i < count; i++) out.writeUInt16BE(regs[addr + i]!, 2 + 2 * i);
  return out;
}
