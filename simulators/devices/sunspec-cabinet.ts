// A Li-ion UPS battery cabinet BMS as config/profiles/li-ion-cabinet.yaml reads it: the SunSpec
// chain at base 40000 (docs/sources.md#sunspec-map): "SunS", the common model 1 (every SunSpec
// device starts with it), 802 battery, one 804 per string, one 805 per module, end.
import type { Device, DevicePoint } from "../../src/config/types.js";
import type { RegisterBank } from "../modbus-server.js";
import type { SensorNoise } from "../sensor-noise.js";
import type { ThermalModel } from "../thermal-model.js";
import { i16, measured, sentinelWords, u16, type DeviceEncoder, type PointLocation } from "./encoder.js";

// Scale factors this BMS publishes (value = raw × 10^SF, docs/sources.md#sunspec-scale-factor).
const SOC_SF = -1;
const V_SF = -1; // 802 and 804: pack and string volts, 0.1 V
const MOD_V_SF = -2; // 805: module volts, 0.01 V
const CELLV_SF = -3;
const TMP_SF = -1;
const A_SF = -1;

// BMS alarm levels for the Evt1 bits [unverified: typical BMS settings, not from a datasheet].
const OVER_TEMP_WARN_C = 50;
const OVER_TEMP_ALARM_C = 60;
const TEMP_IMBALANCE_WARN_C = 8;
const TEMP_IMBALANCE_ALARM_C = 15;
const UNDER_VOLT_ALARM_V = 2.5;

/** Evt1 bits (docs/sources.md#sunspec-evt1). */
const EVT = { overTempAlarm: 1, overTempWarn: 2, underVoltAlarm: 11, tempImbalanceAlarm: 18, tempImbalanceWarn: 19 } as const;

const SOC_PCT = 95; // a UPS battery on float [unverified]
/** A string's float current while its contactor is closed, A [unverified: a small trickle keeps a float-charged string topped up]. */
const FLOAT_A = 0.4;
/** SunSpec 802 SetOp and 804 SetCon values (docs/sources.md#sunspec-offsets): 1 connect, 2 disconnect. */
const CONNECT = 1;
const DISCONNECT = 2;
/** Offsets in 804 a client may write: SetCon 37 (the string's contactor). */
const SET_CON = 37;
const SET_OP = 50;
const CAPACITY_AH = 68; // thermal-params cellParams.capacityAh (docs/sources.md#ups-racks)

interface Layout {
  readonly strings: number;
  readonly modulesPerString: number;
  readonly cellsPerModule: number;
}

/** Common model 1: ID, L = 66 (Mn 16, Md 16, Opt 8, Vr 8, SN 16, DA 1, Pad 1). */
const COMMON_LENGTH = 66;

/**
 * Offsets in 802 a client may write (SunSpec marks AlmRst 20, SetOp 50, SetInvState 51 as W): SetOp,
 * acted on in onWrite (2 opens every string's contactor, 1 closes them). With 804 SetCon these are the
 * only writable registers: every other write is refused with exception 02, as a device does.
 */
const WRITABLE_802_OFFSETS: readonly number[] = [SET_OP];

/** Start addresses of every model instance in the chain. */
interface ChainMap {
  readonly m1: number;
  readonly m802: number;
  readonly m804: readonly number[];
  /** Per string, per module. */
  readonly m805: readonly (readonly number[])[];
  readonly end: number;
}

export function chainMap(base: number, l: Layout): ChainMap {
  let at = base + 2; // after "SunS"
  const m1 = at;
  at += 2 + COMMON_LENGTH;
  const m802 = at;
  at += 64;
  const m804: number[] = [];
  for (let s = 0; s < l.strings; s++) {
    m804.push(at);
    at += 48 + 16 * l.modulesPerString;
  }
  const m805: number[][] = [];
  for (let s = 0; s < l.strings; s++) {
    const row: number[] = [];
    for (let m = 0; m < l.modulesPerString; m++) {
      row.push(at);
      at += 44 + 4 * l.cellsPerModule;
    }
    m805.push(row);
  }
  if (at + 2 > 65536) throw new RangeError(`the SunSpec map of this layout ends past register 65535 (at ${at})`);
  return { m1, m802, m804, m805, end: at };
}

/** Max, min (with 1-based index) and average of a list. */
function stats(values: readonly number[]): { max: number; maxIdx: number; min: number; minIdx: number; avg: number } {
  let max = -Infinity, min = Infinity, maxIdx = 0, minIdx = 0, sum = 0;
  values.forEach((v, i) => {
    if (v > max) [max, maxIdx] = [v, i + 1];
    if (v < min) [min, minIdx] = [v, i + 1];
    sum += v;
  });
  return { max, maxIdx, min, minIdx, avg: sum / Math.max(1, values.length) };
}

function evt1(temps: readonly number[], volts: readonly number[]): number {
  const t = stats(temps);
  const v = stats(volts);
  let bits = 0;
  if (t.max > OVER_TEMP_ALARM_C) bits |= 1 << EVT.overTempAlarm;
  if (t.max > OVER_TEMP_WARN_C) bits |= 1 << EVT.overTempWarn;
  if (t.max - t.min > TEMP_IMBALANCE_ALARM_C) bits |= 1 << EVT.tempImbalanceAlarm;
  if (t.max - t.min > TEMP_IMBALANCE_WARN_C) bits |= 1 << EVT.tempImbalanceWarn;
  if (v.min < UNDER_VOLT_ALARM_V) bits |= 1 << EVT.underVoltAlarm;
  return bits >>> 0;
}

/** A SunSpec string: two ASCII characters per register, NUL-padded. */
function putString(h: Uint16Array, at: number, registers: number, text: string): void {
  for (let i = 0; i < registers; i++) h[at + i] = ((text.charCodeAt(2 * i) || 0) << 8) | (text.charCodeAt(2 * i + 1) || 0);
}

function put32(h: Uint16Array, at: number, v: number): void {
  h[at] = (v >>> 16) & 0xffff;
  h[at + 1] = v & 0xffff;
}

/** A cell's readings as the BMS measured them: temperature °C and voltage V, with their noise. */
interface CellReading {
  readonly tempC: number;
  readonly voltageV: number;
}

export function sunspecCabinet(device: Device, model: ThermalModel, startMs: number, noise: SensorNoise): DeviceEncoder {
  const layout = device.layout;
  const base = device.profile.sunspec?.baseAddress ?? 40000;
  if (layout === undefined) throw new RangeError(`device ${device.id}: a SunSpec cabinet needs a layout`);
  const map = chainMap(base, layout);
  const cells = model.cells(device.id);
  const cpm = layout.cellsPerModule;
  const mps = layout.modulesPerString;
  // One noise source per cell sensor, named like its points (s1/m3/c7/tempC).
  const names = cells.map((_, i) => `${device.id}/s${Math.floor(i / (mps * cpm)) + 1}/m${(Math.floor(i / cpm) % mps) + 1}/c${(i % cpm) + 1}`);
  const tempNoise = names.map((n) => noise.channel(`${n}/tempC`));
  const voltNoise = names.map((n) => noise.channel(`${n}/voltV`));
  // The contactors (README "Protective actions"): closed at start; opened by SetCon = 2 or SetOp = 2.
  const open = new Array<boolean>(layout.strings).fill(false);
  const setCon = new Array<number>(layout.strings).fill(0);
  let setOp = 0;
  let ignoring = false;

  function encode(bank: RegisterBank, nowMs: number): void {
    const h = bank.holding;
    h[base] = 0x5375; // "Su"
    h[base + 1] = 0x6e53; // "nS"
    h[map.m1] = 1;
    h[map.m1 + 1] = COMMON_LENGTH;
    putString(h, map.m1 + 2, 16, "firebreak"); // Mn
    putString(h, map.m1 + 18, 16, "simulated Li-ion cabinet"); // Md
    putString(h, map.m1 + 42, 8, "sim-1"); // Vr
    putString(h, map.m1 + 50, 16, device.id); // SN
    h[map.m1 + 66] = device.modbus.unitId; // DA: the device's Modbus address
    // Every figure below comes from the measured readings (0.1 °C and 1 mV counts, Tmp_SF and CellV_SF).
    const readings: CellReading[] = cells.map((c, i) => ({ tempC: measured(c.surfaceC, 10, tempNoise[i]!, nowMs), voltageV: measured(c.voltageV, 1000, voltNoise[i]!, nowMs) }));
    const cellAt = (s: number, m: number, c: number): CellReading => readings[(s * mps + m) * cpm + c]!;
    const allT = readings.map((c) => c.tempC);
    const allV = readings.map((c) => c.voltageV);
    const stringV: number[] = [];

    // 805, one per module: per-cell voltage and temperature.
    for (let s = 0; s < layout!.strings; s++) {
      let sv = 0;
      for (let m = 0; m < mps; m++) {
        const at = map.m805[s]![m]!;
        const mc = Array.from({ length: cpm }, (_, c) => cellAt(s, m, c));
        const t = stats(mc.map((c) => c.tempC));
        const v = stats(mc.map((c) => c.voltageV));
        const modV = mc.reduce((a, c) => a + c.voltageV, 0);
        sv += modV;
        h.fill(0, at, at + 44 + 4 * cpm);
        h[at] = 805;
        h[at + 1] = 42 + 4 * cpm;
        h[at + 2] = s + 1; // StrIdx
        h[at + 3] = m + 1; // ModIdx
        h[at + 4] = cpm; // NCell
        h[at + 5] = u16(SOC_PCT * 10);
        h[at + 10] = u16(modV * 100);
        [h[at + 11], h[at + 12], h[at + 13], h[at + 14], h[at + 15]] = [u16(v.max * 1000), v.maxIdx, u16(v.min * 1000), v.minIdx, u16(v.avg * 1000)];
        [h[at + 16], h[at + 17], h[at + 18], h[at + 19], h[at + 20]] = [i16(t.max * 10), t.maxIdx, i16(t.min * 10), t.minIdx, i16(t.avg * 10)];
        putString(h, at + 22, 16, `${device.id}-S${s + 1}M${m + 1}`);
        [h[at + 38], h[at + 39], h[at + 40]] = [i16(SOC_SF), 0, 0];
        [h[at + 41], h[at + 42], h[at + 43]] = [i16(MOD_V_SF), i16(CELLV_SF), i16(TMP_SF)];
        for (let c = 0; c < cpm; c++) {
          const g = at + 44 + 4 * c;
          h[g] = u16(mc[c]!.voltageV * 1000);
          h[g + 1] = i16(mc[c]!.tempC * 10);
          put32(h, g + 2, 0);
        }
      }
      stringV.push(sv);
    }

    // 804, one per string, with a 16-register group per module. Module temperature: its hottest cell.
    for (let s = 0; s < layout!.strings; s++) {
      const at = map.m804[s]!;
      const sc = readings.slice(s * mps * cpm, (s + 1) * mps * cpm);
      const modT = Array.from({ length: mps }, (_, m) => stats(sc.slice(m * cpm, (m + 1) * cpm).map((c) => c.tempC)));
      const v = stats(sc.map((c) => c.voltageV));
      const mt = stats(modT.map((x) => x.max));
      h.fill(0, at, at + 48 + 16 * mps);
      h[at] = 804;
      h[at + 1] = 46 + 16 * mps;
      h[at + 2] = s + 1; // Idx
      h[at + 3] = mps; // NMod
      put32(h, at + 4, open[s] ? 0b01 : 0b11); // St: bit 0 enabled, bit 1 contactor closed
      h[at + 8] = u16(SOC_PCT * 10);
      h[at + 13] = i16(open[s] ? 0 : FLOAT_A * 10); // A (A_SF -1): the float current, none once the contactor is open
      h[at + 14] = u16(stringV[s]! * 10);
      [h[at + 15], h[at + 16], h[at + 17], h[at + 18], h[at + 19]] = [u16(v.max * 1000), Math.ceil(v.maxIdx / cpm), u16(v.min * 1000), Math.ceil(v.minIdx / cpm), u16(v.avg * 1000)];
      [h[at + 20], h[at + 21], h[at + 22], h[at + 23], h[at + 24]] = [i16(mt.max * 10), mt.maxIdx, i16(mt.min * 10), mt.minIdx, i16(mt.avg * 10)];
      put32(h, at + 26, open[s] ? 0 : 0b1); // ConSt bitfield32: bit 0, the string's main contactor, closed
      h[at + SET_CON] = setCon[s]!; // SetCon reads back as last written
      put32(h, at + 28, evt1(sc.map((c) => c.tempC), sc.map((c) => c.voltageV)));
      [h[at + 38], h[at + 39], h[at + 40], h[at + 41], h[at + 42], h[at + 43], h[at + 44]] = [i16(SOC_SF), 0, 0, i16(A_SF), i16(V_SF), i16(CELLV_SF), i16(TMP_SF)];
      for (let m = 0; m < mps; m++) {
        const g = at + 48 + 16 * m;
        const mv = stats(sc.slice(m * cpm, (m + 1) * cpm).map((c) => c.voltageV));
        h[g] = cpm;
        h[g + 1] = u16(SOC_PCT * 10);
        [h[g + 3], h[g + 4], h[g + 5], h[g + 6], h[g + 7]] = [u16(mv.max * 1000), mv.maxIdx, u16(mv.min * 1000), mv.minIdx, u16(mv.avg * 1000)];
        [h[g + 8], h[g + 9], h[g + 10], h[g + 11], h[g + 12]] = [i16(modT[m]!.max * 10), modT[m]!.maxIdx, i16(modT[m]!.min * 10), modT[m]!.minIdx, i16(modT[m]!.avg * 10)];
      }
    }

    // 802 battery base: strings in parallel, so the pack voltage is the strings' mean.
    const at = map.m802;
    const v = stats(allV);
    const packV = stringV.reduce((a, x) => a + x, 0) / Math.max(1, stringV.length);
    h.fill(0, at, at + 64);
    h[at] = 802;
    h[at + 1] = 62;
    h[at + 2] = u16(CAPACITY_AH * layout!.strings);
    h[at + 3] = u16((CAPACITY_AH * layout!.strings * packV) / 1000); // kWh, WHRtg_SF below
    h[at + 11] = u16(SOC_PCT * 10);
    h[at + 13] = 100; // SoH %
    h[at + 16] = 6; // ChaSt: holding (float)
    h[at + 18] = Math.floor((nowMs - startMs) / 1000) & 0xffff; // Hb: +1 per second of clock time
    h[at + 21] = 4; // Typ: Li-ion
    h[at + 22] = open.every((o) => o) ? 1 : 3; // State: disconnected once every string is open, else connected
    put32(h, at + 26, evt1(allT, allV));
    h[at + 34] = u16(packV * 10);
    const strOf = (i: number): number => Math.ceil(i / (mps * cpm));
    const modOf = (i: number): number => Math.ceil((((i - 1) % (mps * cpm)) + 1) / cpm);
    [h[at + 37], h[at + 38], h[at + 39]] = [u16(v.max * 1000), strOf(v.maxIdx), modOf(v.maxIdx)];
    [h[at + 40], h[at + 41], h[at + 42]] = [u16(v.min * 1000), strOf(v.minIdx), modOf(v.minIdx)];
    h[at + 43] = u16(v.avg * 1000);
    h[at + 44] = i16(open.filter((o) => !o).length * FLOAT_A * 10); // A: the strings' float currents
    h[at + 47] = i16(0);
    h[at + SET_OP] = setOp;
    // 52–63 scale factors: AHRtg, WHRtg (kWh: 10^3), WChaDisChaMax, DisChaRte, SoC, DoD, SoH, V, CellV, A, AMax, W.
    h.set([0, 3, 0, 0, i16(SOC_SF), 0, 0, i16(V_SF), i16(CELLV_SF), i16(A_SF), 0, 0], at + 52);

    h[map.end] = 0xffff; // end model
    h[map.end + 1] = 0;
  }

  function locate(pointId: string): PointLocation | undefined {
    const p = device.points.find((x) => x.pointId === pointId);
    if (p === undefined || p.source !== "sunspec") return undefined;
    const address = sunspecAddress(p, map);
    return { table: "holding", address, count: p.def.type.endsWith("32") ? 2 : 1, sentinel: sentinelWords(p) };
  }

  function declareMap(bank: RegisterBank): void {
    bank.define("holding", base, map.end + 2 - base);
    for (const o of WRITABLE_802_OFFSETS) bank.allowWrite("holding", map.m802 + o, 1);
    for (const at of map.m804) bank.allowWrite("holding", at + SET_CON, 1);
  }

  /** SetOp / SetCon written: open or close contactors (the simulation re-encodes the registers at once). */
  function onWrite(bank: RegisterBank, table: "holding" | "coil", addr: number, count: number): string | undefined {
    if (table !== "holding" || count !== 1) return undefined;
    const value = bank.holding[addr]!;
    const act = value === DISCONNECT ? true : value === CONNECT ? false : undefined;
    const strings = addr === map.m802 + SET_OP ? open.map((_, s) => s) : map.m804.flatMap((at, s) => (addr === at + SET_CON ? [s] : []));
    if (strings.length === 0) return undefined;
    if (ignoring) return `ignored (the device is set to ignore writes): ${value} at ${addr}`;
    if (addr === map.m802 + SET_OP) setOp = value;
    else setCon[strings[0]!] = value;
    if (act === undefined) return `value ${value} at ${addr} is neither 1 (connect) nor 2 (disconnect): nothing done`;
    for (const s of strings) open[s] = act;
    return `${act ? "opened" : "closed"} the contactor of string${strings.length > 1 ? "s" : ""} ${strings.map((s) => s + 1).join(", ")}`;
  }

  return { encode, locate, declareMap, onWrite, ignoreWrites: (on) => void (ignoring = on) };
}

function sunspecAddress(p: Extract<DevicePoint, { source: "sunspec" }>, map: ChainMap): number {
  const { string = 1, module = 1, cell = 1 } = p.position;
  switch (p.def.model) {
    case 802:
      return map.m802 + p.def.offset;
    case 804:
      return map.m804[string - 1]! + (p.def.group ? 48 + 16 * (module - 1) : 0) + p.def.offset;
    case 805:
      return map.m805[string - 1]![module - 1]! + (p.def.group ? 44 + 4 * (cell - 1) : 0) + p.def.offset;
  }
}
