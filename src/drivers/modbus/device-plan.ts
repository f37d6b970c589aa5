// A device's poll plan, built once per connection: each point's compiled decoder and the
// coalesced requests that carry its registers. Pure: the poller only executes it.
import { DeviceLayoutError } from "../../errors.js";
import { pointKey, type PointKey } from "../../points/point.js";
import type { Device } from "../../config/types.js";
import { defaultMaxGap } from "../../config/profile-schema.js";
import { compilePoint, plainSpec, sunspecSpec, type CompiledPoint } from "./decode.js";
import { planRequests, type PlannedRequest, type RegisterRead } from "./planner.js";
import type { SunspecAddress } from "./sunspec.js";

export interface PointPlan {
  readonly key: PointKey;
  readonly decoder: CompiledPoint;
  /** Indices into DevicePlan.requests of the requests this point's registers come from. */
  readonly requests: readonly number[];
}

export interface DevicePlan {
  readonly requests: readonly PlannedRequest[];
  readonly points: readonly PointPlan[];
}

/**
 * Compile every point of `device` and plan its requests. SunSpec points need `sunspec` (from
 * discovery); a missing address is a DeviceLayoutError. Profile problems are ConfigErrors.
 */
export function planDevice(device: Device, sunspec?: ReadonlyMap<string, SunspecAddress>): DevicePlan {
  const { profile } = device;
  // The layout point is the poller's own verdict on the SunSpec map, not read from registers.
  const points = device.points.filter((p) => p.source !== "layout");
  const decoders = points.map((p): CompiledPoint => {
    if (p.source === "plain") return compilePoint(plainSpec(p.pointId, p.def, profile.defaults), profile.file);
    const at = sunspec?.get(p.pointId);
    if (at === undefined || profile.sunspec === undefined) throw new DeviceLayoutError(device.id, `no SunSpec address for point ${p.pointId}`);
    return compilePoint(sunspecSpec(p.pointId, p.def, profile.defaults, profile.sunspec.table, at.address, at.sfAddress), profile.file);
  });
  const reads: RegisterRead[] = [];
  const readOwner: number[] = [];
  decoders.forEach((d, i) => {
    for (const r of d.reads) {
      reads.push(r);
      readOwner.push(i);
    }
  });
  const requests = planRequests(reads, {
    maxRegisters: profile.defaults.max_registers,
    maxBits: profile.defaults.max_bits,
    maxGap: defaultMaxGap(profile, device.maxGap),
    holes: profile.holes ?? [],
    file: profile.file,
  });
  const perPoint = decoders.map(() => new Set<number>());
  requests.forEach((req, ri) => {
    for (const readIdx of req.reads) perPoint[readOwner[readIdx]!]!.add(ri);
  });
  // Most points share their request list with their neighbours: one array per distinct list.
  const lists = new Map<string, readonly number[]>();
  const listOf = (set: Set<number>): readonly number[] => {
    const list = [...set];
    const key = list.join(",");
    const known = lists.get(key);
    if (known !== undefined) return known;
    lists.set(key, list);
    return list;
  };
  return {
    requests,
    points: decoders.map((decoder, i) => ({ key: pointKey(device.id, points[i]!.pointId), decoder, requests: listOf(perPoint[i]!) })),
  };
}
