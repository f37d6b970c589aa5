// The bench's simulator fleet: the gateways of a bench site spread over a few forked processes,
// with their ports, CPU figures, and register writes (injections and resets) routed to the right one.
import { forkEntry, type Child } from "./procs.js";
import type { SimReply } from "./protocol.js";
import type { BenchSite } from "./site-gen.js";

export interface SimCpu {
  readonly cpuUs: number;
  readonly requests: number;
}

export interface Sims {
  /** Port of each gateway, by gateway index. */
  readonly ports: number[];
  readonly pids: number[];
  stats(): Promise<SimCpu>;
  /** Injection (with id) or reset (without). The promise of an injection resolves with the change time. */
  set(gateway: number, unit: number, address: number, raw: number, id?: number): void;
  onReply(fn: (m: SimReply) => void): void;
  stop(): Promise<void>;
}

export async function startSims(site: BenchSite, processes: number): Promise<Sims> {
  const n = Math.max(1, Math.min(processes, site.gateways.length));
  const children: Child<SimReply>[] = [];
  const owner: number[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) children.push(forkEntry<SimReply>("sim-host"));
    const starts = children.map(async (c, i) => {
      const gateways = site.gateways.filter((g) => g.index % n === i);
      for (const g of gateways) owner[g.index] = i;
      c.send({ type: "start", gateways });
      const ready = await c.next((m): m is Extract<SimReply, { type: "ready" }> => m.type === "ready", 30_000, "ready");
      for (const [g, p] of Object.entries(ready.ports)) ports[Number(g)] = p;
    });
    await Promise.all(starts);
    return {
      ports,
      pids: children.map((c) => c.pid),
      async stats() {
        const all = await Promise.all(
          children.map((c) => {
            const p = c.next((m): m is Extract<SimReply, { type: "stats" }> => m.type === "stats", 10_000, "stats");
            c.send({ type: "stats" });
            return p;
          }),
        );
        return { cpuUs: all.reduce((a, s) => a + s.cpuUserUs + s.cpuSystemUs, 0), requests: all.reduce((a, s) => a + s.requests, 0) };
      },
      set(gateway, unit, address, raw, id) {
        const c = children[owner[gateway]!]!;
        c.send(id === undefined ? { type: "set", gateway, unit, table: "holding", address, raw } : { type: "set", id, gateway, unit, table: "holding", address, raw });
      },
      onReply(fn) {
        for (const c of children) c.onMessage(fn);
      },
      stop: () => Promise.all(children.map((c) => c.stop())).then(() => undefined),
    };
  } catch (e) {
    await Promise.all(children.map((c) => c.stop()));
    throw e;
  }
}
