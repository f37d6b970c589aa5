// Messages between the bench harness and the processes it forks (simulators, daemon host, wire
// client), over Node's IPC channel. Times are ms since the epoch with sub-ms precision
// (performance.timeOrigin + performance.now(), comparable across processes on one machine).
import type { Gateway } from "./site-gen.js";

export type SimCommand =
  | { type: "start"; gateways: readonly Gateway[] }
  /** Set one register; with `id` it is an injection (held still, reported when a poll carries it), without it a reset. */
  | { type: "set"; id?: number; gateway: number; unit: number; table: "holding" | "input"; address: number; raw: number }
  | { type: "stats" }
  | { type: "stop" };

export type SimReply =
  | { type: "ready"; ports: Record<number, number> }
  | { type: "changed"; id: number; at: number }
  | { type: "polled"; id: number; at: number }
  | { type: "stats"; cpuUserUs: number; cpuSystemUs: number; rss: number; requests: number }
  | { type: "error"; message: string };

export interface DaemonStats {
  readonly at: number;
  readonly cpuUs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly polls: number;
  readonly overruns: number;
  readonly failures: number;
  /** Σ over devices of completed polls × the device's points. */
  readonly pointUpdates: number;
  readonly unread: number;
  readonly connected: number;
  readonly devices: number;
  readonly lastErrors: readonly string[];
}

export interface BurstResult {
  readonly seconds: number;
  readonly events: number;
  readonly messagesAcked: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly queuedAtEnd: number;
  readonly dropped: number;
}

export type DaemonCommand =
  | { type: "stats" }
  | { type: "burst"; seconds: number; window: number }
  /** FB_BENCH_PROFILE: start a CPU profile of the measured window, or stop it and write it to `file`. */
  | { type: "profile-start" }
  | { type: "profile-stop"; file: string }
  | { type: "stop" };

export type DaemonReply =
  | { type: "started" }
  | { type: "stats"; stats: DaemonStats }
  | { type: "burst"; result: BurstResult }
  | { type: "profiled"; file: string }
  | { type: "error"; message: string };

export interface WireResult {
  readonly seconds: number;
  readonly cycles: number;
  readonly requests: number;
  readonly registers: number;
  readonly pointUpdates: number;
  readonly cpuUs: number;
  readonly failures: number;
}
