// Writes one Modbus device's values into the point store for its poller: a poll's answers decoded
// straight into the store (by handle, no list of values in between), or one value for every point
// when the device fails. A failing write (or store listener) never stops the others.
import type { PointValue } from "../../points/point.js";
import { pointKey, type PointKey } from "../../points/point.js";
import type { PointHandle, PointStore } from "../../points/store.js";
import type { RegisterImage } from "./decode.js";
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

  constructor(store: PointStore, deviceId: string, pointIds: readonly string[]) {
    this.#store = store;
    this.#allKeys = pointIds.map((id) => pointKey(deviceId, id));
  }

  /** Decode a poll's answers into the store; points of requests in `failed` get that value instead. */
  writePoll(plan: DevicePlan, image: RegisterImage, failed: ReadonlyMap<number, PointValue>, readAt: readonly number[], startedAt: number): WriteReport {
    const store = this.#store;
    const handles = this.#handlesOf(plan);
    let failedWrites = 0;
    let first: unknown;
    for (let i = 0; i < plan.points.length; i++) {
      const p = plan.points[i]!;
      const failure = failed.size === 0 ? undefined : p.requests.map((r) => failed.get(r)).find((v) => v !== undefined);
      const v = failure ?? p.decoder.decode(image, readAt[p.requests[0] ?? 0] ?? startedAt);
      try {
        const h = handles[i];
        if (h === undefined) store.update(p.key, v);
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
    }
    return this.#handles;
  }
}
