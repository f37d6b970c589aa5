// A Li-ion rack BMS as config/profiles/li-ion-rack-bms.yaml reads it: a vendor-style plain map of
// input registers (32-bit values low word first, values to divide by 10 or 1000, alarm words, two
// signed 8-bit module temperatures per register) over one string of 8 modules of the thermal model.
import type { Device } from "../../src/config/types.js";
import type { RegisterBank } from "../modbus-server.js";
import type { ThermalModel } from "../thermal-model.js";
import { declarePlain, i16, locatePlain, u16, type DeviceEncoder } from "./encoder.js";

/** The rack the profile describes: one string, 8 modules (mod1TempC … mod8TempC), 8 cells each [unverified: an illustrative rack]. */
export const RACK_LAYOUT = { strings: 1, modulesPerString: 8, cellsPerModule: 8 } as const;
export const RACK_PROFILE_ID = "li-ion-rack-bms";

// BMS alarm levels [unverified: typical BMS settings, not from a datasheet], as the SunSpec cabinet's.
const OVER_TEMP_WARN_C = 50;
const OVER_TEMP_ALARM_C = 60;
const TEMP_IMBALANCE_ALARM_C = 15;
const UNDER_VOLT_ALARM_V = 2.5;
const SOC_PCT = 95; // a UPS battery on float [unverified]
const SOH_PCT = 98;
const STATE_FLOAT = 4;

/** Low word first, as the profile's `word_order: little` reads it. */
function put32lwf(r: Uint16Array, at: number, v: number): void {
  const u = v >>> 0;
  r[at] = u & 0xffff;
  r[at + 1] = (u >>> 16) & 0xffff;
}

/** A signed 8-bit byte, clamped (a sensor past +127 °C saturates: the byte cannot say more). */
function s8(v: number): number {
  return Math.min(127, Math.max(-127, Math.round(v))) & 0xff;
}

export function vendorRack(device: Device, model: ThermalModel, startMs: number): DeviceEncoder {
  const cells = model.cells(device.id);
  const { modulesPerString: mods, cellsPerModule: cpm } = RACK_LAYOUT;
  return {
    encode(bank: RegisterBank, nowMs: number): void {
      const r = bank.input;
      const t = cells.map((c) => c.surfaceC);
      const v = cells.map((c) => c.voltageV);
      const tMax = Math.max(...t);
      const tMin = Math.min(...t);
      const vMin = Math.min(...v);
      put32lwf(r, 0, Math.round(v.reduce((a, x) => a + x, 0) * 1000)); // mV
      put32lwf(r, 2, 0); // mA: on float, no current
      r[4] = u16(SOC_PCT * 10);
      r[5] = u16(SOH_PCT * 10);
      r[6] = u16(Math.max(...v) * 1000);
      r[7] = u16(vMin * 1000);
      r[8] = i16(tMax * 10);
      r[9] = i16(tMin * 10);
      let alarms = 0;
      if (tMax > OVER_TEMP_WARN_C) alarms |= 1 << 0;
      if (tMax > OVER_TEMP_ALARM_C) alarms |= 1 << 1;
      if (vMin < UNDER_VOLT_ALARM_V) alarms |= 1 << 2;
      if (tMax - tMin > TEMP_IMBALANCE_ALARM_C) alarms |= 1 << 3;
      r[10] = alarms;
      r[11] = 0; // contactor closed, fans fine
      r[12] = STATE_FLOAT;
      r[13] = Math.floor((nowMs - startMs) / 1000) & 0xffff;
      for (let m = 0; m < mods; m += 2) {
        const hot = (k: number): number => Math.max(...t.slice(k * cpm, (k + 1) * cpm));
        r[16 + m / 2] = (s8(hot(m)) << 8) | s8(hot(m + 1));
      }
      put32lwf(r, 20, 412);
      bank.holding[0] = 0; // alarmReset reads 0
    },
    locate: (pointId) => locatePlain(device, pointId),
    declareMap: (bank) => declarePlain(device, bank),
  };
}
