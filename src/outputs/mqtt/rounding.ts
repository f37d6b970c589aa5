// Numbers leave firebreak rounded to what their point can resolve, at the one edge where MQTT
// payloads are serialised (./payloads.ts): `14.2`, not `14.200000000000001`. Deciding code keeps
// full precision; only what a consumer reads is rounded. The rule (README, "MQTT topic reference"):
//
//  - A point's resolution, in decimal places, comes from its profile: an integer Modbus register
//    (u16, i16, u32, i32, i8, u8) resolves the decimals of its `scale` / `divisor` and `offset`
//    (scale 0.1 or divisor 10 -> 1 place);
//    a bit or bitfield resolves 0. SunSpec points (their scale factor is the device's, read at every
//    poll), f32/f64 registers and OPC UA values have no resolution known from the config.
//  - Evidence figures in the point's own unit (`value`, `groupMedian`, `deviation`, `baseline`,
//    `ppmAboveBaseline`) and a telemetry `value` are rounded to the point's resolution.
//  - Every other number, and those of a point without a known resolution, keeps 6 significant
//    digits, never fewer than its integer digits: enough for any sensor, and no float noise.
import type { SiteConfig } from "../../config/types.js";
import type { Evidence } from "../../events.js";
import { pointKey } from "../../points/point.js";

/** Decimal places a point's readings resolve, by point key; undefined when the config cannot say. */
export type PointDecimals = (pointKey: string) => number | undefined;

export const unknownDecimals: PointDecimals = () => undefined;

/** Significant digits kept where no resolution is known: above any sensor's, below float noise (~15). */
export const DEFAULT_SIGNIFICANT_DIGITS = 6;
/** A scale finer than 1e-6 is not a decimal resolution (e.g. 1/3): the default applies. */
const MAX_DECIMALS = 6;

/** Evidence keys whose numbers are in the unit of the evidence's point. */
const POINT_UNIT_FIGURES: ReadonlySet<string> = new Set(["value", "groupMedian", "deviation", "baseline", "ppmAboveBaseline"]);

/** The decimal places `n` needs (0.1 -> 1, 0.25 -> 2, 5 -> 0), or undefined beyond MAX_DECIMALS. */
export function decimalsOf(n: number): number | undefined {
  for (let d = 0; d <= MAX_DECIMALS; d++) {
    const scaled = n * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, Math.abs(scaled))) return d;
  }
  return undefined;
}

export function roundToDecimals(x: number, decimals: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Number(x.toFixed(decimals));
  return r === 0 ? 0 : r; // no "-0"
}

/** `sig` significant digits, but never fewer than the integer digits (123456789 stays whole). */
export function roundToSignificant(x: number, sig = DEFAULT_SIGNIFICANT_DIGITS): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const integerDigits = Math.floor(Math.log10(Math.abs(x))) + 1;
  return roundToDecimals(x, Math.min(20, Math.max(0, sig - integerDigits)));
}

/** A number rounded to `decimals` places when known, else to the default significant digits. */
export function tidy(x: number, decimals: number | undefined): number {
  return decimals === undefined ? roundToSignificant(x) : roundToDecimals(x, decimals);
}

/** One evidence (or fault) entry with every number rounded by the rule above. */
export function tidyEvidence(e: Evidence, resolution: PointDecimals): Evidence {
  const d = e.point === undefined ? undefined : resolution(e.point);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) out[k] = typeof v === "number" ? tidy(v, POINT_UNIT_FIGURES.has(k) ? d : undefined) : v;
  return out as Evidence;
}

/** Each Modbus point's resolution, from its profile definition (see the rule above). */
export function pointDecimals(config: SiteConfig): PointDecimals {
  const byKey = new Map<string, number>();
  for (const device of config.devices) {
    for (const p of device.points) {
      if (p.source === "layout") {
        byKey.set(pointKey(device.id, p.pointId), 0); // a count of unwatched elements
        continue;
      }
      const { type, bit, scale, offset, divisor } = p.def;
      let d: number | undefined;
      if (bit !== undefined || type === "bitfield16" || type === "bitfield32") d = 0;
      else if (p.source === "plain" && type !== "f32" && type !== "f64") {
        const s = decimalsOf(scale / divisor);
        const o = decimalsOf(offset);
        d = s === undefined || o === undefined ? undefined : Math.max(s, o);
      }
      if (d !== undefined) byKey.set(pointKey(device.id, p.pointId), d);
    }
  }
  return (key) => byKey.get(key);
}
