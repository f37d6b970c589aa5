// Register contents of the bench's devices: a SunSpec Li-ion cabinet laid out the way the shipped
// li-ion-cabinet profile reads it (writeSunspecImage), with plausible values and scale factors, and
// an off-gas detector reading clean air. Lists the registers that wander (cell voltage, temperature).
import { writeSunspecImage } from "../src/drivers/modbus/sunspec-image.js";
import type { Layout } from "./site-gen.js";
import type { Unit } from "./sim-server.js";

export const SUNSPEC_BASE = 40000; // li-ion-cabinet profile base_address

const sf = (n: number): number => n & 0xffff; // a sunssf as its u16 register word

/** Offsets from config/profiles/li-ion-cabinet.yaml (model 805 group: 0 voltV, 1 tempC; sf at 42, 43). */
const CELL_V_OFFSET = 0;
const CELL_T_OFFSET = 1;

/** Raw register values: CellV_SF -3 (mV), Tmp_SF -1 (0.1 °C). */
export const CELL_MV = 3300;
export const tempRaw = (c: number): number => Math.round(c * 10) & 0xffff;

export interface Wander {
  /** Addresses whose value drifts by a few LSB around `nominal`. */
  readonly addresses: Uint32Array;
  readonly nominal: Uint16Array;
}

/** Address of a cell's temperature register (s, m, c 1-based). */
export function cellTempAddress(layout: Layout, s: number, m: number, c: number): number {
  return cabinetMap(layout).at805(s, m, CELL_T_OFFSET, c);
}

const maps = new Map<string, ReturnType<typeof writeSunspecImage>>();
function cabinetMap(layout: Layout): ReturnType<typeof writeSunspecImage> {
  const k = `${layout.strings}x${layout.modulesPerString}x${layout.cellsPerModule}`;
  let m = maps.get(k);
  if (m === undefined) {
    m = writeSunspecImage(new Uint16Array(65536), SUNSPEC_BASE, layout);
    maps.set(k, m);
  }
  return m;
}

export function fillCabinet(unit: Unit, layout: Layout): Wander {
  const h = unit.holding;
  const map = writeSunspecImage(h, SUNSPEC_BASE, layout);
  const p = map.at802.bind(map);
  h[p(11)] = 950; // SoC 95.0 %
  h[p(56)] = sf(-1);
  h[p(18)] = 1; // heartbeat
  h[p(22)] = 3; // connected
  h[p(34)] = 5000; // 500.0 V
  h[p(59)] = sf(-1);
  h[p(37)] = 3310;
  h[p(40)] = 3290;
  h[p(60)] = sf(-3);
  h[p(44)] = 0;
  h[p(61)] = sf(-1);
  const addresses: number[] = [];
  const nominal: number[] = [];
  for (let s = 1; s <= layout.strings; s++) {
    h[map.at804(s, 13)] = 0;
    h[map.at804(s, 41)] = sf(-1);
    h[map.at804(s, 14)] = 4000;
    h[map.at804(s, 42)] = sf(-1);
    h[map.at804(s, 20)] = 260;
    h[map.at804(s, 44)] = sf(-1);
    h[map.at804(s, 26)] = 1;
    for (let m = 1; m <= layout.modulesPerString; m++) {
      h[map.at805(s, m, 10)] = 5280; // 52.80 V
      h[map.at805(s, m, 41)] = sf(-2);
      h[map.at805(s, m, 42)] = sf(-3);
      h[map.at805(s, m, 43)] = sf(-1);
      for (let c = 1; c <= layout.cellsPerModule; c++) {
        const v = map.at805(s, m, CELL_V_OFFSET, c);
        const t = map.at805(s, m, CELL_T_OFFSET, c);
        h[v] = CELL_MV;
        h[t] = tempRaw(24 + ((s * 7 + m * 3 + c) % 3));
        addresses.push(v, t);
        nominal.push(h[v]!, h[t]!);
      }
    }
  }
  return { addresses: Uint32Array.from(addresses), nominal: Uint16Array.from(nominal) };
}

/** Off-gas detector: 0.0 ppm, 0.0 % LFL, status 0 (offgas-detector profile, input registers 0..2). */
export function fillDetector(unit: Unit): void {
  unit.input[0] = 0;
  unit.input[1] = 0;
  unit.input[2] = 0;
}
