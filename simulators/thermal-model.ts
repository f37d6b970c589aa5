// The battery room's thermal model: cells as two nodes (core, surface), Arrhenius self-heating,
// neighbour conduction, venting into the zone's air, runaway by the UL criterion. Pure and stepped
// with an explicit dt; the simulation drives it from its clock and encodes the state into registers.
import { cellParams, DMC_G_PER_MOL, lflPct, R_GAS, reactions, zoneAirParams } from "./thermal-params.js";

export type CellParams = { -readonly [K in keyof typeof cellParams]: (typeof cellParams)[K] };

export interface CellRef {
  readonly device: string;
  /** 1-based string, module and cell, as in point ids `s1/m3/c7/...`. */
  readonly string: number;
  readonly module: number;
  readonly cell: number;
}

export interface CabinetSpec {
  readonly device: string;
  readonly zone: string;
  readonly strings: number;
  readonly modulesPerString: number;
  readonly cellsPerModule: number;
}

export interface ThermalSpec {
  readonly cabinets: readonly CabinetSpec[];
  /** Every zone with air (also zones without cabinets, e.g. for an off-gas detector). */
  readonly zones: readonly string[];
  readonly cell?: Partial<CellParams>;
}

export interface Cell {
  readonly ref: CellRef;
  readonly zone: string;
  coreC: number;
  /** What the BMS sensor reads. */
  surfaceC: number;
  /** Surface rate of rise over the last step, °C/min. */
  rateCPerMin: number;
  voltageV: number;
  heaterW: number;
  /** Remaining amount of each reaction's reactant, core then surface node. */
  readonly coreAmount: Float64Array;
  readonly surfaceAmount: Float64Array;
  electrolyteG: number;
  ventedAtS?: number;
  runawayAtS?: number;
  /** Seconds of runaway gas release still to come. */
  runawayReleaseLeftS: number;
}

export interface ZoneAir {
  readonly id: string;
  airC: number;
  humidityPct: number;
  molDmc: number;
  molH2: number;
  molCo: number;
  molCo2: number;
}

export type ThermalEvent =
  | { readonly kind: "vent"; readonly atS: number; readonly cell: CellRef; readonly zone: string; readonly coreC: number; readonly surfaceC: number; readonly voltageV: number }
  | { readonly kind: "runaway"; readonly atS: number; readonly cell: CellRef; readonly zone: string; readonly coreC: number; readonly surfaceC: number; readonly rateCPerMin: number; readonly voltageV: number };

/** Largest internal step, s: keeps the explicit conduction terms stable and rates smooth. */
const MAX_SUBSTEP_S = 0.25;

export class ThermalModel {
  readonly #p: CellParams;
  readonly #cabinets = new Map<string, { spec: CabinetSpec; cells: Cell[] }>();
  readonly #zones = new Map<string, ZoneAir>();
  #timeS = 0;

  constructor(spec: ThermalSpec) {
    this.#p = { ...cellParams, ...spec.cell };
    const zoneIds = new Set([...spec.zones, ...spec.cabinets.map((c) => c.zone)]);
    for (const id of zoneIds) {
      this.#zones.set(id, { id, airC: zoneAirParams.supplyC, humidityPct: zoneAirParams.humidityPct, molDmc: 0, molH2: 0, molCo: 0, molCo2: 0 });
    }
    for (const cab of spec.cabinets) {
      const cells: Cell[] = [];
      for (let s = 1; s <= cab.strings; s++)
        for (let m = 1; m <= cab.modulesPerString; m++)
          for (let c = 1; c <= cab.cellsPerModule; c++) cells.push(this.#newCell({ device: cab.device, string: s, module: m, cell: c }, cab.zone));
      this.#cabinets.set(cab.device, { spec: cab, cells });
    }
  }

  /** Model time, seconds since construction. */
  get timeS(): number {
    return this.#timeS;
  }

  get params(): Readonly<CellParams> {
    return this.#p;
  }

  /** The cell, or undefined when the device has no such cell. */
  cell(ref: CellRef): Cell | undefined {
    const cab = this.#cabinets.get(ref.device);
    if (cab === undefined) return undefined;
    const { strings, modulesPerString: mps, cellsPerModule: cpm } = cab.spec;
    if (!inRange(ref.string, strings) || !inRange(ref.module, mps) || !inRange(ref.cell, cpm)) return undefined;
    return cab.cells[((ref.string - 1) * mps + (ref.module - 1)) * cpm + (ref.cell - 1)];
  }

  /** Every cell of one cabinet, string-major then module then cell. */
  cells(device: string): readonly Cell[] {
    return this.#cabinets.get(device)?.cells ?? [];
  }

  cabinet(device: string): CabinetSpec | undefined {
    return this.#cabinets.get(device)?.spec;
  }

  allCells(): Cell[] {
    return [...this.#cabinets.values()].flatMap((c) => c.cells);
  }

  zone(id: string): ZoneAir | undefined {
    return this.#zones.get(id);
  }

  zones(): ZoneAir[] {
    return [...this.#zones.values()];
  }

  /** Set the heater power in a cell's core (internal short, test heater); 0 turns it off. */
  setHeater(ref: CellRef, watts: number): void {
    const cell = this.cell(ref);
    if (cell === undefined) throw new RangeError(`no cell ${refName(ref)}`);
    if (!(watts >= 0)) throw new RangeError(`heater power must be >= 0 W, got ${watts}`);
    cell.heaterW = watts;
  }

  /** Solvent vapour (DMC) in the zone's air, ppm by volume. */
  zonePpm(id: string): number {
    const z = this.#zones.get(id);
    return z === undefined ? 0 : (z.molDmc / airMol()) * 1e6;
  }

  /** Flammable gas in the zone's air as % of its lower flammable limit (Le Chatelier mixing). */
  zoneLflPct(id: string): number {
    const z = this.#zones.get(id);
    if (z === undefined) return 0;
    const n = airMol();
    const pct = (mol: number): number => (mol / n) * 100; // % by volume
    return 100 * (pct(z.molDmc) / lflPct.dmc + pct(z.molH2) / lflPct.h2 + pct(z.molCo) / lflPct.co);
  }

  /** Advance the model by dtS seconds; returns the vents and runaways that happened. */
  step(dtS: number): ThermalEvent[] {
    if (!(dtS >= 0)) throw new RangeError(`dt must be >= 0 s, got ${dtS}`);
    const events: ThermalEvent[] = [];
    let left = dtS;
    while (left > 1e-9) {
      const h = Math.min(MAX_SUBSTEP_S, left);
      this.#substep(h, events);
      left -= h;
    }
    return events;
  }

  #newCell(ref: CellRef, zone: string): Cell {
    const t = zoneAirParams.supplyC;
    const amounts = Float64Array.from(reactions, (r) => r.initialAmount);
    return {
      ref, zone, coreC: t, surfaceC: t, rateCPerMin: 0, voltageV: this.#p.nominalV, heaterW: 0,
      coreAmount: amounts, surfaceAmount: amounts.slice(), electrolyteG: this.#p.electrolyteG, runawayReleaseLeftS: 0,
    };
  }

  #substep(h: number, events: ThermalEvent[]): void {
    const p = this.#p;
    const coreJPerK = p.massKg * p.coreFraction * p.cpJPerKgK;
    const surfaceJPerK = p.massKg * (1 - p.coreFraction) * p.cpJPerKgK;
    const coreG = p.massKg * p.coreFraction * 1000;
    const surfaceG = p.massKg * (1 - p.coreFraction) * 1000;
    const heatToAir = new Map<string, number>();
    for (const { spec, cells } of this.#cabinets.values()) {
      const air = this.#zones.get(spec.zone)!;
      // Neighbour flows from the temperatures at the start of the substep (explicit Euler).
      const before = cells.map((c) => c.surfaceC);
      for (let i = 0; i < cells.length; i++) {
        const cell = cells[i]!;
        const cIdx = i % spec.cellsPerModule;
        let neighbourW = 0;
        if (cIdx > 0) neighbourW += p.neighbourWPerK * (before[i - 1]! - before[i]!);
        if (cIdx < spec.cellsPerModule - 1) neighbourW += p.neighbourWPerK * (before[i + 1]! - before[i]!);
        const coreHeatJ = reactionHeat(cell.coreAmount, cell.coreC, coreG, p.runawayMaxCPerS * coreJPerK * h, h) + cell.heaterW * h;
        const surfaceHeatJ = reactionHeat(cell.surfaceAmount, cell.surfaceC, surfaceG, p.runawayMaxCPerS * surfaceJPerK * h, h);
        const coreToSurfaceJ = p.coreToSurfaceWPerK * (cell.coreC - cell.surfaceC) * h;
        const toAirJ = p.surfaceToAirWPerK * (cell.surfaceC - air.airC) * h;
        const oldSurface = cell.surfaceC;
        cell.coreC += (coreHeatJ - coreToSurfaceJ) / coreJPerK;
        cell.surfaceC += (surfaceHeatJ + coreToSurfaceJ - toAirJ + neighbourW * h) / surfaceJPerK;
        cell.rateCPerMin = ((cell.surfaceC - oldSurface) / h) * 60;
        heatToAir.set(spec.zone, (heatToAir.get(spec.zone) ?? 0) + toAirJ);
        this.#gasAndState(cell, air, h, events);
      }
    }
    this.#timeS += h;
    this.#ventilate(h, heatToAir);
  }

  /** Venting, runaway gas, voltage and the UL runaway criterion for one cell after its heat step. */
  #gasAndState(cell: Cell, air: ZoneAir, h: number, events: ThermalEvent[]): void {
    const p = this.#p;
    const t = this.#timeS + h;
    if (cell.ventedAtS === undefined && cell.coreC >= p.ventCoreC) {
      cell.ventedAtS = t;
      events.push({ kind: "vent", atS: t, cell: cell.ref, zone: cell.zone, coreC: cell.coreC, surfaceC: cell.surfaceC, voltageV: cell.voltageV });
    }
    if (cell.ventedAtS !== undefined && cell.runawayAtS === undefined) {
      const burstG = t - cell.ventedAtS <= p.ventBurstS ? (p.ventBurstG / p.ventBurstS) * h : 0;
      const leakG = cell.electrolyteG * p.ventLeakPerS * Math.max(0, (cell.coreC - p.ventCoreC) / 10) * h;
      air.molDmc += takeElectrolyte(cell, burstG + leakG) / DMC_G_PER_MOL;
    }
    // UL criterion (docs/sources.md#ul-runaway-criterion): dT/dt > 20 °C/min and T > 300 °C, with venting.
    if (cell.runawayAtS === undefined && cell.ventedAtS !== undefined && cell.surfaceC > p.runawayTempC && cell.rateCPerMin > p.runawayRateCPerMin) {
      cell.runawayAtS = t;
      cell.runawayReleaseLeftS = p.runawayReleaseS;
      cell.heaterW = 0; // a short ends with the cell's voltage; UL 9540A switches its heater off at runaway [unverified]
      events.push({ kind: "runaway", atS: t, cell: cell.ref, zone: cell.zone, coreC: cell.coreC, surfaceC: cell.surfaceC, rateCPerMin: cell.rateCPerMin, voltageV: cell.voltageV });
    }
    if (cell.runawayReleaseLeftS > 0) {
      const share = Math.min(h, cell.runawayReleaseLeftS) / p.runawayReleaseS;
      const gasMol = p.runawayGasMolPerAh * p.capacityAh * share;
      air.molCo += gasMol * p.runawayGasMix.co;
      air.molCo2 += gasMol * p.runawayGasMix.co2;
      air.molH2 += gasMol * p.runawayGasMix.h2;
      air.molDmc += takeElectrolyte(cell, (cell.electrolyteG * Math.min(h, cell.runawayReleaseLeftS)) / cell.runawayReleaseLeftS) / DMC_G_PER_MOL;
      cell.runawayReleaseLeftS -= h;
    }
    cell.voltageV = this.#voltage(cell, h);
  }

  #voltage(cell: Cell, h: number): number {
    const p = this.#p;
    if (cell.runawayAtS !== undefined) return 0;
    if (cell.coreC >= p.separatorMeltC) return cell.voltageV * Math.exp(-h / 5); // internal short through the melted separator, ~5 s [unverified]
    return p.nominalV - p.sagVPerC * Math.max(0, cell.coreC - p.sagStartC);
  }

  /** Room air: well mixed, exchanged with supply air at the ventilation rate, warmed by the cells. */
  #ventilate(h: number, heatToAir: Map<string, number>): void {
    const exchange = 1 - Math.exp((-zoneAirParams.airChangesPerHour / 3600) * h);
    const airJPerK = zoneAirParams.volumeM3 * zoneAirParams.airJPerM3K;
    for (const z of this.#zones.values()) {
      z.airC += (heatToAir.get(z.id) ?? 0) / airJPerK;
      z.airC += (zoneAirParams.supplyC - z.airC) * exchange;
      z.molDmc *= 1 - exchange;
      z.molH2 *= 1 - exchange;
      z.molCo *= 1 - exchange;
      z.molCo2 *= 1 - exchange;
    }
  }
}

/**
 * Heat (J) from every reaction in one node over h seconds, at most maxJ; consumes the reactants.
 * Exact in the reactant (x·(1-e^(-kh))), so the stiff runaway phase stays stable.
 */
function reactionHeat(amount: Float64Array, tempC: number, nodeG: number, maxJ: number, h: number): number {
  const tK = tempC + 273.15;
  const used = new Float64Array(reactions.length);
  let heat = 0;
  for (let r = 0; r < reactions.length; r++) {
    const rx = reactions[r]!;
    const x = amount[r]!;
    if (x <= 0) continue;
    const k = rx.a * Math.exp(-rx.eaJPerMol / (R_GAS * tK));
    used[r] = x * -Math.expm1(-k * h);
    heat += used[r]! * rx.heatJPerG * rx.massFraction * nodeG;
  }
  const share = heat > maxJ ? maxJ / heat : 1;
  for (let r = 0; r < reactions.length; r++) amount[r] = amount[r]! - used[r]! * share;
  return heat * share;
}

function takeElectrolyte(cell: Cell, grams: number): number {
  const g = Math.min(cell.electrolyteG, Math.max(0, grams));
  cell.electrolyteG -= g;
  return g;
}

function airMol(): number {
  return zoneAirParams.volumeM3 * zoneAirParams.airMolPerM3;
}

function inRange(i: number, n: number): boolean {
  return Number.isInteger(i) && i >= 1 && i <= n;
}

export function refName(ref: CellRef): string {
  return `${ref.device}/s${ref.string}/m${ref.module}/c${ref.cell}`;
}
