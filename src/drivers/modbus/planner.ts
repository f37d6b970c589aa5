// Modbus request planning (README.md#device-profiles): coalesces the register reads of one device into as few
// requests per function code as the protocol allows. Pure: no I/O, no time.
import { ConfigError } from "../../errors.js";
import type { ModbusTable } from "../../config/profile-schema.js";

/** One span a point needs: `count` registers (holding/input) or bits (coil/discrete) from `address`. */
export interface RegisterRead {
  readonly table: ModbusTable;
  readonly address: number;
  readonly count: number;
  /** Names the read in error messages, e.g. `points[3] (tempC)`. */
  readonly label?: string;
}

/** One Modbus request: `count` units from `start`, covering the reads with these indices. */
export interface PlannedRequest {
  readonly table: ModbusTable;
  readonly start: number;
  readonly count: number;
  readonly reads: readonly number[];
}

/** `count` units from `address` of `table` that the device does not define (exception 02 when read). */
export interface Hole {
  readonly table: ModbusTable;
  readonly address: number;
  readonly count: number;
}

export interface PlanLimits {
  /** Registers per FC3/FC4 request; 125 is the protocol maximum (Modbus Application Protocol v1.1b3, 6.3/6.4). */
  readonly maxRegisters: number;
  /** Bits per FC1/FC2 request; 2000 is the protocol maximum (same, 6.1/6.2). */
  readonly maxBits: number;
  /** Largest run of unused units read through to save a request (same unit as the table). */
  readonly maxGap: number;
  /** Ranges the device does not answer: never read through, and no read may touch one. */
  readonly holes?: readonly Hole[];
  /** The profile file, for error messages. */
  readonly file?: string;
}

const PROTOCOL_MAX_REGISTERS = 125;
const PROTOCOL_MAX_BITS = 2000;
const ADDRESS_SPACE = 65536;
/** Tables in the order requests are issued: registers first, the bulk of a battery map. */
const TABLE_ORDER: readonly ModbusTable[] = ["holding", "input", "coil", "discrete"];

export function isBitTable(table: ModbusTable): boolean {
  return table === "coil" || table === "discrete";
}

export function requestLimit(table: ModbusTable, limits: PlanLimits): number {
  return isBitTable(table)
    ? Math.min(limits.maxBits, PROTOCOL_MAX_BITS)
    : Math.min(limits.maxRegisters, PROTOCOL_MAX_REGISTERS);
}

/**
 * Plans requests for `reads`. Every read lands whole in exactly one request; no request exceeds
 * its table's limit; reads of one table are merged when the gap between them is at most
 * `maxGap` and no declared hole lies between them (the gap is read and ignored, so it must be
 * readable). A read that cannot fit one request, runs past address 65535 or touches a hole is a
 * ConfigError.
 */
export function planRequests(reads: readonly RegisterRead[], limits: PlanLimits): PlannedRequest[] {
  checkReads(reads, limits);
  const out: PlannedRequest[] = [];
  for (const table of TABLE_ORDER) {
    const idx = reads.flatMap((r, i) => (r.table === table ? [i] : []));
    if (idx.length === 0) continue;
    // Sort by start, then longest first so a containing read opens a request before the reads it holds.
    idx.sort((a, b) => reads[a]!.address - reads[b]!.address || reads[b]!.count - reads[a]!.count);
    const limit = requestLimit(table, limits);
    const holes = (limits.holes ?? []).filter((h) => h.table === table);
    let start = -1;
    let end = -1; // exclusive
    let members: number[] = [];
    for (const i of idx) {
      const r = reads[i]!;
      const rEnd = r.address + r.count;
      const newEnd = Math.max(end, rEnd);
      if (members.length > 0 && r.address - end <= limits.maxGap && newEnd - start <= limit && !overlapsHole(holes, end, r.address)) {
        end = newEnd;
        members.push(i);
        continue;
      }
      if (members.length > 0) out.push({ table, start, count: end - start, reads: members });
      start = r.address;
      end = rEnd;
      members = [i];
    }
    out.push({ table, start, count: end - start, reads: members });
  }
  return out;
}

/** Some hole has an address in [from, to). */
function overlapsHole(holes: readonly Hole[], from: number, to: number): boolean {
  for (const h of holes) if (h.address < to && h.address + h.count > from) return true;
  return false;
}

function checkReads(reads: readonly RegisterRead[], limits: PlanLimits): void {
  const issues = reads.flatMap((r, i) => {
    const where = r.label ?? `reads[${i}]`;
    const limit = requestLimit(r.table, limits);
    const unit = isBitTable(r.table) ? "bits" : "registers";
    const problem =
      !Number.isInteger(r.address) || !Number.isInteger(r.count) || r.address < 0 || r.count < 1
        ? `address ${r.address} count ${r.count} is not a valid ${r.table} read`
        : r.count > limit
          ? `reads ${r.count} ${unit}, more than one request may carry (${limit}); split the point or raise the profile's limit`
          : r.address + r.count > ADDRESS_SPACE
            ? `${r.table} ${r.address}+${r.count} runs past address 65535`
            : overlapsHole(
                  (limits.holes ?? []).filter((h) => h.table === r.table),
                  r.address,
                  r.address + r.count,
                )
              ? `${r.table} ${r.address}+${r.count} reads inside a hole the profile declares (holes:): the device does not answer there`
              : undefined;
    return problem === undefined ? [] : [{ file: limits.file ?? "(profile)", line: 0, column: 0, path: where, message: problem }];
  });
  if (issues.length > 0) throw new ConfigError(issues);
}
