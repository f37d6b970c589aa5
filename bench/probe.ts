// In-process probe of the daemon's deciding path without sockets (for profiling and heap work):
// builds a bench site, decodes simulated register banks through each device's real plan into the
// real store, and runs the real RoomWatch after each device's "poll" and on a 1 s tick.
// Usage: node dist/bench/probe.js [POINTS=100000] [SECONDS=10] [SHAPE=site]  (add --expose-gc for heap figures)
// FB_PROBE_COMPARE=1 also runs, on the same writes, a RoomWatch that re-runs a changed rule over all
// its points (RuleEngine { incremental: false }) and prints both evaluation costs: a same-run ratio.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import { pino } from "pino";
import { loadSiteConfig } from "../src/config/load.js";
import { RegisterImage } from "../src/drivers/modbus/decode.js";
import { planDevice, type DevicePlan } from "../src/drivers/modbus/device-plan.js";
import { discoverModels, mapSunspecPoints } from "../src/drivers/modbus/sunspec.js";
import { PointWriter } from "../src/drivers/modbus/point-writer.js";
import type { Clock } from "../src/runtime/clock.js";
import { Daemon } from "../src/runtime/daemon.js";
import { fillCabinet, fillDetector } from "./bank.js";
import { newUnit, type Unit } from "./sim-server.js";
import { buildRoomWatch } from "../src/runtime/core.js";
import { benchSite, SHAPES, SIZES, siteYaml, type Shape } from "./site-gen.js";

const target = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 10);
const shape = (process.argv[4] ?? "site") as Shape;
if (!SHAPES.includes(shape)) throw new Error(`unknown shape ${shape}; known: ${SHAPES.join(", ")}`);
const size = SIZES.find((s) => s.target === target);
if (size === undefined) throw new Error(`unknown size ${target}`);
const site = benchSite(size);
const dir = await mkdtemp(join(tmpdir(), "fb-probe-"));
const file = join(dir, "site.yaml");
await writeFile(file, siteYaml({ site, shape, ports: site.gateways.map((_, i) => 1502 + i), mqttUrl: "mqtt://127.0.0.1:1", pollIntervalMs: 1000, timeoutMs: 500, staleAfterMs: 3000, profilesDir: resolve("config/profiles") }));
const heap = (label: string): void => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const mib = (n: number): string => (n / 2 ** 20).toFixed(0);
  // V8's spaces as committed/used: what of the RSS is the heap's, and which part.
  const spaces = getHeapSpaceStatistics().map((s) => `${s.space_name.replace(/_space$/, "")} ${mib(s.space_size)}/${mib(s.space_used_size)}`).join(", ");
  process.stdout.write(`${label}: heapUsed ${mib(m.heapUsed)} MiB, rss ${mib(m.rss)} MiB, heapTotal ${mib(m.heapTotal)}, array buffers ${mib(m.arrayBuffers)} (${spaces})\n`);
};
heap("start");
const config = { ...(await loadSiteConfig(file)), stateDir: join(dir, "state") };
heap("config loaded");

let t = Date.UTC(2026, 10, 25, 3, 0, 0);
const clock: Clock = { now: () => t, setTimeout: () => ({ cancel: () => undefined }), setInterval: () => ({ cancel: () => undefined }), speed: 1 };
const daemon = new Daemon({ config, clock, log: pino({ level: "silent" }) });
heap("daemon built");
const reference = process.env.FB_PROBE_COMPARE === "1" ? buildRoomWatch(config, daemon.store, t, { incremental: false }) : undefined;
const refEval: number[] = [];

const unitOf = new Map<string, Unit>();
for (const g of site.gateways) for (const u of g.units) {
  const unit = newUnit();
  if (u.kind === "cabinet" && u.layout !== undefined) fillCabinet(unit, u.layout);
  else fillDetector(unit);
  unitOf.set(u.deviceId, unit);
}
const plans: { id: string; plan: DevicePlan; unit: Unit; writer: PointWriter }[] = [];
for (const d of config.devices) {
  const unit = unitOf.get(d.id)!;
  const ss = d.profile.sunspec;
  let sunspec;
  if (ss !== undefined && d.layout !== undefined) {
    const models = await discoverModels(d.id, ss.baseAddress, (a, n) => Promise.resolve(Array.from(unit.holding.subarray(a, a + n))));
    sunspec = mapSunspecPoints(d.id, d.layout, d.points, models);
  }
  plans.push({ id: d.id, plan: planDevice(d, sunspec), unit, writer: new PointWriter(daemon.store, d.id, d.points.map((p) => p.pointId)) });
}
unitOf.clear();
heap("plans built");

const NO_FAILURES = new Map<number, never>();
function poll(p: (typeof plans)[number]): void {
  const image = new RegisterImage();
  for (const r of p.plan.requests) {
    const bank = r.table === "input" ? p.unit.input : p.unit.holding;
    image.add(r.table, r.start, Array.from(bank.subarray(r.start, r.start + r.count)));
  }
  // As the poller writes: the real PointWriter, decoding straight into the store.
  p.writer.writePoll(p.plan, image, NO_FAILURES, p.plan.requests.map(() => t), t);
  const e0 = performance.now();
  daemon.evaluate(true);
  pollEval.push(performance.now() - e0);
  if (reference !== undefined) {
    const r0 = performance.now();
    reference.step(t, true);
    refEval.push(performance.now() - r0);
  }
}

/** Wall time of the evaluation after each poll and of each tick, ms: what delays the next answer's processing. */
const pollEval: number[] = [];
const tickEval: number[] = [];
const pct = (xs: number[], q: number): string => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!.toFixed(2);

// The first seconds (JIT warm-up, the first full evaluation, the heap figure's GC) are not measured.
const WARM_SECONDS = Math.min(5, Math.floor(seconds / 3));
let updates = 0;
let cpu0 = process.cpuUsage();
let t0 = performance.now();
for (let s = 0; s < seconds; s++) {
  if (s === WARM_SECONDS) {
    updates = 0;
    pollEval.length = tickEval.length = refEval.length = 0;
    cpu0 = process.cpuUsage();
    t0 = performance.now();
  }
  for (const p of plans) {
    // Every cell wanders a little, as in the simulator.
    for (let k = 0; k < 200; k++) {
      const a = 40_000 + ((Math.random() * 20_000) | 0);
      p.unit.holding[a] = p.unit.holding[a]! ^ 1;
    }
    poll(p);
    updates += p.plan.points.length;
    t += Math.floor(1000 / plans.length);
  }
  const e0 = performance.now();
  daemon.evaluate();
  tickEval.push(performance.now() - e0);
  reference?.step(t);
  if (s === 0) heap("after first second");
}
const cpu = process.cpuUsage(cpu0);
const ms = (cpu.user + cpu.system) / 1000;
process.stdout.write(`${updates} updates (after ${WARM_SECONDS} s of warm-up) in ${(performance.now() - t0).toFixed(0)} ms wall, ${((ms * 10_000) / updates).toFixed(1)} ms CPU/10k\n`);
process.stdout.write(`evaluation after a poll p50/p99/max ${pct(pollEval, 0.5)}/${pct(pollEval, 0.99)}/${pct(pollEval, 1)} ms; tick ${pct(tickEval, 0.5)}/${pct(tickEval, 0.99)}/${pct(tickEval, 1)} ms\n`);
if (reference !== undefined && refEval.length > 0) {
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  process.stdout.write(`evaluation after a poll, ms per 10k updates: incremental ${((sum(pollEval) * 10_000) / updates).toFixed(2)}, whole rules ${((sum(refEval) * 10_000) / updates).toFixed(2)} (p50 ${pct(pollEval, 0.5)} vs ${pct(refEval, 0.5)} ms per poll)\n`);
}
heap("end");
// FB_PROBE_HEAPSNAP=FILE: a heap snapshot of the built daemon (store, rules, plans) for memory work.
if (process.env.FB_PROBE_HEAPSNAP !== undefined) process.stdout.write(`heap snapshot: ${writeHeapSnapshot(process.env.FB_PROBE_HEAPSNAP)}\n`);
await rm(dir, { recursive: true, force: true });
