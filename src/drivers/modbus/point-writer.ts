// Writes one Modbus device's values into the point store for its poller: a poll's answers decoded
// straight into the store (by handle, no list of values in between), or one value for every point
// when the device fails. A failing write (or store listener) never stops the others.
import type { PointValue } from "../../points/point.js";
import { good, pointKey, type PointKey } from "../../points/point.js";
import type { PointHandle, PointStore } from "../../points/store.js";
import type { CompiledPoint, RegisterImage } from "./decode.js";
import type { DevicePlan } from "./device-plan.js";

export interface WriteReport {
  readonly failedWrites: number;
  /** The first failure, for the log. */
  readonly first?: unknown;
}

const NONE: WriteReport = { failedWrites: 0 };

export class PointWriter {
  readonly #store: PointStore;
  readonly #allKeys: readonly PointKey[];
  #handlesPlan: DevicePlan | undefined;
  #handles: readonly (PointHandle | undefined)[] = [];
  #decoders: readonly CompiledPoint[] = [];
  #firstRequest = new Int32Array(0);

  constructor(store: PointStore, deviceId: string, pointIds: readonly string[]) {
    this.#store = store;
    this.#allKeys = pointIds.map((id) => pointKey(deviceId, id));
  }

  /** Decode a poll's answers into the store; points of requests in `failed` get that value instead. */
  writePoll(plan: DevicePlan, image: RegisterImage, failed: ReadonlyMap<number, PointValue>, readAt: readonly number[], startedAt: number): WriteReport {
    const store = this.#store;
    const handles = this.#handlesOf(plan);
    const firstRequest = this.#firstRequest;
    const decoders = this.#decoders;
    let failedWrites = 0;
    let first: unknown;
    for (let i = 0; i < decoders.length; i++) {
      const failure = failed.size === 0 ? undefined : plan.points[i]!.requests.map((r) => failed.get(r)).find((v) => v !== undefined);
      const ts = readAt[firstRequest[i]!] ?? startedAt;
      const v = failure ?? decoders[i]!.decodeNumber(image, ts);
      try {
        const h = handles[i];
        if (h === undefined) store.update(plan.points[i]!.key, typeof v === "number" ? good(v, ts) : v);
        else if (typeof v === "number") store.updateGoodHandle(h, v, ts);
        else store.updateHandle(h, v);
      } catch (e) {
        if (failedWrites++ === 0) first = e;
      }
    }
    return failedWrites === 0 ? NONE : { failedWrites, first };
  }

  /** Every point of the device gets `v`. */
  writeAll(v: PointValue): WriteReport {
    return this.write(this.#allKeys.map((k) => [k, v] as const));
  }

  write(values: readonly (readonly [PointKey, PointValue])[]): WriteReport {
    let failedWrites = 0;
    let first: unknown;
    for (const [key, v] of values) {
      try {
        this.#store.update(key, v);
      } catch (e) {
        if (failedWrites++ === 0) first = e;
      }
    }
    return failedWrites === 0 ? NONE : { failedWrites, first };
  }

  /** The store handles of a plan's points, resolved once per plan (no lookup by key per write). */
  #handlesOf(plan: DevicePlan): readonly (PointHandle | undefined)[] {
    if (this.#handlesPlan !== plan) {
      this.#handlesPlan = plan;
      this.#handles = plan.points.map((p) => this.#store.handle(p.key));
      // Flat per-point tables: the hot loop touches no plan object per point (memory, not arithmetic,
      // is what a poll of 2,800 points spends its time on).
      this.#decoders = plan.points.map((p) => p.decoder);
      this.#firstRequest = Int32Array.from(plan.points, (p) => p.requests[0] ?? 0);
    }
    return this.#handles;
  }
}
