// Register maps the interop tests serve from pymodbus, encoded by hand from the profiles' documented
// encodings (not by firebreak's simulators), with the values firebreak must decode from them.
import type { Layout } from "../../src/config/types.js";
import { writeSunspecImage } from "../../src/drivers/modbus/sunspec-image.js";

export const LAYOUT: Layout = { strings: 1, modulesPerString: 2, cellsPerModule: 4 };
export const SUNSPEC_BASE = 40000;

const lwf = (v: number): [number, number] => [(v >>> 0) & 0xffff, (v >>> 0) >>> 16];
const w16 = (v: number): number => v & 0xffff;

/** li-ion-rack-bms input registers, encoded by hand from the profile's comments (datasheet table 4). */
export const RACK_INPUT = [
  ...lwf(812_345), ...lwf(-12_500), 955, 971, 3712, 3301, 314, w16(-55), 0x0102, 0b10, 4, 1234, 0, 0,
  0x1ffb, 0x807f, 0x1819, 0x1a1b, ...lwf(70_000),
];
export const RACK_WANT: Record<string, number | "sentinel"> = {
  voltV: 812.345, currentA: -12.5, soc: 95.5, soh: 97.1, cellVMax: 3.712, cellVMin: 3.301, cellTempMaxC: 31.4, cellTempMinC: -5.5,
  alarms: 0x0102, overTempWarn: 0, overTempAlarm: 1, underVoltAlarm: 0, tempImbalanceAlarm: 0, bmsFault: 1, contactorOpen: 0, fanFault: 1,
  state: 4, heartbeat: 1234, mod1TempC: 31, mod2TempC: -5, mod3TempC: "sentinel", mod4TempC: 127, mod5TempC: 24, mod6TempC: 25, mod7TempC: 26, mod8TempC: 27,
  cycles: 70_000, alarmReset: 0,
};

/** li-ion-cabinet: a SunSpec chain laid out for LAYOUT, with values at the offsets of docs/sources.md#sunspec. */
export function cabinetHolding(): { words: number[]; want: Record<string, number> } {
  const regs = new Uint16Array(65536);
  const map = writeSunspecImage(regs, SUNSPEC_BASE, LAYOUT);
  const at = map.at802.bind(map);
  regs[at(11)] = 955; regs[at(56)] = w16(-1); // SoC, SoC_SF
  regs[at(13)] = 97; // SoH, SoH_SF (58) 0
  regs[at(16)] = 4; // ChaSt charging
  regs[at(18)] = 77; // Hb
  regs[at(22)] = 3; // State connected
  regs[at(26)] = 0x0004; regs[at(27)] = 0x0002; // Evt1: bits 18 and 1
  regs[at(34)] = 5321; regs[at(59)] = w16(-1); // V, V_SF
  regs[map.at804(1, 27)] = 1; // ConSt bitfield32 low word: contactor 0 closed
  regs[map.at804(1, 42)] = w16(-1);
  const want: Record<string, number> = { soc: 95.5, soh: 97, chargeState: 4, heartbeat: 77, state: 3, evt1: 0x40002, overTempAlarm: 1, overTempWarn: 0, tempImbalanceAlarm: 1, voltV: 532.1, "s1/contactorState": 1, "s1/contactor0Closed": 1 };
  for (let m = 1; m <= 2; m++) {
    regs[map.at805(1, m, 42)] = w16(-3);
    regs[map.at805(1, m, 43)] = w16(-1);
    for (let c = 1; c <= 4; c++) {
      regs[map.at805(1, m, 0, c)] = 3300 + 10 * m + c;
      regs[map.at805(1, m, 1, c)] = w16(250 + 10 * m + c - (c === 4 ? 400 : 0));
      want[`s1/m${m}/c${c}/voltV`] = (3300 + 10 * m + c) / 1000;
      want[`s1/m${m}/c${c}/tempC`] = (250 + 10 * m + c - (c === 4 ? 400 : 0)) / 10;
    }
  }
  return { words: Array.from(regs.subarray(SUNSPEC_BASE, map.end + 2)), want };
}

