// Real-time floors for an accelerated clock (simulator runs and the demo): the devices, the
// network and the event loop still answer in real time, so a limit written in room time must not
// shrink below what a loaded machine can keep. The one place staleness and comm-loss delays are
// floored; request timeouts have theirs in the Modbus poller (src/drivers/modbus/poller.ts).
import type { Rule, SiteConfig } from "../config/types.js";

/**
 * Staleness and comm-loss delays never fall below this much real time on an accelerated clock
 * [measured: at 10x a 3 s room-time staleness was 300 ms real, and a busy laptop raised 49 trouble
 * events in 2 s; 2 s covers a poll cycle plus a garbage-collection or scheduling stall].
 */
export const MIN_REAL_STALE_MS = 2000;

/**
 * A limit in clock ms, floored to `minRealMs` of real time at `speed` (clock ms per real ms). A limit
 * configured below `minRealMs` of clock time keeps its real length, so at speed 1 nothing changes.
 */
export function realTimeFloor(clockMs: number, speed: number, minRealMs = MIN_REAL_STALE_MS): number {
  if (!(speed > 1)) return clockMs;
  return Math.max(clockMs, Math.min(minRealMs, clockMs) * speed);
}

/** What the floors raised, for one start-up log line. */
export interface FlooredLimit {
  readonly what: string;
  readonly configuredMs: number;
  readonly flooredMs: number;
}

/**
 * The config with every device's `staleAfterMs` and every comm_loss rule's `afterMs` floored for a
 * clock running `speed` times real time; the same object when nothing changes.
 */
export function withRealTimeFloors(config: SiteConfig, speed: number): { config: SiteConfig; raised: FlooredLimit[] } {
  if (!(speed > 1)) return { config, raised: [] };
  const raised: FlooredLimit[] = [];
  const floor = (what: string, ms: number): number => {
    const f = realTimeFloor(ms, speed);
    if (f !== ms) raised.push({ what, configuredMs: ms, flooredMs: f });
    return f;
  };
  const devices = config.devices.map((d) => ({ ...d, staleAfterMs: floor(`devices.${d.id}.stale_after_ms`, d.staleAfterMs) }));
  const rules = config.rules.map((r): Rule => (r.kind === "comm_loss" ? { ...r, afterMs: floor(`rules.${r.id}.after_s`, r.afterMs) } : r));
  // OPC UA points never go stale in the store (staleAfterMs is Infinity); their driver watches silence in real time already.
  return { config: { ...config, devices, rules }, raised };
}
