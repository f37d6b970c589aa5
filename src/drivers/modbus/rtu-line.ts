// One Modbus RTU line as a bus master sees it: one byte stream (a serial port, or the socket of an
// RTU-over-TCP gateway) shared by every unit on it, one request on the wire at a time, a silent
// interval (t3.5 or the configured gap) after each frame before the next request, and each request
// bounded by its own unit's timeout, so a dead unit costs its neighbours one timeout per request,
// never more. Units attach (the stream opens with the first) and detach (it closes with the last).
// Written by hand on ./rtu-frame.ts rather than with modbus-serial's RTU client, which accepts an
// exception code 0, parses registers from the byte count without comparing it to the quantity, and
// reports every failure as an untyped Error string.
import { ModbusExceptionError, ModbusFrameError } from "../../errors.js";
import type { ModbusTable } from "../../config/profile-schema.js";
import type { LinkCounters, ModbusLink } from "./connection.js";
import { describeException, type ReadFunction } from "./pdu.js";
import { checkRtuResponse, encodeRtuRequest, frameMs, lateRtuFrameBytes, rtuResponseBytes, RTU_REQUEST_BYTES, type CharFormat, type RtuReadRequest } from "./rtu-frame.js";
import type { ByteStream } from "./rtu-stream.js";
import { ConnectionLost, RequestTimeout } from "./tcp-client.js";

export interface RtuLineOptions {
  /** Names the line in errors and logs: the serial line's id, or `gateway host:port`. */
  readonly name: string;
  /** The silent interval kept after every frame before the next request (ms). */
  readonly interFrameMs: number;
  /** The line's character format, when the wire's baud rate is known: each request's timeout gets the wire time of both frames added. */
  readonly format?: CharFormat;
  /** Open the stream (bounded by `timeoutMs`, real milliseconds). */
  readonly open: (timeoutMs: number) => Promise<ByteStream>;
}

export interface RtuLineCounters {
  /** Requests sent on the line (every unit). */
  requests: number;
  /** Frames nobody waited for that were not a late answer: noise, or an answer to another master. */
  strayFrames: number;
  /** Times the stream was opened. */
  opens: number;
}

interface Job {
  readonly unit: RtuUnit;
  readonly req: RtuReadRequest;
  readonly resolve: (values: number[]) => void;
  readonly reject: (e: Error) => void;
}

const FUNCTION_OF: Readonly<Record<ModbusTable, ReadFunction>> = { coil: 1, discrete: 2, holding: 3, input: 4 };
const REGISTER_LIMIT = 125; // Application Protocol §6.3/6.4
const BIT_LIMIT = 2000; // Application Protocol §6.1/6.2
/** Units whose request timed out, remembered so that their late answers can be told from noise. */
const ABANDONED_KEPT = 8;
const EMPTY = Buffer.alloc(0);

export class RtuLine {
  readonly #opts: RtuLineOptions;
  readonly #units = new Set<RtuUnit>();
  readonly #queue: Job[] = [];
  readonly #abandoned: { unitId: number; fc: ReadFunction }[] = [];
  readonly counters: RtuLineCounters = { requests: 0, strayFrames: 0, opens: 0 };
  #stream: ByteStream | undefined;
  #opening: Promise<ByteStream> | undefined;
  #current: (Job & { timer: NodeJS.Timeout }) | undefined;
  #rx: Buffer = EMPTY;
  /** When the line is quiet enough to send (performance.now() ms): the last frame's end plus the gap. */
  #quietAt = 0;
  #gapTimer: NodeJS.Timeout | undefined;

  constructor(opts: RtuLineOptions) {
    this.#opts = opts;
  }

  get name(): string {
    return this.#opts.name;
  }

  get open(): boolean {
    return this.#stream !== undefined;
  }

  /** Units attached now. */
  get units(): number {
    return this.#units.size;
  }

  /** Attach one unit (opening the stream if it is the first); its reads are bounded by `timeoutMs` (real ms). */
  async attach(opts: { device: string; unitId: number; timeoutMs: number }): Promise<ModbusLink> {
    const stream = await this.#ensureOpen(opts.timeoutMs);
    const unit = new RtuUnit(this, opts.device, opts.unitId, opts.timeoutMs);
    if (this.#stream !== stream) throw new ConnectionLost(`line ${this.name} closed while opening`);
    this.#units.add(unit);
    return unit;
  }

  /** @internal A unit is done: fail what it still has queued or on the wire; close the stream after the last one. */
  async detach(unit: RtuUnit, why: Error): Promise<void> {
    if (!this.#units.delete(unit)) return;
    for (let i = this.#queue.length - 1; i >= 0; i--) if (this.#queue[i]!.unit === unit) this.#queue.splice(i, 1)[0]!.reject(why);
    const cur = this.#current;
    if (cur?.unit === unit) {
      cur.reject(why);
      // Its request is still on the bus: the line waits for its answer or timeout before the next
      // one, unless no unit is left, when the stream closes now.
      this.#current = { ...cur, resolve: () => undefined, reject: () => undefined };
    }
    if (this.#units.size > 0) return;
    if (this.#current !== undefined) clearTimeout(this.#current.timer);
    this.#current = undefined;
    await this.#closeStream();
  }

  /** @internal */
  enqueue(unit: RtuUnit, table: ModbusTable, start: number, count: number): Promise<number[]> {
    const fc = FUNCTION_OF[table];
    const limit = fc === 3 || fc === 4 ? REGISTER_LIMIT : BIT_LIMIT;
    if (!(Number.isInteger(count) && count >= 1 && count <= limit && Number.isInteger(start) && start >= 0 && start + count <= 65536)) {
      return Promise.reject(new RangeError(`FC ${fc} read of ${count} from ${start}: outside the protocol's limits (1..${limit}, addresses 0..65535)`));
    }
    if (!this.#units.has(unit) || this.#stream === undefined) return Promise.reject(new ConnectionLost("not connected"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ unit, req: { unitId: unit.unitId, fc, start, count }, resolve, reject });
      this.#pump();
    });
  }

  /** Close the stream and fail everything waiting (stop(), or every unit gone). */
  async close(): Promise<void> {
    this.#failAll(new ConnectionLost(`line ${this.name} closed by firebreak`), undefined);
    await this.#closeStream();
  }

  #ensureOpen(timeoutMs: number): Promise<ByteStream> {
    if (this.#stream !== undefined) return Promise.resolve(this.#stream);
    this.#opening ??= this.#opts
      .open(timeoutMs)
      .then((stream) => {
        this.counters.opens++;
        this.#stream = stream;
        this.#rx = EMPTY;
        this.#quietAt = performance.now() + this.#opts.interFrameMs;
        stream.onData((chunk) => this.#onData(stream, chunk));
        stream.onEnd((detail) => this.#lost(stream, detail));
        return stream;
      })
      .finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  async #closeStream(): Promise<void> {
    const s = this.#stream;
    this.#stream = undefined;
    clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    await s?.close();
  }

  /** The stream ended by itself: every unit's link is lost. */
  #lost(stream: ByteStream, detail: string): void {
    if (this.#stream !== stream) return;
    this.#stream = undefined;
    clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    this.#failAll(new ConnectionLost(detail), detail);
  }

  #failAll(e: Error, lostDetail: string | undefined): void {
    const cur = this.#current;
    this.#current = undefined;
    if (cur !== undefined) {
      clearTimeout(cur.timer);
      cur.reject(e);
    }
    for (const j of this.#queue.splice(0)) j.reject(e);
    const units = [...this.#units];
    this.#units.clear();
    if (lostDetail !== undefined) for (const u of units) u.lost(lostDetail);
    this.#rx = EMPTY;
  }

  /** Send the next request once nothing is on the wire and the line has been quiet for the gap. */
  #pump(): void {
    if (this.#current !== undefined || this.#gapTimer !== undefined || this.#queue.length === 0 || this.#stream === undefined) return;
    const wait = this.#quietAt - performance.now();
    if (wait > 0) {
      this.#gapTimer = setTimeout(() => {
        this.#gapTimer = undefined;
        this.#pump();
      }, Math.ceil(wait));
      return;
    }
    const job = this.#queue.shift()!;
    const wireMs = this.#opts.format === undefined ? 0 : frameMs(RTU_REQUEST_BYTES + rtuResponseBytes(job.req.fc, job.req.count), this.#opts.format);
    const timeoutMs = job.unit.timeoutMs + Math.ceil(wireMs);
    const timer = setTimeout(() => this.#timedOut(job), timeoutMs);
    this.#current = { ...job, timer };
    this.#rx = EMPTY; // whatever came before this request is not its answer
    this.counters.requests++;
    job.unit.counters.requests++;
    this.#stream.write(encodeRtuRequest(job.req));
  }

  #timedOut(job: Job): void {
    if (this.#current?.unit !== job.unit || this.#current.req !== job.req) return;
    this.#current = undefined;
    this.#abandoned.push({ unitId: job.req.unitId, fc: job.req.fc });
    if (this.#abandoned.length > ABANDONED_KEPT) this.#abandoned.shift();
    job.unit.counters.timeouts++;
    job.reject(new RequestTimeout(`no answer within ${job.unit.timeoutMs} ms`));
    this.#settled();
  }

  /** A request is done: keep the gap, then the next one; close a stream no unit uses any more. */
  #settled(): void {
    this.#quietAt = performance.now() + this.#opts.interFrameMs;
    if (this.#units.size === 0) {
      void this.#closeStream();
      return;
    }
    this.#pump();
  }

  #onData(stream: ByteStream, chunk: Buffer): void {
    if (this.#stream !== stream) return;
    // Every byte moves the quiet point: the next request waits for the gap after the last byte heard.
    this.#quietAt = performance.now() + this.#opts.interFrameMs;
    this.#rx = this.#rx.length === 0 ? chunk : Buffer.concat([this.#rx, chunk]);
    const cur = this.#current;
    if (cur === undefined) return this.#unexpected();
    const v = checkRtuResponse(this.#rx, cur.req);
    if (v.kind === "incomplete") return;
    if (v.kind === "malformed" && v.field === "unit id") {
      if (this.#dropLateAnswer()) return this.#onData(stream, EMPTY);
      if (this.#partialLateAnswer()) return; // the rest of a late answer is still coming
    }
    clearTimeout(cur.timer);
    this.#current = undefined;
    this.#rx = EMPTY;
    const unit = cur.unit;
    switch (v.kind) {
      case "data":
        cur.resolve(v.values);
        break;
      case "exception":
        unit.counters.exceptions++;
        cur.reject(new ModbusExceptionError(unit.device, v.code, describeException(v.code)));
        break;
      case "malformed":
        unit.counters.malformed++;
        cur.reject(new ModbusFrameError(unit.device, v.field, v.detail));
        break;
    }
    this.#settled();
  }

  /** The bytes at the head of rx are a complete late answer of a unit that timed out: drop them, count it. */
  #dropLateAnswer(): boolean {
    for (let i = 0; i < this.#abandoned.length; i++) {
      const a = this.#abandoned[i]!;
      const n = lateRtuFrameBytes(this.#rx, a.unitId, a.fc);
      if (typeof n !== "number") continue;
      this.#abandoned.splice(i, 1);
      for (const u of this.#units) if (u.unitId === a.unitId) u.counters.lateAnswers++;
      this.#rx = n === this.#rx.length ? EMPTY : Buffer.from(this.#rx.subarray(n));
      return true;
    }
    return false;
  }

  /** The bytes at the head of rx could still become a late answer. */
  #partialLateAnswer(): boolean {
    return this.#abandoned.some((a) => lateRtuFrameBytes(this.#rx, a.unitId, a.fc) === "incomplete");
  }

  /** Bytes while no request waits: a late answer, or a stray frame that is dropped and counted. */
  #unexpected(): void {
    while (this.#rx.length > 0) {
      if (this.#dropLateAnswer()) continue;
      if (this.#partialLateAnswer()) return; // part of a late answer: wait for the rest
      this.counters.strayFrames++;
      this.#rx = EMPTY;
    }
  }
}

/** One unit's view of the line: what the Modbus poller reads through (a ModbusLink, like a TCP connection). */
class RtuUnit implements ModbusLink {
  readonly counters: LinkCounters = { requests: 0, exceptions: 0, malformed: 0, timeouts: 0, lateAnswers: 0 };
  readonly #line: RtuLine;
  #closed = false;
  #onLost: ((detail: string) => void) | undefined;

  constructor(
    line: RtuLine,
    readonly device: string,
    readonly unitId: number,
    readonly timeoutMs: number,
  ) {
    this.#line = line;
  }

  get open(): boolean {
    return !this.#closed;
  }

  onLost(fn: (detail: string) => void): void {
    this.#onLost = fn;
  }

  /** @internal The line's stream ended. */
  lost(detail: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onLost?.(detail);
  }

  read(table: ModbusTable, start: number, count: number): Promise<number[]> {
    if (this.#closed) return Promise.reject(new ConnectionLost("not connected"));
    return this.#line.enqueue(this, table, start, count);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return this.#line.detach(this, new ConnectionLost(`unit ${this.unitId} detached from line ${this.#line.name}`));
  }
}
