// Modbus RTU for the simulators: the units of a RegisterBank map answer RTU frames (unit id, PDU,
// CRC) on a serial port (one end of a PTY pair in tests) or on TCP connections (an RTU-over-TCP
// gateway). The PDU is answered by the Modbus TCP server's own handling (./modbus-server.ts
// `answer`), so both transports behave alike; this file only frames. Like a real slave, it stays
// silent on a bad CRC, on a unit it does not have, and on broadcasts.
import net from "node:net";
import { crc16, frameMs, t35Ms, type CharFormat } from "../src/drivers/modbus/rtu-frame.js";
import { openSerialStream, type ByteStream } from "../src/drivers/modbus/rtu-stream.js";
import { answer, type RegisterBank } from "./modbus-server.js";

export interface RtuServerOptions {
  readonly units: ReadonlyMap<number, RegisterBank>;
  /**
   * Answer only after the time the request and the answer take on a wire at this format's baud
   * rate, plus the t3.5 of silence a slave keeps before answering: a PTY carries bytes at memory
   * speed, so without this a test line is faster than any real one.
   */
  readonly wire?: CharFormat;
}

export interface RtuServer {
  /** Frames answered so far. */
  requests(): number;
  /** Requests that came while an earlier answer was still on the (paced) wire: a second master talking, or a master not waiting. */
  overlaps(): number;
  /** A unit that never answers (dead, or unplugged from the bus). */
  setSilent(unitId: number, silent: boolean): void;
  /** A unit that answers `ms` late (0: on time): its answers come after the master gave up on them. */
  setDelay(unitId: number, ms: number): void;
  close(): Promise<void>;
}

const MBAP_HEADER = 7;

/** Bytes of an RTU request frame from its first bytes: fixed for FC 1-6, by byte count for FC 15/16; undefined for others. */
function requestBytes(buf: Buffer): number | "incomplete" | undefined {
  if (buf.length < 2) return "incomplete";
  const fc = buf[1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return buf.length < 7 ? "incomplete" : 9 + buf[6]!;
  return undefined;
}

/** Frames, answers and paces one RTU byte stream. */
class RtuSession {
  #rx: Buffer = Buffer.alloc(0);
  #flush: NodeJS.Timeout | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly write: (b: Buffer) => void,
    readonly opts: RtuServerOptions,
    readonly silent: ReadonlySet<number>,
    readonly delays: ReadonlyMap<number, number>,
    readonly served: () => void,
    readonly overlapped: () => void,
  ) {}

  data(chunk: Buffer): void {
    this.#rx = Buffer.concat([this.#rx, chunk]);
    clearTimeout(this.#flush);
    for (;;) {
      const n = requestBytes(this.#rx);
      if (n === "incomplete") break;
      if (n === undefined || this.#rx.length < n) {
        // An unknown function code, or a short frame: what came is one frame once the line is quiet.
        this.#flush = setTimeout(() => this.#frame(this.#rx.length), 20);
        break;
      }
      this.#frame(n);
    }
  }

  #frame(n: number): void {
    const frame = this.#rx.subarray(0, n);
    this.#rx = Buffer.from(this.#rx.subarray(n));
    if (frame.length < 4 || frame.readUInt16LE(frame.length - 2) !== crc16(frame, frame.length - 2)) return;
    if (this.#timers.size > 0) this.overlapped();
    const unit = frame[0]!;
    if (unit === 0 || !this.opts.units.has(unit) || this.silent.has(unit)) return;
    const pdu = frame.subarray(1, frame.length - 2);
    const adu = Buffer.alloc(MBAP_HEADER + pdu.length);
    adu.writeUInt16BE(1 + pdu.length, 4);
    adu[6] = unit;
    pdu.copy(adu, MBAP_HEADER);
    let reply: Buffer | undefined;
    try {
      reply = answer(adu, { port: 0, units: this.opts.units });
    } catch {
      return; // a request the server cannot parse: a slave stays silent
    }
    if (reply === undefined) return; // the server chose not to answer (e.g. an unknown unit kept silent)
    const body = reply.subarray(6); // unit id and PDU
    const out = Buffer.alloc(body.length + 2);
    body.copy(out, 0);
    out.writeUInt16LE(crc16(out, body.length), body.length);
    this.served();
    const wire = this.opts.wire;
    const late = this.delays.get(unit) ?? 0;
    if (wire === undefined && late === 0) return this.write(out);
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.write(out);
    }, late + (wire === undefined ? 0 : Math.round(frameMs(frame.length + out.length, wire) + t35Ms(wire))));
    this.#timers.add(t);
  }

  close(): void {
    clearTimeout(this.#flush);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

function server(opts: RtuServerOptions, start: (session: (write: (b: Buffer) => void) => RtuSession) => Promise<() => Promise<void>>): Promise<RtuServer> {
  const silent = new Set<number>();
  const delays = new Map<number, number>();
  const sessions = new Set<RtuSession>();
  let served = 0;
  let overlaps = 0;
  const make = (write: (b: Buffer) => void): RtuSession => {
    const s = new RtuSession(write, opts, silent, delays, () => void served++, () => void overlaps++);
    sessions.add(s);
    return s;
  };
  return start(make).then((stop) => ({
    requests: () => served,
    overlaps: () => overlaps,
    setSilent: (unit, on) => void (on ? silent.add(unit) : silent.delete(unit)),
    setDelay: (unit, ms) => void delays.set(unit, ms),
    close: async () => {
      for (const s of sessions) s.close();
      await stop();
    },
  }));
}

/** Serve the units as RTU slaves on the serial port at `path` (e.g. one end of a socat PTY pair). */
export function startRtuSerialServer(path: string, format: CharFormat, opts: RtuServerOptions): Promise<RtuServer> {
  return server(opts, async (make) => {
    const stream: ByteStream = await openSerialStream(path, format, 5000);
    const session = make((b) => stream.write(b));
    stream.onData((c) => session.data(c));
    return () => stream.close();
  });
}

export interface RtuGatewayServer extends RtuServer {
  readonly port: number;
  /** TCP connections open now. */
  connections(): number;
}

/** Serve the units behind an RTU-over-TCP gateway on 127.0.0.1:`port` (0 = ephemeral). */
export async function startRtuGatewayServer(port: number, opts: RtuServerOptions): Promise<RtuGatewayServer> {
  let bound = port;
  const sockets = new Set<net.Socket>();
  const s = await server(opts, (make) => {
    const srv = net.createServer((socket) => {
      sockets.add(socket);
      socket.setNoDelay(true);
      const session = make((b) => socket.write(b));
      socket.on("data", (c: Buffer) => session.data(c));
      socket.on("error", () => socket.destroy());
      socket.on("close", () => (sockets.delete(socket), session.close()));
    });
    return new Promise((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", () => {
        const a = srv.address();
        bound = typeof a === "object" && a !== null ? a.port : port;
        resolve(() => new Promise<void>((done) => {
          for (const k of sockets) k.destroy();
          srv.close(() => done());
        }));
      });
    });
  });
  return { ...s, port: bound, connections: () => sockets.size };
}
