// What the HTTP output reads from the running daemon, at request time: the figures the parts
// already keep (pollers' status(), the point store, the core's snapshot, the MQTT output's
// stats()). The runtime implements it (src/runtime/observability.ts); this side only reads.
import type { MqttStats } from "../mqtt/publisher.js";

export interface DeviceFigures {
  readonly device: string;
  readonly protocol: "modbus" | "opcua";
  readonly connected: boolean;
  readonly polls: number;
  readonly failures: number;
  readonly overruns: number;
  /** Requests that got no answer in time (Modbus TCP and RTU); absent for OPC UA. */
  readonly timeouts?: number;
  /** Connections made after the first (every driver counts them). */
  readonly reconnects?: number;
  /** Polls that started late (Modbus); absent where the driver does not count them. */
  readonly latePolls?: number;
  /** Achieved polls per second over the poll-load window (Modbus, once judged). */
  readonly achievedPollsPerS?: number;
  /** Below 90 % of the configured rate (Modbus): the `<device>:poll_rate` trouble alarm stands. */
  readonly overloaded?: boolean;
}

export interface PointCount {
  readonly device: string;
  readonly quality: "good" | "uncertain" | "bad";
  /** "" for good points. */
  readonly reason: string;
  readonly count: number;
}

export interface OpenTriggerFigures {
  readonly zone: string;
  readonly trigger: string;
  readonly issuedAtMs: number;
  readonly ackByMs: number;
}

export interface Readiness {
  /** Every configured device's driver was started (OPC UA ones load asynchronously). */
  readonly devicesStarted: boolean;
  readonly stateRestored: boolean;
  /** True when no broker is configured. */
  readonly brokerConnected: boolean;
}

export interface DaemonFigures {
  readonly site: string;
  readonly instance: string;
  readonly version: string;
  readiness(): Readiness;
  devices(): readonly DeviceFigures[];
  /** Declared points counted by device, quality and reason, as read now (stale included). */
  points(): readonly PointCount[];
  /** Evaluation passes: after polls (changed rules only) and on the tick (all due rules). */
  evaluations(): { readonly poll: number; readonly tick: number; readonly failed: number };
  alarms(): readonly { readonly state: string; readonly priority: string }[];
  zones(): readonly { readonly zone: string; readonly stage: string; readonly fault: boolean }[];
  openTriggers(): readonly OpenTriggerFigures[];
  /** Undefined when no broker is configured. */
  mqtt(): (MqttStats & { readonly queueLimit: number }) | undefined;
  /** State store writes that failed since start. */
  stateFailures(): number;
}

export function isReady(r: Readiness): boolean {
  return r.devicesStarted && r.stateRestored && r.brokerConnected;
}
