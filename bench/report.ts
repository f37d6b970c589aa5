// Turns bench runs into figures: each scalar as the median of the runs with min and max and its
// unit, latency percentiles over every injection of a size, and the terminal table.
import type { Injection } from "./latency.js";
import type { RunResult } from "./harness.js";

export interface Figure {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly unit: string;
}

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly unit: "ms";
}

export interface SizeReport {
  readonly shape: string;
  readonly target: number;
  readonly points: number;
  readonly devices: number;
  readonly zones: number;
  readonly runs: number;
  readonly figures: Record<string, Figure>;
  readonly latency: {
    /** Cell step to pre_alarm: register change -> zone/<id>/stage arrival. */
    readonly warmStage: Percentiles;
    /** The same minus the wait for the next poll: first answer carrying the change -> arrival. */
    readonly warmOverhead: Percentiles;
    readonly warmPollWait: Percentiles;
    /** Cell step to runaway: register change -> zone/<id>/stage (evacuate) and evacuate/<id> arrival. */
    readonly runawayStage: Percentiles;
    readonly runawayTrigger: Percentiles;
    readonly runawayTriggerOverhead: Percentiles;
  };
  readonly problems: readonly string[];
}

const UNITS: Record<string, string> = {
  "wire.pointsPerS": "points/s",
  "wire.registersPerS": "registers/s",
  "wire.requestsPerS": "requests/s",
  "wire.clientCpuPct": "% of one core",
  "wire.cpuMsPer10k": "ms CPU per 10k points",
  "wire.simCpuPct": "% of one core",
  "wire.failures": "requests",
  "saturated.ratioToWire": "ratio",
  "saturated.cpuMsPer10kOverClient": "ms CPU per 10k point updates over the bare client's",
  "mqtt.eventsPerS": "events/s",
  "mqtt.messagesPerS": "messages/s",
  "mqtt.rssBefore": "bytes",
  "mqtt.rssAfter": "bytes",
  "mqtt.queuedAtEnd": "messages",
  "mqtt.dropped": "messages",
};
const LOAD_UNITS: Record<string, string> = {
  seconds: "s",
  pointsPerS: "points/s",
  daemonCpuPct: "% of one core",
  cpuMsPer10k: "ms CPU per 10k point updates",
  overrunFraction: "fraction of polls",
  pollsPerDeviceS: "polls per device per s",
  pollsCompleted: "fraction of the configured polls",
  failedPolls: "polls",
  rssMB: "MiB",
  heapMB: "MiB",
  simCpuPct: "% of one core",
  brokerCpuPct: "% of one core",
  harnessCpuPct: "% of one core",
};

function unitOf(key: string): string | undefined {
  if (UNITS[key] !== undefined) return UNITS[key];
  const [phase, name] = key.split(".");
  return (phase === "saturated" || phase === "steady") && name !== undefined ? LOAD_UNITS[name] : undefined;
}

export function figure(values: readonly number[], unit: string): Figure {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, min: s[0]!, max: s[s.length - 1]!, unit };
}

export function percentiles(values: readonly number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  // Nearest rank.
  const at = (q: number): number => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!);
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: s.length === 0 ? NaN : s[s.length - 1]!, unit: "ms" };
}

function diffs(inj: readonly Injection[], kind: Injection["kind"], to: (i: Injection) => number | undefined, from: (i: Injection) => number | undefined): number[] {
  return inj.flatMap((i) => {
    const a = from(i);
    const b = to(i);
    return i.kind === kind && a !== undefined && b !== undefined ? [b - a] : [];
  });
}

export function summarize(runs: readonly RunResult[]): SizeReport {
  const first = runs[0]!;
  const scalars = new Map<string, number[]>();
  for (const r of runs) {
    const flat: [string, object][] = [["wire", r.wire], ["saturated", r.saturated], ["steady", r.steady], ["mqtt", r.mqtt]];
    for (const [phase, obj] of flat) {
      for (const [k, v] of Object.entries(obj)) {
        if (typeof v !== "number") continue;
        const key = `${phase}.${k}`;
        scalars.set(key, [...(scalars.get(key) ?? []), v]);
      }
    }
  }
  const figures: Record<string, Figure> = {};
  for (const [k, vs] of scalars) figures[k] = figure(vs, unitOf(k) ?? "");
  const inj = runs.flatMap((r) => r.injections);
  return {
    shape: first.shape,
    target: first.target,
    points: first.points,
    devices: first.devices,
    zones: first.zones,
    runs: runs.length,
    figures,
    latency: {
      warmStage: percentiles(diffs(inj, "warm", (i) => i.stageAt, (i) => i.changedAt)),
      warmOverhead: percentiles(diffs(inj, "warm", (i) => i.stageAt, (i) => i.polledAt)),
      warmPollWait: percentiles(diffs(inj, "warm", (i) => i.polledAt, (i) => i.changedAt)),
      runawayStage: percentiles(diffs(inj, "runaway", (i) => i.stageAt, (i) => i.changedAt)),
      runawayTrigger: percentiles(diffs(inj, "runaway", (i) => i.triggerAt, (i) => i.changedAt)),
      runawayTriggerOverhead: percentiles(diffs(inj, "runaway", (i) => i.triggerAt, (i) => i.polledAt)),
    },
    problems: runs.flatMap((r, i) => r.problems.map((p) => `run ${i + 1}: ${p}`)),
  };
}

const n0 = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "-");
const n1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : "-");
const n2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : "-");
const pct = (p: Percentiles): string => `${n0(p.p50)}/${n0(p.p99)}/${n0(p.max)}`;

/** A Markdown table (reads well in a terminal and pastes into the README). */
export function table(sizes: readonly SizeReport[]): string {
  const head = [
    "shape", "points", "wire limit pts/s", "daemon pts/s (saturated)", "ratio", "overrun", "CPU ms/10k (sat.)", "over bare client ms/10k (sat.)", "CPU ms/10k (1 s polls)", "daemon CPU (1 s polls)",
    "polls completed (1 s polls)", "RSS MiB", "sims CPU (sat.)", "MQTT QoS1 events/s", "stage latency p50/p99/max ms (n)", "overhead p50/p99/max ms", "evacuate p50/p99/max ms (n)",
  ];
  const rows = sizes.map((s) => {
    const f = (k: string): number => s.figures[k]?.median ?? NaN;
    const l = s.latency;
    return [
      s.shape, n0(s.points), n0(f("wire.pointsPerS")), n0(f("saturated.pointsPerS")), n2(f("saturated.ratioToWire")), n2(f("saturated.overrunFraction")),
      n1(f("saturated.cpuMsPer10k")), n1(f("saturated.cpuMsPer10kOverClient")), n1(f("steady.cpuMsPer10k")), `${n0(f("steady.daemonCpuPct"))} %`, `${n0(100 * f("steady.pollsCompleted"))} %`, n0(f("steady.rssMB")), `${n0(f("saturated.simCpuPct"))} %`,
      n0(f("mqtt.eventsPerS")), `${pct(l.warmStage)} (${l.warmStage.count})`, pct(l.warmOverhead), `${pct(l.runawayTrigger)} (${l.runawayTrigger.count})`,
    ];
  });
  const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
