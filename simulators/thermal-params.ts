// The thermal model's figures, each with its source (docs/sources.md#thermal-model, or
// [unverified] where no better source is at hand). Kept apart from the stepping code so that a
// reader can check every number in one place.

/** Molar gas constant, J/(mol·K). */
export const R_GAS = 8.314;

/** One Arrhenius decomposition reaction of the cell's materials: rate k = A·exp(-Ea/RT). */
export interface Reaction {
  readonly name: string;
  /** Pre-exponential factor, 1/s. */
  readonly a: number;
  /** Activation energy, J/mol. */
  readonly eaJPerMol: number;
  /** Heat released per gram of the reacting material, J/g. */
  readonly heatJPerG: number;
  /** Grams of reacting material per gram of cell. */
  readonly massFraction: number;
  /** Fraction of that material present at the start (dimensionless reactant amount). */
  readonly initialAmount: number;
}

export const reactions: readonly Reaction[] = [
  {
    // SEI decomposition, where self-heating begins (~90–120 °C, docs/sources.md#sei-onset "SEI decomposition
    // starts"). A, Ea, ΔH: PyBaMM LGM50_Cai2019 (docs/sources.md#sei-kinetics, [read]).
    name: "sei",
    a: 2.25e15,
    eaJPerMol: 135_000,
    heatJPerG: 257,
    massFraction: 0.3, // anode graphite per gram of cell [unverified]
    initialAmount: 0.15, // initial SEI fraction, Kim/Pesaran/Spotnitz 2007 [unverified]
  },
  {
    // Anode–electrolyte reaction once the SEI is gone: the bulk of the runaway heat. Kinetics from
    // Kim, Pesaran & Spotnitz, J. Power Sources 170 (2007) 476, without its SEI-tunnelling term
    // [unverified: docs/sources.md#thermal-reactions]. Its onset lands in docs/sources.md#runaway-onset "NMC
    // pouch 120–214 °C".
    name: "anode-electrolyte",
    a: 2.5e13,
    eaJPerMol: 135_000,
    heatJPerG: 1714,
    massFraction: 0.3, // [unverified]
    initialAmount: 0.75, // [unverified]
  },
  {
    // Cathode–electrolyte reaction, same source and caveat as above [unverified].
    name: "cathode-electrolyte",
    a: 6.667e13,
    eaJPerMol: 139_600,
    heatJPerG: 314,
    massFraction: 0.35, // [unverified]
    initialAmount: 1,
  },
];

/** One cell. Chemistry NMC, to match the NMC811 kinetics above (docs/sources.md#sei-kinetics). */
export const cellParams = {
  /** Capacity: a 136-cell, 34.6 kWh UPS rack at ~3.7 V nominal gives ~69 Ah (docs/sources.md#ups-racks, Samsung SDI). */
  capacityAh: 68,
  massKg: 1.0, // a ~250 Wh prismatic NMC cell [unverified]
  /** Jelly-roll heat capacity cp = 1100 J/(kg·K) (docs/sources.md#jelly-roll-thermal). */
  cpJPerKgK: 1100,
  /**
   * Share of the cell's mass in the core node: the jelly-roll region around an internal short or
   * under a test heater, which heats first. The rest (outer jelly roll and can) is the surface node
   * the BMS sensor reads [unverified model choice; it is why a cell vents while its surface still
   * reads low, docs/sources.md#bms-late]. Tuned with coreToSurfaceWPerK so that a 300 W
   * short vents in ~2 min and runs away ~6 min later (docs/sources.md#vent-to-runaway).
   */
  coreFraction: 0.3,
  /**
   * Core-to-surface conductance, W/K: k = 0.8 W/(m·K) through-plane (docs/sources.md#jelly-roll-thermal) over an assumed
   * ~0.016 m² interface and ~20 mm path [geometry unverified; tuned, see coreFraction].
   */
  coreToSurfaceWPerK: 0.65,
  /** Surface to room air: natural convection ~5 W/(m²·K) over ~0.04 m² exposed [unverified]. */
  surfaceToAirWPerK: 0.2,
  /** Surface to each neighbouring cell in the module, through the can faces and a pad [unverified]. */
  neighbourWPerK: 0.35,
  /** First vent, core temperature: NMC ~110–160 °C (docs/sources.md#first-vent, [unverified]). */
  ventCoreC: 130,
  /** PP separator melts ~165 °C (docs/sources.md#separator-melt, [unverified]): the cell shorts, voltage collapses. */
  separatorMeltC: 165,
  /** Cap on self-heating: NMC heats ~10 °C/s during runaway (docs/sources.md#runaway-heating-rate, [unverified]). */
  runawayMaxCPerS: 10,
  /** UL criterion: dT/dt > 20 °C/min and T > 300 °C, with venting (docs/sources.md#ul-runaway-criterion). */
  runawayRateCPerMin: 20,
  runawayTempC: 300,
  /** Nominal NMC cell voltage at rest, ~3.65 V [unverified]; sags once the core passes 60 °C [unverified]. */
  nominalV: 3.65,
  sagStartC: 60,
  sagVPerC: 0.002,
  /** Electrolyte per cell, ~10 % of cell mass [unverified], modelled as DMC vapour when it leaves. */
  electrolyteG: 100,
  /** First vent: a burst of this much electrolyte over burstS seconds [unverified]. */
  ventBurstG: 4,
  ventBurstS: 10,
  /** After the first vent the cell keeps off-gassing: this fraction of the remaining electrolyte per second, per 10 K of core above the vent temperature [unverified]. */
  ventLeakPerS: 0.0004,
  /** Runaway gas: NMC622 0.07 mol/Ah, CO 36 %, CO2 24 %, H2 19 % (docs/sources.md#vent-gas). */
  runawayGasMolPerAh: 0.07,
  runawayGasMix: { co: 0.36, co2: 0.24, h2: 0.19 },
  /** Runaway gas and the remaining electrolyte leave over this long [unverified]. */
  runawayReleaseS: 30,
} as const;

/** The air of one zone: a well-mixed volume with ventilation (the off-gas detector's view). */
export const zoneAirParams = {
  /** Effective mixing volume around the detector, m³ [unverified: a battery row's share of a room]. */
  volumeM3: 60,
  /** Air changes per hour of ventilation [unverified: typical battery-room figure]. */
  airChangesPerHour: 4,
  /** Room air temperature held by HVAC, °C [unverified]. */
  supplyC: 24,
  /** Relative humidity, % [unverified]. */
  humidityPct: 45,
  /** Air heat capacity: 1.2 kg/m³ × 1005 J/(kg·K). */
  airJPerM3K: 1206,
  /** Moles of air per m³ at 25 °C, 1 atm (ideal gas). */
  airMolPerM3: 40.9,
} as const;

/** Lower flammable limits, % by volume [unverified: common handbook values]. */
export const lflPct = { dmc: 3.1, h2: 4.0, co: 12.5 } as const;
/** Dimethyl carbonate molar mass, g/mol. */
export const DMC_G_PER_MOL = 90.08;
