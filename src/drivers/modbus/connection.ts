// What the Modbus poller reads through (a ModbusLink): one Modbus TCP connection (on firebreak's own
// client, ./tcp-client.ts, see there why), or one unit on an RTU line (./rtu-line.ts). Reads by
// table that fail at once when the link drops, and every failure sorted into the quality reason it
// gives the device's points.
import type { ModbusTable } from "../../config/profile-schema.js";
import type { ModbusTransport } from "../../config/types.js";
import { ModbusExceptionError, ModbusFrameError } from "../../errors.js";
import type { QualityReason } from "../../points/point.js";
import { ConnectionLost, ModbusTcpClient, RequestTimeout, type TcpClientCounters } from "./tcp-client.js";
import type { ReadFunction } from "./tcp-frame.js";
import type { WriteCommand } from "./write-frame.js";

export interface ReadFailure {
  readonly reason: Extract<QualityReason, "timeout" | "comm_fail" | "device_exception">;
  readonly detail: string;
  /** The device sent a frame that does not fit: the connection was reset. */
  readonly malformed?: boolean;
}

/** Sort an error from the client or the socket into a quality reason with a readable detail. */
export function classifyFailure(e: unknown, timeoutMs: number): ReadFailure {
  if (e instanceof ModbusExceptionError) return { reason: "device_exception", detail: e.detail };
  if (e instanceof ModbusFrameError) return { reason: "comm_fail", detail: `malformed response: ${e.detail}`, malformed: true };
  if (e instanceof RequestTimeout) return { reason: "timeout", detail: `no answer within ${timeoutMs} ms` };
  if (e instanceof ConnectionLost) return { reason: "comm_fail", detail: e.message };
  const o = (typeof e === "object" && e !== null ? e : {}) as { code?: unknown; message?: unknown };
  const message = typeof o.message === "string" && o.message !== "" ? o.message : String(e);
  if (o.code === "ETIMEDOUT") return { reason: "timeout", detail: `no answer within ${timeoutMs} ms` };
  const code = typeof o.code === "string" && !message.startsWith(o.code) ? `${o.code}: ` : "";
  return { reason: "comm_fail", detail: `${code}${message}` };
}

/** Requests, exceptions, malformed frames, timeouts and late answers on one link. */
export type LinkCounters = TcpClientCounters;

/** One device's way to its registers, whatever the transport. */
export interface ModbusLink {
  readonly open: boolean;
  readonly counters: Readonly<LinkCounters>;
  /** Reads the link carries at once (Modbus TCP `max_in_flight`); absent: 1, one after the other. */
  readonly maxInFlight?: number;
  /** Called once when the link drops by itself (not when close() is called). */
  onLost(fn: (detail: string) => void): void;
  /** Read `count` registers (0..65535) or bits (0/1) from `start`. */
  read(table: ModbusTable, start: number, count: number): Promise<number[]>;
  /** A protective action's write (FC 5/6/16), queued with the reads; absent: this transport does not write (RTU, for now). */
  write?(cmd: WriteCommand): Promise<void>;
  /** Close the link and fail any read in flight. Idempotent. */
  close(): Promise<void>;
}

const FUNCTION_OF: Readonly<Record<ModbusTable, ReadFunction>> = { coil: 1, discrete: 2, holding: 3, input: 4 };

export interface ConnectionOptions {
  readonly device: string;
  readonly host: string;
  readonly port: number;
  readonly unitId: number;
  /** Bounds the connect and every request (real milliseconds). */
  readonly timeoutMs: number;
  /** Requests on the wire at once (`max_in_flight`); default 1. */
  readonly maxInFlight?: number;
}

/** How a poller reaches its device: a description for logs and an open() bounded by a real-time timeout. */
export interface LinkOpener {
  /** "127.0.0.1:502 unit 1", "line rs485-a (/dev/ttyUSB0) unit 3": what log lines and details name. */
  readonly describe: string;
  open(timeoutMs: number): Promise<ModbusLink>;
}

/** A device's own Modbus TCP connection (one socket per device). */
export function tcpLinkOpener(device: { readonly id: string; readonly modbus: ModbusTransport }): LinkOpener {
  const m = device.modbus;
  if (m.transport === "rtu" || m.transport === "rtu_over_tcp") throw new Error(`device ${device.id} is on an RTU line: its link comes from RtuLines`);
  const { host, port, unitId, maxInFlight = 1 } = m;
  return { describe: `${host}:${port} unit ${unitId}`, open: (timeoutMs) => ModbusConnection.open({ device: device.id, host, port, unitId, timeoutMs, maxInFlight }) };
}

export class ModbusConnection implements ModbusLink {
  readonly #client: ModbusTcpClient;
  readonly maxInFlight: number;

  private constructor(client: ModbusTcpClient, maxInFlight: number) {
    this.#client = client;
    this.maxInFlight = maxInFlight;
  }

  static async open(opts: ConnectionOptions): Promise<ModbusConnection> {
    return new ModbusConnection(await ModbusTcpClient.connect(opts), Math.max(1, opts.maxInFlight ?? 1));
  }

  /** Called once when the socket drops or the device sends garbage between requests (not when close() is called). */
  onLost(fn: (detail: string) => void): void {
    this.#client.onLost(fn);
  }

  get open(): boolean {
    return this.#client.open;
  }

  /** Requests, exceptions, malformed frames, timeouts and late answers on this connection. */
  get counters(): Readonly<TcpClientCounters> {
    return this.#client.counters;
  }

  /** Read `count` registers (0..65535) or bits (0/1) from `start`. */
  read(table: ModbusTable, start: number, count: number): Promise<number[]> {
    return this.#client.read(FUNCTION_OF[table], start, count);
  }

  /** Write through the same queue as the reads (./tcp-client.ts). */
  write(cmd: WriteCommand): Promise<void> {
    return this.#client.write(cmd);
  }

  /** Close the socket and fail any read in flight. Idempotent. */
  close(): Promise<void> {
    return this.#client.close();
  }
}
