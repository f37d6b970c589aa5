// firebreak's Modbus TCP client: one socket to one device, read requests (FC 1-4) and the writes of
// protective actions (FC 5/6/16) matched to their answers by MBAP transaction id, every answer checked
// field by field by ./tcp-frame.ts and ./write-frame.ts.
//
// Written by hand rather than with modbus-serial (RTU is framed by hand too, ./rtu-line.ts): its TCP port
// (modbus-serial 8.0.25, ports/tcpport.js and index.js _onReceive) never reads the protocol id;
// uses the length field only to cut the stream, never compares it with the PDU (it rebuilds an RTU
// frame and checks a CRC it has just computed itself); never compares the byte count with the
// quantity requested (registers are parsed from the byte count alone); silently drops an answer
// whose transaction id matches nothing, so the request waits out its timeout; and numbers its
// transactions modulo 256. Fault injection showed the result: frames with a wrong byte count read
// as good values. Here anything that does not fit is a ModbusFrameError naming the field, and the
// connection is reset, because after one bad frame the byte stream cannot be trusted to be in step.
import net from "node:net";
import { ModbusExceptionError, ModbusFrameError } from "../../errors.js";
import { checkResponse, describeException, encodeReadRequest, lateFrameBytes, type ReadFunction, type ReadRequest } from "./tcp-frame.js";
import { checkWriteResponse, encodeWriteRequest, invalidWrite, type WriteCommand, type WriteRequest } from "./write-frame.js";

export interface TcpClientOptions {
  readonly host: string;
  readonly port: number;
  readonly unitId: number;
  /** Bounds the connect, and each request from when it is sent (real milliseconds). */
  readonly timeoutMs: number;
  /**
   * Requests on the wire at once. 1 by default: many devices and gateways answer one at a time, and
   * the poller sends one after the other anyway. Transaction ids make more possible for a device
   * known to pipeline.
   */
  readonly maxInFlight?: number;
  /** Names the device in errors. */
  readonly device: string;
}

/** No answer within the timeout (of the connect or of one request). */
export class RequestTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequestTimeout";
  }
}

/** The socket closed or failed while a request waited, or a read was asked of a closed client. */
export class ConnectionLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionLost";
  }
}

export interface TcpClientCounters {
  requests: number;
  exceptions: number;
  malformed: number;
  timeouts: number;
  /** Answers that came after their request had timed out: dropped, not taken for a later request. */
  lateAnswers: number;
}

interface Pending {
  /** A read (FC 1-4) or a write (FC 5/6/16): both wait in the same queue, one in flight by default. */
  readonly req: ReadRequest | WriteRequest;
  readonly resolve: (values: number[]) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

/** Transaction ids of timed-out requests remembered so that their late answers can be told from garbage. */
const ABANDONED_KEPT = 16;
const REGISTER_LIMIT = 125; // Application Protocol §6.3/6.4
const BIT_LIMIT = 2000; // Application Protocol §6.1/6.2
const EMPTY = Buffer.alloc(0);

export class ModbusTcpClient {
  readonly #socket: net.Socket;
  readonly #opts: TcpClientOptions;
  readonly #maxInFlight: number;
  readonly #inFlight = new Map<number, Pending>();
  readonly #queue: Pending[] = [];
  readonly #abandoned: number[] = [];
  #nextTid = 1;
  #rx: Buffer = EMPTY;
  #closed = false;
  #corked = false;
  #onLost: ((detail: string) => void) | undefined;
  readonly counters: TcpClientCounters = { requests: 0, exceptions: 0, malformed: 0, timeouts: 0, lateAnswers: 0 };

  private constructor(socket: net.Socket, opts: TcpClientOptions) {
    this.#socket = socket;
    this.#opts = opts;
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 1);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("close", () => this.#drop("connection closed by the device"));
    socket.on("error", (e: NodeJS.ErrnoException) => this.#drop(`${e.code !== undefined ? `${e.code}: ` : ""}${e.message}`));
  }

  /** Open the socket; rejects with the socket's error (ECONNREFUSED …) or a RequestTimeout. */
  static connect(opts: TcpClientOptions): Promise<ModbusTcpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ host: opts.host, port: opts.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RequestTimeout(`connect timed out after ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      const failed = (e: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      socket.once("error", failed);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", failed);
        socket.setNoDelay(true);
        resolve(new ModbusTcpClient(socket, opts));
      });
    });
  }

  get open(): boolean {
    return !this.#closed;
  }

  /** Called once when the connection ends by itself, or on garbage no request was waiting for (not on close()). */
  onLost(fn: (detail: string) => void): void {
    this.#onLost = fn;
  }

  /** Read `count` registers (FC 3/4, 0..65535 each) or bits (FC 1/2, 0/1 each) from `start`. */
  read(fc: ReadFunction, start: number, count: number): Promise<number[]> {
    const limit = fc === 3 || fc === 4 ? REGISTER_LIMIT : BIT_LIMIT;
    if (!(Number.isInteger(count) && count >= 1 && count <= limit && Number.isInteger(start) && start >= 0 && start + count <= 65536)) {
      return Promise.reject(new RangeError(`FC ${fc} read of ${count} from ${start}: outside the protocol's limits (1..${limit}, addresses 0..65535)`));
    }
    if (this.#closed) return Promise.reject(new ConnectionLost("not connected"));
    return new Promise((resolve, reject) => {
      const req: ReadRequest = { transactionId: this.#takeTid(), unitId: this.#opts.unitId, fc, start, count };
      const p: Pending = { req, resolve, reject };
      if (this.#inFlight.size < this.#maxInFlight) this.#send(p);
      else this.#queue.push(p);
    });
  }

  /**
   * Write (FC 5/6/16, ./write-frame.ts). It waits in the same queue as the reads, so with the default
   * of one request in flight it never overlaps a poll; resolves once the device echoed it correctly.
   */
  write(cmd: WriteCommand): Promise<void> {
    const invalid = invalidWrite(cmd);
    if (invalid !== undefined) return Promise.reject(new RangeError(`FC ${cmd.fc} write: ${invalid}`));
    if (this.#closed) return Promise.reject(new ConnectionLost("not connected"));
    return new Promise((resolve, reject) => {
      const req: WriteRequest = { transactionId: this.#takeTid(), unitId: this.#opts.unitId, fc: cmd.fc, address: cmd.address, values: [...cmd.values] };
      const p: Pending = { req, resolve: () => resolve(), reject };
      if (this.#inFlight.size < this.#maxInFlight) this.#send(p);
      else this.#queue.push(p);
    });
  }

  /** Close the socket and fail every request waiting. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#failAll(new ConnectionLost("connection closed by firebreak"));
    return new Promise((resolve) => {
      this.#socket.once("close", () => resolve());
      this.#socket.destroy();
    });
  }

  /** The next transaction id not in use (16 bits, wrapping). */
  #takeTid(): number {
    let tid = this.#nextTid;
    while (this.#inFlight.has(tid) || this.#queue.some((q) => q.req.transactionId === tid)) tid = (tid + 1) & 0xffff;
    this.#nextTid = (tid + 1) & 0xffff;
    return tid;
  }

  #send(p: Pending): void {
    const tid = p.req.transactionId;
    this.#inFlight.set(tid, p);
    this.counters.requests++;
    p.timer = setTimeout(() => {
      if (this.#inFlight.get(tid) !== p) return;
      this.#inFlight.delete(tid);
      this.#abandoned.push(tid);
      if (this.#abandoned.length > ABANDONED_KEPT) this.#abandoned.shift();
      this.counters.timeouts++;
      p.reject(new RequestTimeout(`no answer within ${this.#opts.timeoutMs} ms`));
      this.#pump();
    }, this.#opts.timeoutMs);
    // Pipelining: requests sent in one turn of the event loop (a poll's first window, or the next
    // ones after a chunk of answers) leave in one write, not one system call each (on loopback in a
    // VM, the write per request was a quarter of a saturated daemon's CPU, measured with the bench).
    if (this.#maxInFlight > 1 && !this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write("values" in p.req ? encodeWriteRequest(p.req) : encodeReadRequest(p.req));
  }

  #pump(): void {
    while (!this.#closed && this.#queue.length > 0 && this.#inFlight.size < this.#maxInFlight) this.#send(this.#queue.shift()!);
  }

  #settle(p: Pending): void {
    clearTimeout(p.timer);
    this.#inFlight.delete(p.req.transactionId);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    const rx = this.#rx.length === 0 ? chunk : Buffer.concat([this.#rx, chunk]);
    let at = 0;
    while (at < rx.length) {
      const buf = at === 0 ? rx : rx.subarray(at);
      if (buf.length < 2) break;
      const tid = buf.readUInt16BE(0);
      const p = this.#inFlight.get(tid);
      if (p === undefined) {
        const late = this.#abandoned.indexOf(tid);
        if (late < 0) return this.#garbage("transaction id", this.#unknownTid(tid, buf.length));
        const n = lateFrameBytes(buf);
        if (n === "incomplete") break;
        if (typeof n !== "number") return this.#garbage(n.field, n.detail);
        this.#abandoned.splice(late, 1);
        this.counters.lateAnswers++;
        at += n;
        continue;
      }
      const v = "values" in p.req ? checkWriteResponse(buf, p.req) : checkResponse(buf, p.req);
      if (v.kind === "incomplete") break;
      if (v.kind === "malformed") return this.#garbage(v.field, v.detail);
      this.#settle(p);
      at += v.frameBytes;
      if (v.kind === "data") p.resolve(v.values);
      else if (v.kind === "written") p.resolve([]);
      else {
        this.counters.exceptions++;
        p.reject(new ModbusExceptionError(this.#opts.device, v.code, describeException(v.code)));
      }
    }
    this.#rx = at === 0 ? rx : at >= rx.length ? EMPTY : Buffer.from(rx.subarray(at));
    this.#pump();
  }

  #unknownTid(tid: number, bytes: number): string {
    const waiting = [...this.#inFlight.keys()];
    if (waiting.length === 0) return `${bytes} byte(s) with transaction id ${tid} while no request is in flight`;
    return `transaction id ${tid}, expected ${waiting.join(" or ")}`;
  }

  /** A frame that does not fit: fail what waits with the reason, reset the connection. */
  #garbage(field: string, detail: string): void {
    this.counters.malformed++;
    const err = new ModbusFrameError(this.#opts.device, field, detail);
    const waited = this.#inFlight.size + this.#queue.length > 0;
    this.#closed = true;
    this.#failAll(err);
    this.#socket.destroy();
    if (!waited) this.#onLost?.(`malformed response: ${detail}`);
  }

  #drop(detail: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new ConnectionLost(detail));
    this.#socket.destroy();
    this.#onLost?.(detail);
  }

  #failAll(e: Error): void {
    for (const p of this.#inFlight.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.#inFlight.clear();
    for (const p of this.#queue.splice(0)) p.reject(e);
    this.#rx = EMPTY;
  }
}
