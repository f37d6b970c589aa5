// The thermal model with a fixed dt, no timers: a shorted cell vents, then runs away in the
// window docs/sources.md#vent-to-runaway gives (DNV-GL: 6.4 min from first vent), and only the UL criterion says so.
import { describe, expect, it } from "vitest";
import { ThermalModel, type CellRef, type ThermalEvent } from "../../simulators/thermal-model.js";

const hot: CellRef = { device: "cab2", string: 1, module: 3, cell: 7 };
const DT_S = 0.25;

function model(): ThermalModel {
  return new ThermalModel({
    cabinets: [{ device: "cab2", zone: "batt-a", strings: 2, modulesPerString: 4, cellsPerModule: 8 }],
    zones: ["batt-a", "batt-b"],
  });
}

/** Heat `hot` with `watts` from t=20 s; run until `untilS` or `stop` says so. */
function run(m: ThermalModel, watts: number, untilS: number, onStep?: (t: number) => void): ThermalEvent[] {
  const events: ThermalEvent[] = [];
  for (let t = 0; t < untilS; t += DT_S) {
    if (t === 20) m.setHeater(hot, watts);
    events.push(...m.step(DT_S));
    onStep?.(m.timeS);
  }
  return events;
}

describe("thermal model", () => {
  it("a 300 W internal short vents in about two minutes and runs away about six minutes later", () => {
    const m = model();
    const events = run(m, 300, 900);
    const vent = events.find((e) => e.kind === "vent");
    const runaway = events.find((e) => e.kind === "runaway");
    expect(vent?.cell).toEqual(hot);
    expect(runaway?.cell).toEqual(hot);
    const ventAfterHeatS = vent!.atS - 20;
    const ventToRunawayMin = (runaway!.atS - vent!.atS) / 60;
    expect(ventAfterHeatS).toBeGreaterThan(60);
    expect(ventAfterHeatS).toBeLessThan(180);
    // DNV-GL single-cell test: 6.4 min from first vent to runaway (docs/sources.md#vent-to-runaway).
    expect(ventToRunawayMin).toBeGreaterThan(5);
    expect(ventToRunawayMin).toBeLessThan(8);
  });

  it("the core vents while the surface the BMS reads is still near ambient", () => {
    const events = run(model(), 300, 300);
    const vent = events.find((e) => e.kind === "vent");
    expect(vent).toBeDefined();
    expect(vent!.coreC).toBeGreaterThanOrEqual(130);
    expect(vent!.surfaceC).toBeLessThan(40);
  });

  it("the surface warms at a few degrees per minute at first, as in UL 9540A heating", () => {
    const m = model();
    let rateAt2Min = 0;
    run(m, 300, 141, (t) => {
      if (Math.abs(t - 140) < 1e-9) rateAt2Min = m.cell(hot)!.rateCPerMin;
    });
    expect(rateAt2Min).toBeGreaterThan(2);
    expect(rateAt2Min).toBeLessThan(8);
  });

  it("runaway is declared by the UL criterion: above 300 °C and rising faster than 20 °C/min", () => {
    const m = model();
    let before: { surfaceC: number; rateCPerMin: number } | undefined;
    const events: ThermalEvent[] = [];
    for (let t = 0; t < 900 && events.length < 2; t += DT_S) {
      if (t === 20) m.setHeater(hot, 300);
      const c = m.cell(hot)!;
      if (c.runawayAtS === undefined) before = { surfaceC: c.surfaceC, rateCPerMin: c.rateCPerMin };
      events.push(...m.step(DT_S));
    }
    const runaway = events.find((e) => e.kind === "runaway");
    expect(runaway?.kind).toBe("runaway");
    if (runaway?.kind !== "runaway") return;
    expect(runaway.surfaceC).toBeGreaterThan(300);
    expect(runaway.rateCPerMin).toBeGreaterThan(20);
    // One step earlier the criterion did not yet hold.
    expect(before!.surfaceC <= 300 || before!.rateCPerMin <= 20).toBe(true);
    expect(runaway.voltageV).toBeLessThan(0.5);
  });

  it("a hot cell that never passes 300 °C is not a runaway, however fast it rises", () => {
    const m = model();
    // A weak heater: vents, never reaches the UL temperature within the run.
    const events = run(m, 60, 600);
    expect(events.some((e) => e.kind === "runaway")).toBe(false);
    expect(m.cell(hot)!.surfaceC).toBeLessThan(300);
  });

  it("neighbours in the module warm; an unheated module stays near ambient", () => {
    const m = model();
    run(m, 300, 540);
    const neighbour = m.cell({ ...hot, cell: 6 })!;
    const otherModule = m.cells("cab2").filter((c) => c.ref.string === 2 && c.ref.module === 1);
    expect(neighbour.surfaceC).toBeGreaterThan(28);
    for (const c of otherModule) expect(Math.abs(c.surfaceC - 24)).toBeLessThan(1);
  });

  it("venting puts solvent vapour into the zone's air, not into another zone's", () => {
    const m = model();
    const events = run(m, 300, 240);
    expect(events.some((e) => e.kind === "vent")).toBe(true);
    expect(m.zonePpm("batt-a")).toBeGreaterThan(50);
    expect(m.zonePpm("batt-b")).toBe(0);
    expect(m.zoneLflPct("batt-a")).toBeGreaterThan(0);
  });

  it("cell voltage sags as the core heats and collapses at runaway", () => {
    const m = model();
    const v0 = m.cell(hot)!.voltageV;
    run(m, 300, 150);
    const vHot = m.cell(hot)!.voltageV;
    expect(vHot).toBeLessThan(v0);
    expect(vHot).toBeGreaterThan(3);
  });

  it("an idle model stays at ambient with clean air", () => {
    const m = model();
    for (let i = 0; i < 4 * 600; i++) m.step(DT_S);
    for (const c of m.allCells()) expect(Math.abs(c.surfaceC - 24)).toBeLessThan(0.1);
    expect(m.zonePpm("batt-a")).toBe(0);
  });

  it("refuses a heater on a cell the cabinet does not have", () => {
    expect(() => model().setHeater({ ...hot, cell: 9 }, 10)).toThrow(/no cell cab2\/s1\/m3\/c9/);
  });
});
