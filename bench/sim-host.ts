// A bench simulator process (forked by the harness): serves some gateways, each a port with
// several unit ids, lets every cell value wander a little, and applies injections on command,
// reporting when the injected register changed and when a poll first carried it.
import { fillCabinet, fillDetector, type Wander } from "./bank.js";
import { now, startSimServer, newUnit, type SimServer, type Unit } from "./sim-server.js";
import type { Gateway } from "./site-gen.js";
import type { SimCommand, SimReply } from "./protocol.js";

/** Every 250 ms, a quarter of the wandering registers take a new value: each changes about once a second. */
const WANDER_TICK_MS = 250;
const WANDER_FRACTION = 0.25;

const servers = new Map<number, SimServer>();
const units = new Map<number, Map<number, Unit>>();
const wanders: { unit: Unit; w: Wander }[] = [];
let wanderTimer: NodeJS.Timeout | undefined;

function send(m: SimReply): void {
  process.send?.(m);
}

function wander(): void {
  for (const { unit, w } of wanders) {
    const n = Math.floor(w.addresses.length * WANDER_FRACTION);
    for (let k = 0; k < n; k++) {
      const i = (Math.random() * w.addresses.length) | 0;
      const a = w.addresses[i]!;
      if (unit.held.size > 0 && unit.held.has(a)) continue; // injected: leave it alone
      unit.holding[a] = w.nominal[i]! + ((Math.random() * 5) | 0) - 2;
    }
  }
}

async function start(gateways: readonly Gateway[]): Promise<void> {
  const ports: Record<number, number> = {};
  for (const g of gateways) {
    const map = new Map<number, Unit>();
    for (const u of g.units) {
      const unit = newUnit();
      if (u.kind === "cabinet" && u.layout !== undefined) wanders.push({ unit, w: fillCabinet(unit, u.layout) });
      else fillDetector(unit);
      map.set(u.unit, unit);
    }
    units.set(g.index, map);
    const srv = await startSimServer(map);
    servers.set(g.index, srv);
    ports[g.index] = srv.port;
  }
  wanderTimer = setInterval(wander, WANDER_TICK_MS);
  send({ type: "ready", ports });
}

function handle(m: SimCommand): void {
  switch (m.type) {
    case "start":
      void start(m.gateways).catch((e: unknown) => send({ type: "error", message: String(e) }));
      return;
    case "set": {
      const unit = units.get(m.gateway)?.get(m.unit);
      if (unit === undefined) return send({ type: "error", message: `no unit ${m.gateway}/${m.unit}` });
      const regs = m.table === "input" ? unit.input : unit.holding;
      regs[m.address] = m.raw;
      const t0 = now();
      if (m.id !== undefined) {
        const id = m.id;
        // Held still until reset: the wander must not move an injected value.
        unit.held.add(m.address);
        unit.watch.set(m.address, (at) => send({ type: "polled", id, at }));
        send({ type: "changed", id, at: t0 });
      } else {
        unit.held.delete(m.address);
        unit.watch.delete(m.address);
      }
      return;
    }
    case "stats": {
      const cpu = process.cpuUsage();
      let requests = 0;
      for (const s of servers.values()) requests += s.requests();
      send({ type: "stats", cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: process.memoryUsage.rss(), requests });
      return;
    }
    case "stop":
      clearInterval(wanderTimer);
      void Promise.all([...servers.values()].map((s) => s.close())).then(() => process.exit(0));
      return;
  }
}

process.on("message", (m: SimCommand) => handle(m));
process.on("disconnect", () => process.exit(0));
