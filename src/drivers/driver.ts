// The one contract every device driver keeps (Modbus TCP, Modbus RTU on a serial line or behind a
// gateway, OPC UA): start, stop, and a protocol-neutral status. The runtime holds Driver[] built by
// ./factory.ts and knows nothing of a protocol; each driver writes its points to the store itself.
import type { Logger } from "pino";
import type { PointStore } from "../points/store.js";
import type { Clock } from "../runtime/clock.js";
import type { PollResult } from "./modbus/poller-status.js";

export type { PollResult } from "./modbus/poller-status.js";

export type DriverProtocol = "modbus" | "opcua";
/** How the driver reaches its device: Modbus TCP, Modbus RTU on a serial line, RTU through a TCP gateway, or OPC UA. */
export type DriverTransport = "tcp" | "rtu" | "rtu_over_tcp" | "opcua";

/**
 * `connecting`: never answered yet; `ok`: answering; `failing`: not answering (or only with errors),
 * retrying with backoff; `mismatch`: the device does not match its config; `needs_operator`: refused
 * for a reason a person must fix (certificate, identity); `stopped`.
 */
export type DriverState = "connecting" | "ok" | "failing" | "mismatch" | "needs_operator" | "stopped";

export interface DriverStatus {
  readonly device: string;
  readonly protocol: DriverProtocol;
  readonly transport: DriverTransport;
  /** Connected to the device (TCP session, line attached, OPC UA session), whether or not it answers well. */
  readonly connected: boolean;
  readonly state: DriverState;
  /** Completed polls (Modbus) or batches of notifications (OPC UA): how often the points were refreshed. */
  readonly polls: number;
  /** Clock time of the last poll with data, or of the last notification batch. */
  readonly lastSuccessAt?: number;
  /** Polls or connects that failed, and failures the driver survived. */
  readonly failures: number;
  /** Connects after the first: connection losses, retries, reopened links. */
  readonly reconnects: number;
  /** Polls that took longer than their interval (polling drivers only; OPC UA is pushed and has none). */
  readonly overruns?: number;
  /**
   * Requests that got no answer within the device's timeout (Modbus TCP and RTU: request/response
   * drivers only). Absent for OPC UA, whose silence is its keep-alive limit, counted in `failures`.
   */
  readonly timeouts?: number;
  /** Polls that started more than half an interval after their slot (polling drivers only). */
  readonly latePolls?: number;
  /** Polls per second achieved over the poll-load window, against the configured rate (polling drivers, once judged). */
  readonly achievedPollsPerS?: number;
  readonly configuredPollsPerS?: number;
  /** The achieved rate stays below 90 % of the configured one (the `<device>:poll_rate` trouble alarm). */
  readonly overloaded?: boolean;
  readonly lastError?: string;
}

export interface Driver {
  readonly device: string;
  readonly protocol: DriverProtocol;
  readonly transport: DriverTransport;
  /** Begin connecting in the background; failures go to the points' quality, never thrown. */
  start(): void;
  /** Cancel every timer, close every socket and port this driver holds, and wait for work in flight. */
  stop(): Promise<void>;
  status(): DriverStatus;
  /**
   * Write a raw value to a writable point (protective actions, README "Protective actions"); absent
   * on drivers that never write (OPC UA). Throws ActionWriteError when it was not carried out.
   */
  write?(pointId: string, value: number): Promise<void>;
}

/** What every driver is built with (src/runtime/daemon.ts builds it once). */
export interface DriverContext {
  readonly clock: Clock;
  readonly store: PointStore;
  /** The root logger: drivers bind their component ("modbus", "opcua") and add `device` to their lines. */
  readonly log: Logger;
  /** After each poll or notification batch, so rules re-evaluate. */
  readonly onPoll?: (result: PollResult) => void;
}
