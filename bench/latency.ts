// Detection latency: a simulator steps one cell's temperature at a recorded time, and a subscriber
// records when the zone's stage message (and, for a runaway, the evacuation trigger) arrives. The
// simulator also records when a poll first carried the new value, so the daemon's own overhead is
// the arrival minus that. Every injection must be seen exactly once, or the run fails.
import mqtt, { type MqttClient } from "mqtt";
import { cellTempAddress, tempRaw } from "./bank.js";
import { nowMs, sleep } from "./procs.js";
import type { SimReply } from "./protocol.js";
import type { Sims } from "./sims.js";
import { NOMINAL_C, RUNAWAY_C, WARM_C, type BenchSite, type BenchUnit } from "./site-gen.js";

export interface Injection {
  readonly id: number;
  readonly kind: "warm" | "runaway";
  readonly zone: string;
  readonly point: string;
  changedAt?: number;
  polledAt?: number;
  /** Arrival of the zone's stage transition (pre_alarm for warm, evacuate for runaway). */
  stageAt?: number;
  /** Arrival of evacuate/<zone> (runaway only). */
  triggerAt?: number;
  seen: number;
  triggersSeen: number;
}

export interface LatencyOutcome {
  readonly injections: Injection[];
  readonly problems: string[];
}

const PREFIX = "firebreak/v1/bench";
const STAGE_RANK = ["normal", "watch", "pre_alarm", "alarm", "evacuate", "released"];

interface Waiter {
  readonly zone: string;
  readonly test: (stage: string, evidencePoints: readonly string[]) => boolean;
  readonly resolve: () => void;
}

/** A subscriber on the zone stage and evacuation topics, started before the daemon so nothing is missed. */
export class LatencyProbe {
  readonly #client: MqttClient;
  readonly #lastSince = new Map<string, string>();
  readonly #waiters = new Set<Waiter>();
  readonly #pending = new Map<string, Injection>();
  readonly #byId = new Map<number, Injection>();
  readonly problems: string[] = [];

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on("message", (topic, buf) => this.#onMessage(topic, buf.toString("utf8")));
  }

  static async start(url: string): Promise<LatencyProbe> {
    const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
    await client.subscribeAsync([`${PREFIX}/zone/+/stage`, `${PREFIX}/evacuate/+`], { qos: 1 });
    return new LatencyProbe(client);
  }

  /** Sim replies carry the change and poll times of an injection. */
  onSimReply(m: SimReply): void {
    if (m.type !== "changed" && m.type !== "polled") return;
    const inj = this.#byId.get(m.id);
    if (inj === undefined) return;
    if (m.type === "changed") inj.changedAt = m.at;
    else inj.polledAt = m.at;
  }

  #onMessage(topic: string, payload: string): void {
    const at = nowMs();
    if (payload === "") return;
    const parts = topic.split("/");
    const zone = parts[parts.length - (topic.endsWith("/stage") ? 2 : 1)]!;
    let body: { stage?: string; since?: string; evidence?: { point?: string }[] };
    try {
      body = JSON.parse(payload) as typeof body;
    } catch {
      this.problems.push(`unparsable message on ${topic}`);
      return;
    }
    const points = (body.evidence ?? []).flatMap((e) => (e.point === undefined ? [] : [e.point]));
    if (topic.includes("/evacuate/")) {
      const inj = this.#pending.get(zone);
      if (inj === undefined || inj.kind !== "runaway") return void this.problems.push(`evacuate/${zone} without a runaway injected there`);
      inj.triggersSeen++;
      inj.triggerAt ??= at;
    } else {
      // A stage message with a new `since` is a transition; others repeat the stage with a new fault flag.
      if (this.#lastSince.get(zone) === body.since) return;
      this.#lastSince.set(zone, body.since ?? "");
      const stage = body.stage ?? "";
      const inj = this.#pending.get(zone);
      const target = inj?.kind === "runaway" ? "evacuate" : "pre_alarm";
      if (stage === target && inj !== undefined) {
        if (!points.includes(inj.point)) this.problems.push(`zone ${zone} reached ${stage} without naming ${inj.point}`);
        inj.seen++;
        inj.stageAt ??= at;
      } else if (STAGE_RANK.indexOf(stage) >= 2) {
        this.problems.push(`zone ${zone} went to ${stage} with no matching injection`);
      }
    }
    for (const w of this.#waiters) if (w.zone === zone && w.test(body.stage ?? "", points)) w.resolve();
  }

  waitStage(zone: string, test: (stage: string) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const w: Waiter = { zone, test, resolve: () => finish(true) };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(w);
        resolve(ok);
      };
      this.#waiters.add(w);
    });
  }

  track(inj: Injection): void {
    this.#byId.set(inj.id, inj);
    this.#pending.set(inj.zone, inj);
  }

  async stop(): Promise<void> {
    await this.#client.endAsync(true);
  }
}

export interface InjectOptions {
  readonly site: BenchSite;
  readonly sims: Sims;
  readonly probe: LatencyProbe;
  readonly warmInjections: number;
  readonly pollIntervalMs: number;
  /** Wall-clock bound on the whole phase. */
  readonly deadlineMs: number;
}

let nextId = 1;

function cabinetOf(site: BenchSite, zone: string): { gateway: number; unit: BenchUnit } {
  for (const g of site.gateways) for (const u of g.units) if (u.zone === zone && u.kind === "cabinet") return { gateway: g.index, unit: u };
  throw new Error(`no cabinet in zone ${zone}`);
}

function randomCell(u: BenchUnit): { s: number; m: number; c: number } {
  const l = u.layout!;
  const r = (n: number): number => 1 + Math.floor(Math.random() * n);
  return { s: r(l.strings), m: r(l.modulesPerString), c: r(l.cellsPerModule) };
}

/** Warm steps (pre_alarm, then back) spread over the zones, one at a time per zone; then one runaway per zone. */
export async function runInjections(o: InjectOptions): Promise<LatencyOutcome> {
  const { site, sims, probe } = o;
  const injections: Injection[] = [];
  const problems: string[] = [];
  const detectMs = 4 * o.pollIntervalMs + 5000;
  const perZone = Math.ceil(o.warmInjections / site.zones.length);
  let budget = o.warmInjections;
  await Promise.all(
    site.zones.map(async (zone) => {
      const { gateway, unit } = cabinetOf(site, zone);
      for (let k = 0; k < perZone && budget > 0 && nowMs() < o.deadlineMs; k++) {
        budget--;
        // A random phase against the poll grid, so the poll wait is uniform, not locked to it.
        await sleep(Math.random() * o.pollIntervalMs);
        const cell = randomCell(unit);
        const address = cellTempAddress(unit.layout!, cell.s, cell.m, cell.c);
        const inj: Injection = { id: nextId++, kind: "warm", zone, point: `${unit.deviceId}/s${cell.s}/m${cell.m}/c${cell.c}/tempC`, seen: 0, triggersSeen: 0 };
        injections.push(inj);
        probe.track(inj);
        const up = probe.waitStage(zone, (s) => s === "pre_alarm", detectMs);
        sims.set(gateway, unit.unit, address, tempRaw(WARM_C), inj.id);
        if (!(await up)) problems.push(`injection ${inj.id} (${inj.point}): no pre_alarm within ${detectMs} ms`);
        const down = probe.waitStage(zone, (s) => STAGE_RANK.indexOf(s) < 2, detectMs + 2000);
        sims.set(gateway, unit.unit, address, tempRaw(NOMINAL_C));
        if (!(await down)) {
          problems.push(`zone ${zone} did not step down after injection ${inj.id}`);
          return;
        }
      }
    }),
  );
  // Runaways latch the zone (alarm and evacuate need an operator): one per zone, at the end.
  await Promise.all(
    site.zones.map(async (zone) => {
      if (nowMs() >= o.deadlineMs) return;
      await sleep(Math.random() * o.pollIntervalMs);
      const { gateway, unit } = cabinetOf(site, zone);
      const cell = randomCell(unit);
      const inj: Injection = { id: nextId++, kind: "runaway", zone, point: `${unit.deviceId}/s${cell.s}/m${cell.m}/c${cell.c}/tempC`, seen: 0, triggersSeen: 0 };
      injections.push(inj);
      probe.track(inj);
      const up = probe.waitStage(zone, (s) => s === "evacuate", detectMs);
      sims.set(gateway, unit.unit, cellTempAddress(unit.layout!, cell.s, cell.m, cell.c), tempRaw(RUNAWAY_C), inj.id);
      if (!(await up)) problems.push(`runaway ${inj.id} (${inj.point}): no evacuate within ${detectMs} ms`);
    }),
  );
  // Let late duplicates arrive before judging "exactly once".
  await sleep(Math.min(2000, o.pollIntervalMs * 2));
  for (const inj of injections) {
    if (inj.seen !== 1) problems.push(`injection ${inj.id} (${inj.kind}, ${inj.point}) seen ${inj.seen} times`);
    if (inj.kind === "runaway" && inj.triggersSeen !== 1) problems.push(`runaway ${inj.id}: evacuate/${inj.zone} seen ${inj.triggersSeen} times`);
    if (inj.changedAt === undefined || inj.polledAt === undefined) problems.push(`injection ${inj.id}: simulator did not report change and poll times`);
  }
  return { injections, problems: [...problems, ...probe.problems] };
}
