// The four Modbus tables of one simulated unit, and which addresses the device defines and which it
// lets a client write. A bank nobody declared a map for answers every address and takes every
// write (tests and the bench poke registers freely); once `define` is called it answers like a
// device: addresses outside its map are exception 02, writes outside its writable registers are
// refused (simulators/modbus-server.ts decides the exception codes).
import type { ModbusTable } from "../src/config/profile-schema.js";

/** Half-open address ranges [start, end), kept sorted and merged. */
class Ranges {
  readonly #spans: [number, number][] = [];

  add(start: number, count: number): void {
    const spans = this.#spans;
    spans.push([start, start + count]);
    spans.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const s of spans) {
      const last = merged[merged.length - 1];
      if (last !== undefined && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
      else merged.push([s[0], s[1]]);
    }
    spans.splice(0, spans.length, ...merged);
  }

  /** Every address of [start, start+count) is inside one span (spans are merged, so one suffices). */
  covers(start: number, count: number): boolean {
    for (const [a, b] of this.#spans) if (start >= a && start + count <= b) return true;
    return false;
  }

  get empty(): boolean {
    return this.#spans.length === 0;
  }

  list(): readonly (readonly [number, number])[] {
    return this.#spans;
  }
}

export class RegisterBank {
  readonly holding = new Uint16Array(65536);
  readonly input = new Uint16Array(65536);
  readonly coils = new Uint8Array(65536);
  readonly discrete = new Uint8Array(65536);
  /** undefined: an open bank (every address readable and writable). */
  #defined: Map<ModbusTable, Ranges> | undefined;
  readonly #writable = new Map<ModbusTable, Ranges>();

  /** Declare `count` addresses of `table` from `start` part of the device's map. Makes the bank strict. */
  define(table: ModbusTable, start: number, count: number): void {
    this.#defined ??= new Map();
    const r = this.#defined.get(table) ?? new Ranges();
    r.add(start, count);
    this.#defined.set(table, r);
  }

  /**
   * Let clients write these addresses (holding registers: FC 6/16; coils: FC 5/15), as a profile's
   * `writable: true` points do. They are part of the map as well.
   */
  allowWrite(table: "holding" | "coil", start: number, count: number): void {
    this.define(table, start, count);
    const r = this.#writable.get(table) ?? new Ranges();
    r.add(start, count);
    this.#writable.set(table, r);
  }

  /** False for an open bank: it has no map to be strict about. */
  get strict(): boolean {
    return this.#defined !== undefined;
  }

  /** The device answers reads of every address of [start, start+count) in `table`. */
  readable(table: ModbusTable, start: number, count: number): boolean {
    if (start + count > 65536) return false;
    return this.#defined === undefined || (this.#defined.get(table)?.covers(start, count) ?? false);
  }

  /** The device implements writes to `table` at all (a strict bank with no writable address there does not). */
  writesSupported(table: "holding" | "coil"): boolean {
    return this.#defined === undefined || !(this.#writable.get(table)?.empty ?? true);
  }

  /** Every address of [start, start+count) may be written. */
  writable(table: "holding" | "coil", start: number, count: number): boolean {
    if (start + count > 65536) return false;
    return this.#defined === undefined || (this.#writable.get(table)?.covers(start, count) ?? false);
  }

  /** The defined spans of a table, for tools that compare what a simulator claims to serve. */
  definedSpans(table: ModbusTable): readonly (readonly [number, number])[] {
    return this.#defined?.get(table)?.list() ?? [];
  }
}
