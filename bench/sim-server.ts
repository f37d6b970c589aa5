// The bench's Modbus TCP fast path: MBAP framing on node:net, read functions only (FC3/FC4), one
// register bank per unit id, and a hook that reports the first answer carrying a watched register
// (when the daemon's poll picked up an injected change).
import net from "node:net";

export interface Unit {
  readonly holding: Uint16Array;
  readonly input: Uint16Array;
  /** Watched holding/input addresses: called once, then forgotten, when an answer carries one. */
  readonly watch: Map<number, (answeredAt: number) => void>;
  /** Injected addresses that the wander must leave alone until reset. */
  readonly held: Set<number>;
}

export function newUnit(): Unit {
  return { holding: new Uint16Array(65536), input: new Uint16Array(65536), watch: new Map(), held: new Set() };
}

export interface SimServer {
  readonly port: number;
  readonly requests: () => number;
  close(): Promise<void>;
}

const MBAP = 7;
const MAX_READ_REGS = 125; // Modbus Application Protocol v1.1b3 §6.3

export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function startSimServer(units: ReadonlyMap<number, Unit>, port = 0): Promise<SimServer> {
  const sockets = new Set<net.Socket>();
  let served = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      while (pending.length - at >= MBAP) {
        const length = pending.readUInt16BE(at + 4);
        if (pending.readUInt16BE(at + 2) !== 0 || length < 2 || length > 254) return void socket.destroy();
        const end = at + 6 + length;
        if (pending.length < end) break;
        socket.write(answer(pending.subarray(at, end), units));
        served++;
        at = end;
      }
      pending = at === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(at));
    });
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const addr = server.address();
      resolvePromise({
        port: typeof addr === "object" && addr !== null ? addr.port : port,
        requests: () => served,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

function answer(adu: Buffer, units: ReadonlyMap<number, Unit>): Buffer {
  const unitId = adu[6]!;
  const fc = adu[7]!;
  const unit = units.get(unitId);
  let out: Buffer;
  if (unit === undefined || (fc !== 3 && fc !== 4) || adu.length !== MBAP + 5) {
    out = Buffer.allocUnsafe(MBAP + 2);
    out[7] = fc | 0x80;
    out[8] = unit === undefined ? 0x0b : fc !== 3 && fc !== 4 ? 0x01 : 0x03;
  } else {
    const addr = adu.readUInt16BE(8);
    const count = adu.readUInt16BE(10);
    if (count < 1 || count > MAX_READ_REGS || addr + count > 65536) {
      out = Buffer.allocUnsafe(MBAP + 2);
      out[7] = fc | 0x80;
      out[8] = 0x02;
    } else {
      const regs = fc === 3 ? unit.holding : unit.input;
      out = Buffer.allocUnsafe(MBAP + 2 + 2 * count);
      out[7] = fc;
      out[8] = 2 * count;
      for (let i = 0; i < count; i++) out.writeUInt16BE(regs[addr + i]!, MBAP + 2 + 2 * i);
      if (unit.watch.size > 0) {
        for (const [a, fn] of unit.watch) {
          if (a >= addr && a < addr + count) {
            unit.watch.delete(a);
            fn(now());
          }
        }
      }
    }
  }
  adu.copy(out, 0, 0, 4);
  out.writeUInt16BE(out.length - 6, 4);
  out[6] = unitId;
  return out;
}
