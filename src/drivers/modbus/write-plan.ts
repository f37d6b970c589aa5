// Where and how a protective action's value goes on the wire: the point's table and address (from
// the profile, or from SunSpec discovery), the function code (5 for a coil, 6 for one register, 16
// for a 32-bit value in the profile's word order) and the raw words. Pure. The config loader has
// already refused unwritable targets (src/config/actions.ts); this checks again, because a write
// that reaches a device is the one thing firebreak must never get wrong.
import type { Device } from "../../config/types.js";
import { ActionWriteError } from "../../errors.js";
import type { SunspecAddress } from "./sunspec.js";
import type { WriteCommand } from "./write-frame.js";

export function planWrite(device: Device, pointId: string, value: number, sunspec?: ReadonlyMap<string, SunspecAddress>): WriteCommand {
  const fail = (detail: string): never => {
    throw new ActionWriteError(device.id, pointId, detail);
  };
  if (device.profile.role === "suppression_panel") fail(`profile ${device.profile.id} is a suppression-release panel: firebreak never writes to it`);
  const p = device.points.find((x) => x.pointId === pointId);
  if (p === undefined) return fail("no such point");
  if (p.source === "layout" || !p.def.writable) return fail(`not a writable point of profile ${device.profile.id}`);
  if (!Number.isInteger(value)) return fail(`value ${value} is not an integer`);
  let table: string;
  let address: number;
  if (p.source === "plain") {
    table = p.def.table;
    address = p.def.address;
  } else {
    table = device.profile.sunspec?.table ?? "holding";
    const at = sunspec?.get(pointId);
    if (at === undefined) return fail("its SunSpec address is not known yet (the device has not been discovered since the connect)");
    address = at.address;
  }
  if (table === "coil") return value === 0 || value === 1 ? { fc: 5, address, values: [value] } : fail(`a coil is 0 or 1, not ${value}`);
  if (table !== "holding") return fail(`the ${table} table cannot be written`);
  const type = p.def.type;
  if (type === "u16" || type === "bitfield16") return value >= 0 && value <= 0xffff ? { fc: 6, address, values: [value] } : fail(`${value} does not fit ${type}`);
  if (type === "i16") return value >= -0x8000 && value <= 0x7fff ? { fc: 6, address, values: [value & 0xffff] } : fail(`${value} does not fit i16`);
  if (type === "u32" || type === "bitfield32" || type === "i32") {
    const [lo, hi] = type === "i32" ? [-0x80000000, 0x7fffffff] : [0, 0xffffffff];
    if (value < lo || value > hi) return fail(`${value} does not fit ${type}`);
    const raw = value >>> 0;
    const words = [(raw >>> 16) & 0xffff, raw & 0xffff];
    const order = p.def.word_order ?? device.profile.defaults.word_order;
    return { fc: 16, address, values: order === "big" ? words : [words[1]!, words[0]!] };
  }
  return fail(`type ${type} is not written by actions`);
}
