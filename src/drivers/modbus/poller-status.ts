// What a Modbus poller reports: one result per poll, and its status (the OPC UA subscriber reports
// the common part too).
import type { PollerState } from "./device-state.js";
import type { RateVerdict } from "./poll-load.js";

export type { PollerState } from "./device-state.js";

export interface PollResult {
  readonly device: string;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly requests: number;
  readonly failedRequests: number;
  /** The poll took longer than the poll interval; the next one starts at the next free slot. */
  readonly overrun: boolean;
  readonly error?: string;
  /**
   * The achieved poll rate against the configured one, on the first poll judged over a whole
   * window and on every change of its state after that (the `<device>:poll_rate` trouble alarm, src/alarms/poll-rate.ts).
   */
  readonly rate?: RateVerdict;
}

/** What every driver reports (the OPC UA subscriber too). */
export interface PollerStatus {
  readonly connected: boolean;
  readonly lastError?: string;
  readonly polls: number;
  readonly failures: number;
  readonly overruns: number;
  readonly lastPollMs: number;
  readonly requestsPerPoll: number;
}

export interface ModbusPollerStatus extends PollerStatus {
  readonly state: PollerState;
  /** Clock time of the last poll that had at least one request answered with data. */
  readonly lastSuccessAt?: number;
  /** Connects tried, the first one included. */
  readonly connectAttempts: number;
  /** Failures since the last poll that fully succeeded: what the reconnect backoff grows with. */
  readonly failedAttempts: number;
  /** State changes so far; each one is logged once. */
  readonly stateChanges: number;
  /** Polls that started more than half an interval after their slot (the process was busy). */
  readonly latePolls: number;
  /** Polls per second achieved over the last 10 intervals (absent until 10 intervals have passed). */
  readonly achievedPollsPerS?: number;
  /** 1000 / poll_interval_ms. */
  readonly configuredPollsPerS?: number;
  /** `overloaded` while the achieved rate stays below 90 % of the configured one (logged once per change). */
  readonly loadState: "ok" | "overloaded";
  /** Responses that did not fit their request (each reset the connection). */
  readonly malformedResponses: number;
  readonly exceptionResponses: number;
  readonly timeouts: number;
  /** Answers that came after their request had timed out, dropped. */
  readonly lateAnswers: number;
  /** The strings, modules and cells the device holds beyond its configured layout, when it does. */
  readonly layoutMismatch?: string;
}
