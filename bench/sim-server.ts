// The bench's Modbus TCP servers: the simulators' own lean server (simulators/modbus-server.ts),
// with units that also report the first answer carrying a watched register (when the daemon's
// poll picked up an injected change).
import { RegisterBank, startModbusTcpServer } from "../simulators/modbus-server.js";

export class Unit extends RegisterBank {
  /** Watched holding/input addresses: called once, then forgotten, when an answer carries one. */
  readonly watch = new Map<number, (answeredAt: number) => void>();
  /** Injected addresses that the wander must leave alone until reset. */
  readonly held = new Set<number>();
}

export function newUnit(): Unit {
  return new Unit();
}

export interface SimServer {
  readonly port: number;
  readonly requests: () => number;
  close(): Promise<void>;
}

export function now(): number {
  return performance.timeOrigin + performance.now();
}

export async function startSimServer(units: ReadonlyMap<number, Unit>, port = 0): Promise<SimServer> {
  const server = await startModbusTcpServer({
    port,
    units,
    onRead: (unitId, _bank, addr, count) => {
      const unit = units.get(unitId);
      if (unit === undefined || unit.watch.size === 0) return;
      for (const [a, fn] of unit.watch) {
        if (a >= addr && a < addr + count) {
          unit.watch.delete(a);
          fn(now());
        }
      }
    },
  });
  return { port: server.port, requests: () => server.requests(), close: () => server.close() };
}
