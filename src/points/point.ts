// A point is one measured value of one device, with its quality and source time (README.md#points-and-quality).
// Drivers produce PointValues; the store keeps them; rules read them. Nothing is "normal" because
// it is missing: a value that is not `good` carries the reason why.

export type Quality = "good" | "uncertain" | "bad";

export type QualityReason =
  | "comm_fail"
  | "timeout"
  | "device_exception"
  | "stale"
  | "out_of_range"
  | "sentinel"
  | "stuck"
  | "config";

export interface PointValue {
  /** Engineering value after scale and offset; null when there is no usable number. */
  readonly value: number | null;
  readonly quality: Quality;
  /** Present whenever quality is not `good`. */
  readonly reason?: QualityReason;
  /** Human detail for the reason, e.g. "raw 0xFFFF is the SunSpec not-implemented value". */
  readonly detail?: string;
  /** When the source produced the value (device time for OPC UA, read time for Modbus), ms since epoch. */
  readonly sourceTs: number;
}

/** `<deviceId>/<pointId>`, e.g. `cab2/s1/m3/c7/tempC`: the one name a point has everywhere. */
export type PointKey = string;

export function pointKey(deviceId: string, pointId: string): PointKey {
  return `${deviceId}/${pointId}`;
}

export function good(value: number, sourceTs: number): PointValue {
  return { value, quality: "good", sourceTs };
}

export function bad(reason: QualityReason, sourceTs: number, detail?: string): PointValue {
  return detail === undefined
    ? { value: null, quality: "bad", reason, sourceTs }
    : { value: null, quality: "bad", reason, detail, sourceTs };
}

export function isGood(v: PointValue | undefined): v is PointValue & { value: number } {
  return v !== undefined && v.quality === "good" && v.value !== null;
}

/** A point's static description, known once its device's profile is resolved. */
export interface PointInfo {
  readonly key: PointKey;
  readonly deviceId: string;
  readonly pointId: string;
  readonly unit: string;
  /** Physical range from the profile; readings outside it are bad/out_of_range. */
  readonly range?: readonly [number, number];
  readonly zone?: string;
}
