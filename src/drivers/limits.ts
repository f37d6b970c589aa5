// A reading's limits from its profile, judged the same way by every driver: a listed sentinel or a
// value outside the physical range is a bad reading, never a value, and a range failure has one wording. The Modbus
// decoder (./modbus/decode.ts) judges sentinels on the raw register pattern and the range on the
// scaled value; OPC UA (./opcua/quality.ts) judges both on the value the server sent.
import { bad, type PointValue } from "../points/point.js";

export interface PointLimits {
  /** Physical range of the sensing element, in the point's unit. */
  readonly range?: readonly [number, number];
  /** Values that mean "no reading" (open or short circuit, not implemented). */
  readonly sentinels: readonly number[];
}

/** bad/out_of_range: "value 130 degC (raw 0x0514) is outside the range [-40, 125]". */
export function outOfRange(value: number, range: readonly [number, number] | undefined, unit: string, ts: number, raw?: string): PointValue {
  const where = range === undefined ? "is not a finite number" : `is outside the range [${range[0]}, ${range[1]}]`;
  return bad("out_of_range", ts, `value ${value}${unit === "" ? "" : " " + unit}${raw === undefined ? "" : ` (raw ${raw})`} ${where}`);
}
