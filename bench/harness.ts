// One bench run at one size, everything over real loopback sockets: simulators (forked), the wire
// limit (a forked bare client: the daemon's own Modbus TCP client), a real Mosquitto, the daemon (forked) saturated and
// then at a 1 s poll with injections, and a subscriber. Every process is stopped, also on failure.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startMosquitto, type Broker } from "../test/support/mosquitto.js";
import { LatencyProbe, runInjections, type Injection } from "./latency.js";
import { forkEntry, nowMs, procCpuSeconds, sleep } from "./procs.js";
import type { BurstResult, DaemonReply, DaemonStats, WireResult } from "./protocol.js";
import { benchSite, siteYaml, type BenchSize, type BenchSite, type Shape } from "./site-gen.js";
import { startSims, type Sims } from "./sims.js";

export interface PhaseTimes {
  readonly wireSeconds: number;
  readonly saturatedSeconds: number;
  readonly burstSeconds: number;
  readonly steadySeconds: number;
  readonly warmInjections: number;
  /** Poll interval of the saturated phase, set past the schema's 50 ms floor so polls run back to back. */
  readonly saturatedIntervalMs: number;
  /** Poll interval of the steady and latency phase. */
  readonly steadyIntervalMs: number;
  readonly simProcesses: number;
  /** Bound on the injection phase, s. */
  readonly latencyBoundSeconds: number;
}

export interface LoadFigures {
  readonly seconds: number;
  readonly pointsPerS: number;
  readonly daemonCpuPct: number;
  readonly cpuMsPer10k: number;
  readonly overrunFraction: number;
  /** Polls per device per second, and (at a poll interval the daemon keeps to) as a fraction of the configured rate. */
  readonly pollsPerDeviceS: number;
  readonly pollsCompleted: number;
  readonly failedPolls: number;
  readonly rssMB: number;
  readonly heapMB: number;
  readonly simCpuPct: number;
  readonly brokerCpuPct: number;
  readonly harnessCpuPct: number;
}

export interface RunResult {
  readonly shape: Shape;
  readonly target: number;
  readonly points: number;
  readonly devices: number;
  readonly zones: number;
  readonly wire: { pointsPerS: number; registersPerS: number; requestsPerS: number; clientCpuPct: number; cpuMsPer10k: number; simCpuPct: number; failures: number };
  /** `cpuMsPer10kOverClient`: the daemon's cost minus the bare client's (wire phase, same run): what firebreak adds to its own Modbus client. */
  readonly saturated: LoadFigures & { ratioToWire: number; cpuMsPer10kOverClient: number };
  readonly steady: LoadFigures;
  readonly mqtt: BurstResult & { eventsPerS: number; messagesPerS: number };
  readonly injections: Injection[];
  readonly problems: string[];
}

type Daemon = ReturnType<typeof forkEntry<DaemonReply>>;

async function daemonStats(d: Daemon): Promise<DaemonStats> {
  const p = d.next((m): m is Extract<DaemonReply, { type: "stats" }> => m.type === "stats", 30_000, "stats");
  d.send({ type: "stats" });
  return (await p).stats;
}

/** Wait until every device is connected and every point has its first reading. */
async function waitWarm(d: Daemon, boundMs: number): Promise<DaemonStats> {
  const until = nowMs() + boundMs;
  for (;;) {
    const s = await daemonStats(d);
    if (s.unread === 0 && s.connected === s.devices && s.polls >= 2 * s.devices) return s;
    if (nowMs() > until) throw new Error(`daemon not warm after ${boundMs} ms: ${s.unread} points unread, ${s.connected}/${s.devices} devices connected; ${s.lastErrors.join("; ")}`);
    await sleep(200);
  }
}

/** Daemon, simulators, broker and harness CPU over a measured window of `seconds`. */
async function measure(d: Daemon, sims: Sims, broker: Broker, seconds: number, devices: number, intervalMs: number, profileAs?: string): Promise<LoadFigures> {
  // FB_BENCH_PROFILE=DIR: a CPU profile of the daemon over exactly this window.
  const profileDir = process.env.FB_BENCH_PROFILE;
  if (profileDir !== undefined && profileAs !== undefined) d.send({ type: "profile-start" });
  const [a, simA] = await Promise.all([daemonStats(d), sims.stats()]);
  const brokerA = procCpuSeconds(broker.pid) ?? 0;
  const harnessA = process.cpuUsage();
  await sleep(seconds * 1000);
  const [b, simB] = await Promise.all([daemonStats(d), sims.stats()]);
  const brokerB = procCpuSeconds(broker.pid) ?? 0;
  const harness = process.cpuUsage(harnessA);
  if (profileDir !== undefined && profileAs !== undefined) {
    const file = join(profileDir, `${profileAs}.cpuprofile`);
    const done = d.next((m): m is Extract<DaemonReply, { type: "profiled" }> => m.type === "profiled", 60_000, "profile");
    d.send({ type: "profile-stop", file });
    await done;
  }
  const dt = (b.at - a.at) / 1000;
  const updates = b.pointUpdates - a.pointUpdates;
  const cpuS = (b.cpuUs - a.cpuUs) / 1e6;
  const polls = b.polls - a.polls;
  return {
    seconds: dt,
    pointsPerS: updates / dt,
    daemonCpuPct: (100 * cpuS) / dt,
    cpuMsPer10k: updates > 0 ? (cpuS * 1000 * 10_000) / updates : NaN,
    overrunFraction: polls > 0 ? (b.overruns - a.overruns) / polls : NaN,
    pollsPerDeviceS: polls / devices / dt,
    pollsCompleted: polls / devices / dt / (1000 / intervalMs),
    failedPolls: b.failures - a.failures,
    rssMB: b.rss / 2 ** 20,
    heapMB: b.heapUsed / 2 ** 20,
    simCpuPct: (100 * (simB.cpuUs - simA.cpuUs)) / 1e6 / dt,
    brokerCpuPct: (100 * (brokerB - brokerA)) / dt,
    harnessCpuPct: (100 * (harness.user + harness.system)) / 1e6 / dt,
  };
}

async function runWire(file: string, sims: Sims, seconds: number): Promise<RunResult["wire"]> {
  const child = forkEntry<WireResult>("wire-client", [file, String(seconds)]);
  try {
    const simA = await sims.stats();
    const r = await child.next((m): m is WireResult => "cycles" in m, seconds * 1000 + 60_000, "wire result");
    const simB = await sims.stats();
    return {
      pointsPerS: r.pointUpdates / r.seconds,
      registersPerS: r.registers / r.seconds,
      requestsPerS: r.requests / r.seconds,
      clientCpuPct: (100 * r.cpuUs) / 1e6 / r.seconds,
      cpuMsPer10k: (r.cpuUs / 1000) * (10_000 / Math.max(1, r.pointUpdates)),
      // The sim window includes the client's connect and discovery: a slight overstatement.
      simCpuPct: (100 * (simB.cpuUs - simA.cpuUs)) / 1e6 / r.seconds,
      failures: r.failures,
    };
  } finally {
    await child.stop();
  }
}

async function writeSite(dir: string, name: string, site: BenchSite, sims: Sims, mqttUrl: string, intervalMs: number, staleAfterMs: number, shape: Shape = "site"): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  const timeoutMs = Math.max(10, Math.min(1000, intervalMs - 1));
  // FB_BENCH_MAX_IN_FLIGHT=N: every device pipelines N requests (bench/README.md); the wire client reads the same config.
  const inFlight = process.env.FB_BENCH_MAX_IN_FLIGHT;
  const maxInFlight = inFlight === undefined || inFlight === "" ? undefined : Number(inFlight);
  if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw new Error(`FB_BENCH_MAX_IN_FLIGHT=${inFlight}: give a whole number of at least 1`);
  await writeFile(file, siteYaml({ site, shape, ports: sims.ports, mqttUrl, pollIntervalMs: intervalMs, timeoutMs, staleAfterMs, profilesDir: resolve("config/profiles"), ...(maxInFlight === undefined ? {} : { maxInFlight }) }));
  return file;
}

function startDaemonHost(file: string, dir: string, name: string, intervalOverrideMs?: number): Daemon {
  return forkEntry<DaemonReply>("daemon-host", [file, join(dir, `${name}.log`), ...(intervalOverrideMs === undefined ? [] : [String(intervalOverrideMs)])]);
}

/**
 * One run of one shape at one size. The MQTT burst and the injections run for the `site` shape
 * only (the other shapes' rules are set never to trip: they measure the cost of judging).
 */
export async function runOnce(size: BenchSize, t: PhaseTimes, log: (s: string) => void, shape: Shape = "site"): Promise<RunResult> {
  const site = benchSite(size);
  const dir = await mkdtemp(join(tmpdir(), "fb-bench-"));
  const devices = site.gateways.reduce((a, g) => a + g.units.length, 0);
  const stopList: (() => Promise<void>)[] = [];
  const problems: string[] = [];
  try {
    const sims = await startSims(site, t.simProcesses);
    stopList.push(() => sims.stop());
    log(`  ${site.points} points, ${devices} devices on ${site.gateways.length} gateway ports, ${site.zones.length} zones; simulators up (pids ${sims.pids.join(", ")})`);

    const wireFile = await writeSite(dir, "wire", site, sims, "mqtt://127.0.0.1:1", 1000, 3000);
    const wire = await runWire(wireFile, sims, t.wireSeconds);
    log(`  wire limit: ${fmt(wire.pointsPerS)} points/s (${fmt(wire.registersPerS)} registers/s), client CPU ${wire.clientCpuPct.toFixed(0)} %, simulators ${wire.simCpuPct.toFixed(0)} %`);

    // Saturated: polls back to back. Stale limit wide, so a busy machine measures speed, not staleness.
    let broker = await startMosquitto({ persistence: false });
    stopList.push(() => broker.destroy());
    const satFile = await writeSite(dir, "saturated", site, sims, broker.url, 1000, 60_000, shape);
    const sat = startDaemonHost(satFile, dir, "saturated", t.saturatedIntervalMs);
    stopList.push(() => sat.stop());
    await sat.next((m): m is Extract<DaemonReply, { type: "started" }> => m.type === "started", 60_000, "start");
    await waitWarm(sat, 60_000);
    const saturated = await measure(sat, sims, broker, t.saturatedSeconds, devices, t.saturatedIntervalMs, `${shape}-${size.target}-saturated-${process.pid}-${Date.now()}`);
    log(`  saturated: ${fmt(saturated.pointsPerS)} points/s (${(saturated.pointsPerS / wire.pointsPerS).toFixed(2)} of wire), ${saturated.cpuMsPer10k.toFixed(1)} ms CPU/10k (${(saturated.cpuMsPer10k - wire.cpuMsPer10k).toFixed(1)} over the bare client's ${wire.cpuMsPer10k.toFixed(1)}), daemon ${saturated.daemonCpuPct.toFixed(0)} %, sims ${saturated.simCpuPct.toFixed(0)} %`);
    const full = shape === "site";
    const burstP = !full ? undefined : sat.next((m): m is Extract<DaemonReply, { type: "burst" }> | Extract<DaemonReply, { type: "error" }> => m.type === "burst" || m.type === "error", t.burstSeconds * 1000 + 30_000, "burst");
    if (full) sat.send({ type: "burst", seconds: t.burstSeconds, window: 1000 });
    const burstReply = await (burstP ?? Promise.resolve({ type: "error" as const, message: "not run for this shape" }));
    // A daemon too busy to connect a second output is a finding, not a reason to lose the run's other figures.
    if (burstReply.type === "error" && full) problems.push(`mqtt burst: ${burstReply.message}`);
    const b: BurstResult = burstReply.type === "burst" ? burstReply.result : { seconds: t.burstSeconds, events: 0, messagesAcked: 0, rssBefore: NaN, rssAfter: NaN, queuedAtEnd: NaN, dropped: NaN };
    const mqttFig = { ...b, eventsPerS: b.events / b.seconds, messagesPerS: b.messagesAcked / b.seconds };
    if (full) log(`  mqtt: ${fmt(mqttFig.eventsPerS)} events/s at QoS 1 under load (RSS ${(b.rssBefore / 2 ** 20).toFixed(0)} -> ${(b.rssAfter / 2 ** 20).toFixed(0)} MB)`);
    await sat.stop();
    await broker.destroy();

    // Steady: the daemon at its production poll interval, then the injections.
    broker = await startMosquitto({ persistence: false });
    stopList.push(() => broker.destroy());
    const probe = await LatencyProbe.start(broker.url);
    stopList.push(() => probe.stop());
    sims.onReply((m) => probe.onSimReply(m));
    const steadyFile = await writeSite(dir, "steady", site, sims, broker.url, t.steadyIntervalMs, 3 * t.steadyIntervalMs, shape);
    const steadyD = startDaemonHost(steadyFile, dir, "steady");
    stopList.push(() => steadyD.stop());
    await steadyD.next((m): m is Extract<DaemonReply, { type: "started" }> => m.type === "started", 60_000, "start");
    await waitWarm(steadyD, 60_000);
    const steady = await measure(steadyD, sims, broker, t.steadySeconds, devices, t.steadyIntervalMs, `${shape}-${size.target}-steady-${process.pid}-${Date.now()}`);
    log(`  ${t.steadyIntervalMs} ms polls: ${fmt(steady.pointsPerS)} points/s, ${steady.cpuMsPer10k.toFixed(1)} ms CPU/10k, daemon ${steady.daemonCpuPct.toFixed(0)} %, polls completed ${(100 * steady.pollsCompleted).toFixed(0)} %, RSS ${steady.rssMB.toFixed(0)} MB`);
    const lat = !full ? { injections: [], problems: [] } : await runInjections({ site, sims, probe, warmInjections: t.warmInjections, pollIntervalMs: t.steadyIntervalMs, deadlineMs: nowMs() + t.latencyBoundSeconds * 1000 });
    problems.push(...lat.problems);
    log(`  ${lat.injections.length} injections, ${lat.problems.length} problems`);
    return {
      shape,
      target: size.target,
      points: site.points,
      devices,
      zones: site.zones.length,
      wire,
      saturated: { ...saturated, ratioToWire: saturated.pointsPerS / wire.pointsPerS, cpuMsPer10kOverClient: saturated.cpuMsPer10k - wire.cpuMsPer10k },
      steady,
      mqtt: mqttFig,
      injections: lat.injections,
      problems,
    };
  } finally {
    for (const stop of stopList.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
