// The simulated battery room: one Modbus TCP server per device of a site config, registers
// re-encoded from the thermal model every step of the injected (possibly accelerated) clock, a
// scenario played on that clock, and injections from tests or the HTTP control.
import { pino, type Logger } from "pino";
import { tcpPort, type Device, type SiteConfig } from "../src/config/types.js";
import type { Clock, TimerHandle } from "../src/runtime/clock.js";
import { startControlServer, type ControlServer } from "./control.js";
import { cleanAgentPanel, type PanelEncoder } from "./devices/clean-agent-panel.js";
import { tableOf, type DeviceEncoder, type PointLocation } from "./devices/encoder.js";
import { offgasDetector } from "./devices/offgas-detector.js";
import { roomSensor } from "./devices/room-sensor.js";
import { sunspecCabinet } from "./devices/sunspec-cabinet.js";
import { RACK_LAYOUT, RACK_PROFILE_ID, vendorRack } from "./devices/vendor-rack.js";
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer } from "./modbus-server.js";
import type { InjectCommand, Scenario } from "./scenario.js";
import { DEFAULT_SENSOR_NOISE, SensorNoise, type SensorNoiseConfig } from "./sensor-noise.js";
import { refName, ThermalModel, type CellRef, type ThermalEvent } from "./thermal-model.js";

export { loadScenario, type InjectCommand, type Scenario } from "./scenario.js";

export interface SimulationOptions {
  site: SiteConfig;
  clock: Clock;
  scenario?: Scenario;
  /** HTTP control on 127.0.0.1: 0 = ephemeral, undefined = none. */
  controlPort?: number;
  log?: Logger;
  /** Model step in clock milliseconds (default 250). */
  stepMs?: number;
  /** Port to serve a device on instead of its configured `modbus.port` (0 = ephemeral). */
  portOverride?: (deviceId: string) => number;
  /** Address to listen on; loopback by default. */
  host?: string;
  /**
   * Sensor noise (simulators/sensor-noise.ts), over the scenario's `sensor_noise` and the defaults
   * (on, seed 1, one count, 1 s). `{ enabled: false }` gives the model's values exactly.
   */
  noise?: Partial<SensorNoiseConfig>;
}

export type SimEventKind = "vent" | "runaway" | "scenario-step";

export interface SimEvent {
  readonly kind: SimEventKind;
  /** Clock time, ms. */
  readonly at: number;
  /** Plain words for a person watching. */
  readonly message: string;
  readonly cell?: CellRef;
  readonly zone?: string;
  /** The cell's figures at the event (vent, runaway). */
  readonly values?: { readonly coreC: number; readonly surfaceC: number; readonly voltageV: number; readonly rateCPerMin?: number };
  readonly command?: InjectCommand;
}

export interface SimCellState {
  readonly cell: string;
  readonly zone: string;
  readonly coreC: number;
  readonly surfaceC: number;
  readonly rateCPerMin: number;
  readonly voltageV: number;
  readonly heaterW: number;
  readonly vented: boolean;
  readonly runaway: boolean;
}

export interface SimState {
  /** Clock time, ms, and seconds since the simulation started. */
  readonly at: number;
  readonly elapsedS: number;
  /** Clock seconds per real second. */
  readonly speed: number;
  /** Every cell, hottest surface first. */
  readonly cells: readonly SimCellState[];
  readonly zones: readonly { readonly id: string; readonly airC: number; readonly ppm: number; readonly lflPct: number }[];
  readonly vents: readonly SimEvent[];
  readonly runaways: readonly SimEvent[];
  readonly silent: readonly string[];
  readonly overrides: readonly { readonly device: string; readonly point: string; readonly kind: "stuck" | "sentinel" }[];
  readonly panels: readonly { readonly device: string; readonly state: string }[];
}

/** A write a client made that the device accepted (README "Protective actions"): what, where, and what the device did. */
export interface SimWrite {
  readonly device: string;
  readonly table: "holding" | "coil";
  readonly address: number;
  readonly values: readonly number[];
  /** Clock time, ms. */
  readonly at: number;
  /** What the device did with it ("opened the contactor of string 1", "ignored …"), or "nothing". */
  readonly effect: string;
}

export interface Simulation {
  readonly ports: ReadonlyMap<string, number>;
  /** Every write the devices accepted so far, in order (writes to registers a device does not own are refused with exception 02 and not listed). */
  writes(): readonly SimWrite[];
  /** Clock time the simulation started at, ms: scenario step times count from here. */
  readonly startedAt: number;
  readonly controlPort?: number;
  /** Apply an injection now; throws InjectError naming what is wrong. */
  inject(cmd: InjectCommand): void;
  /**
   * Play a scenario's steps from now on: its step times count from this call, not from the start
   * (e.g. once a watcher is up, so "at 0 s" means while it watches). Steps not yet played are
   * dropped. The sensor noise stays as the simulation started with. Throws InjectError for a step
   * that names something the room does not have.
   */
  play(scenario: Scenario): void;
  on(event: SimEventKind, fn: (e: SimEvent) => void): void;
  state(): SimState;
  stop(): Promise<void>;
}

/** An injection that names something the simulated room does not have. */
export class InjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InjectError";
  }
}

interface SimDevice {
  readonly device: Device;
  readonly bank: RegisterBank;
  readonly encoder: DeviceEncoder;
  readonly panel?: PanelEncoder;
  server?: ModbusTcpServer;
  silent: boolean;
  readonly overrides: Map<string, { kind: "stuck" | "sentinel"; loc: PointLocation; words: number[] }>;
}

export async function startSimulation(opts: SimulationOptions): Promise<Simulation> {
  const { site, clock } = opts;
  const log = opts.log ?? pino({ level: "silent" });
  const stepMs = opts.stepMs ?? 250;
  const startMs = clock.now();
  const model = new ThermalModel({
    zones: [...site.zones.keys()],
    cabinets: [
      ...site.devices.filter((d) => d.layout !== undefined && d.profile.sunspec !== undefined).map((d) => ({ device: d.id, zone: d.zone, ...d.layout! })),
      // A plain-map rack has no layout in the site config: its profile fixes it.
      ...site.devices.filter((d) => d.profile.id === RACK_PROFILE_ID).map((d) => ({ device: d.id, zone: d.zone, ...RACK_LAYOUT })),
    ],
  });
  const noise = new SensorNoise({ ...DEFAULT_SENSOR_NOISE, ...opts.scenario?.sensorNoise, ...opts.noise }, startMs);
  const devices = new Map<string, SimDevice>();
  for (const d of site.devices) {
    const sd: SimDevice = { device: d, bank: new RegisterBank(), silent: false, overrides: new Map(), ...encoderFor(d, model, startMs, noise) };
    sd.encoder.declareMap(sd.bank);
    devices.set(d.id, sd);
  }

  const listeners = new Map<SimEventKind, ((e: SimEvent) => void)[]>();
  const vents: SimEvent[] = [];
  const runaways: SimEvent[] = [];
  const emit = (e: SimEvent): void => {
    if (e.kind === "vent") vents.push(e);
    if (e.kind === "runaway") runaways.push(e);
    log.info({ event: e.kind, at: new Date(e.at).toISOString(), cell: e.cell ? refName(e.cell) : undefined }, e.message);
    for (const fn of listeners.get(e.kind) ?? []) {
      try {
        fn(e);
      } catch (err) {
        log.error({ err, event: e.kind }, "a simulation event listener threw");
      }
    }
  };

  const inject = (cmd: InjectCommand): void => applyCommand(cmd, devices, model, clock.now());
  const checkScenario = (scenario: Scenario): void =>
    scenario.steps.forEach((s, i) => {
      const problem = checkCommand(s.command, devices, model);
      if (problem !== undefined) throw new InjectError(`${scenario.file}: steps[${i}]: ${problem}`);
    });
  const pendingSteps = [...(opts.scenario?.steps ?? [])];
  if (opts.scenario !== undefined) checkScenario(opts.scenario);
  let scenarioStartMs = startMs;

  let lastMs = startMs;
  const encodeOne = (d: SimDevice, nowMs: number): void => {
    d.encoder.encode(d.bank, nowMs);
    for (const o of d.overrides.values()) tableOf(d.bank, o.loc.table).set(o.words, o.loc.address);
  };
  const encodeAll = (nowMs: number): void => {
    for (const d of devices.values()) encodeOne(d, nowMs);
  };
  const writes: SimWrite[] = [];
  /** An accepted write: the device acts on it and its registers show the result at once. */
  const onWrite = (group: readonly SimDevice[], bank: RegisterBank, table: "holding" | "coil", addr: number, count: number): void => {
    const d = group.find((x) => x.bank === bank);
    if (d === undefined) return;
    const now = clock.now();
    const values = Array.from(table === "holding" ? bank.holding.subarray(addr, addr + count) : bank.coils.subarray(addr, addr + count));
    const effect = d.encoder.onWrite?.(bank, table, addr, count, now) ?? "nothing";
    encodeOne(d, now);
    writes.push({ device: d.device.id, table, address: addr, values, at: now, effect });
    log.info({ device: d.device.id, table, address: addr, values }, `write to ${d.device.id}: ${effect}`);
  };
  const tick = (): void => {
    const now = clock.now();
    const elapsedS = (now - scenarioStartMs) / 1000;
    while (pendingSteps.length > 0 && pendingSteps[0]!.atS <= elapsedS) {
      const step = pendingSteps.shift()!;
      try {
        inject(step.command);
        emit({ kind: "scenario-step", at: now, message: step.note ?? describeCommand(step.command), command: step.command });
      } catch (err) {
        log.error({ err, step: step.atS }, "a scenario step failed");
      }
    }
    const dtS = Math.max(0, (now - lastMs) / 1000);
    lastMs = now;
    for (const e of model.step(dtS)) emit(thermalEvent(e, startMs));
    encodeAll(now);
  };

  // Servers: devices that share a configured port share a server (a gateway with unit ids).
  const servers: ModbusTcpServer[] = [];
  const ports = new Map<string, number>();
  const plan: { port: number; group: SimDevice[] }[] = [];
  for (const d of devices.values()) {
    const port = opts.portOverride ? opts.portOverride(d.device.id) : tcpPort(d.device.modbus);
    const shared = port === 0 ? undefined : plan.find((p) => p.port === port);
    if (shared !== undefined) shared.group.push(d);
    else plan.push({ port, group: [d] });
  }
  encodeAll(startMs);
  try {
    for (const { port, group } of plan) {
      const units = new Map(group.map((d) => [d.device.modbus.unitId, d.bank]));
      const server = await startModbusTcpServer({ host: opts.host ?? "127.0.0.1", port, units, onWrite: (_unit, bank, table, addr, count) => onWrite(group, bank, table, addr, count) });
      servers.push(server);
      for (const d of group) {
        d.server = server;
        ports.set(d.device.id, server.port);
      }
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  const timer: TimerHandle = clock.setInterval(tick, stepMs);

  const sim: Simulation = {
    ports,
    startedAt: startMs,
    writes: () => [...writes],
    inject,
    play: (scenario) => {
      checkScenario(scenario);
      pendingSteps.splice(0, pendingSteps.length, ...scenario.steps);
      scenarioStartMs = clock.now();
      tick(); // steps at 0 s happen now, not a model step later
    },
    on: (event, fn) => void listeners.set(event, [...(listeners.get(event) ?? []), fn]),
    state: () => snapshot(model, devices, clock, startMs, vents, runaways),
    stop: async () => {
      timer.cancel();
      await control?.close();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
  let control: ControlServer | undefined;
  if (opts.controlPort !== undefined) {
    try {
      control = await startControlServer({ sim, port: opts.controlPort, log });
    } catch (err) {
      await sim.stop();
      throw err;
    }
    Object.defineProperty(sim, "controlPort", { value: control.port, enumerable: true });
  }
  log.info({ devices: ports.size, speed: clock.speed, scenario: opts.scenario?.name, noise: noise.config }, "simulation started");
  return sim;
}

function encoderFor(d: Device, model: ThermalModel, startMs: number, noise: SensorNoise): { encoder: DeviceEncoder; panel?: PanelEncoder } {
  if (d.profile.sunspec !== undefined) return { encoder: sunspecCabinet(d, model, startMs, noise) };
  switch (d.profile.id) {
    case "room-sensor":
      return { encoder: roomSensor(d, model, noise) };
    case "offgas-detector":
      return { encoder: offgasDetector(d, model, noise) };
    case RACK_PROFILE_ID:
      return { encoder: vendorRack(d, model, startMs) };
    case "clean-agent-panel": {
      const panel = cleanAgentPanel(d);
      return { encoder: panel, panel };
    }
    default:
      throw new InjectError(`device ${d.id}: the simulator has no model of profile "${d.profile.id}"; it simulates li-ion-cabinet (any SunSpec profile), ${RACK_PROFILE_ID}, room-sensor, offgas-detector, clean-agent-panel`);
  }
}

/** What is wrong with a command for this room, or undefined when it can be applied. */
function checkCommand(cmd: InjectCommand, devices: Map<string, SimDevice>, model: ThermalModel): string | undefined {
  if (cmd.kind === "panel") {
    const panels = [...devices.values()].filter((d) => d.panel !== undefined);
    if (cmd.device === undefined) return panels.length > 0 ? undefined : "the site has no clean-agent panel";
    return devices.get(cmd.device)?.panel !== undefined ? undefined : `no clean-agent panel "${cmd.device}"; panels: ${panels.map((p) => p.device.id).join(", ") || "none"}`;
  }
  const d = devices.get(cmd.device);
  if (d === undefined) return `unknown device "${cmd.device}"; devices: ${[...devices.keys()].join(", ")}`;
  switch (cmd.kind) {
    case "heat":
      if (model.cabinet(cmd.device) === undefined) return `device "${cmd.device}" is not a battery cabinet`;
      if (model.cell(cmd) === undefined) {
        const c = model.cabinet(cmd.device)!;
        return `device "${cmd.device}" has no cell s${cmd.string}/m${cmd.module}/c${cmd.cell} (it has ${c.strings} strings × ${c.modulesPerString} modules × ${c.cellsPerModule} cells)`;
      }
      return cmd.watts >= 0 && Number.isFinite(cmd.watts) ? undefined : `watts must be a number >= 0, got ${cmd.watts}`;
    case "silent":
      return undefined;
    case "ignore_writes":
      return d.encoder.ignoreWrites !== undefined ? undefined : `device "${cmd.device}" has no writable registers to ignore writes to`;
    case "stuck":
    case "sentinel": {
      const loc = d.encoder.locate(cmd.point);
      if (loc === undefined) return `device "${cmd.device}" has no point "${cmd.point}"; e.g. ${d.device.points.slice(0, 3).map((p) => p.pointId).join(", ")}`;
      if (cmd.kind === "sentinel" && (loc.table === "coil" || loc.table === "discrete")) return `point "${cmd.point}" is a bit: it has no sentinel value`;
      return undefined;
    }
  }
}

function applyCommand(cmd: InjectCommand, devices: Map<string, SimDevice>, model: ThermalModel, nowMs: number): void {
  const problem = checkCommand(cmd, devices, model);
  if (problem !== undefined) throw new InjectError(problem);
  switch (cmd.kind) {
    case "heat":
      model.setHeater(cmd, cmd.watts);
      return;
    case "silent": {
      const d = devices.get(cmd.device)!;
      d.silent = cmd.on;
      d.server?.setSilent(cmd.on);
      return;
    }
    case "stuck":
    case "sentinel": {
      const d = devices.get(cmd.device)!;
      const loc = d.encoder.locate(cmd.point)!;
      if (!cmd.on) d.overrides.delete(cmd.point);
      else {
        const table = tableOf(d.bank, loc.table);
        const words = cmd.kind === "stuck" ? Array.from(table.subarray(loc.address, loc.address + loc.count)) : [...loc.sentinel];
        d.overrides.set(cmd.point, { kind: cmd.kind, loc, words });
        table.set(words, loc.address);
      }
      return;
    }
    case "panel": {
      const d = cmd.device !== undefined ? devices.get(cmd.device)! : [...devices.values()].find((x) => x.panel !== undefined)!;
      d.panel!.set(cmd.state, nowMs, cmd.countdownS);
      return;
    }
    case "ignore_writes":
      devices.get(cmd.device)!.encoder.ignoreWrites!(cmd.on);
      return;
  }
}

export function describeCommand(cmd: InjectCommand): string {
  switch (cmd.kind) {
    case "heat":
      return cmd.watts > 0 ? `${refName(cmd)} heated with ${cmd.watts} W` : `${refName(cmd)} heater off`;
    case "silent":
      return cmd.on ? `${cmd.device} stops answering` : `${cmd.device} answers again`;
    case "stuck":
      return cmd.on ? `${cmd.device}/${cmd.point} sticks at its last reading` : `${cmd.device}/${cmd.point} reads live again`;
    case "sentinel":
      return cmd.on ? `${cmd.device}/${cmd.point} reports "no reading"` : `${cmd.device}/${cmd.point} reads live again`;
    case "panel":
      return `${cmd.device ?? "the releasing panel"} goes to ${cmd.state}${cmd.countdownS !== undefined ? ` (${cmd.countdownS} s countdown)` : ""}`;
    case "ignore_writes":
      return cmd.on ? `${cmd.device} accepts writes but carries none out` : `${cmd.device} carries out writes again`;
  }
}

function thermalEvent(e: ThermalEvent, startMs: number): SimEvent {
  const at = startMs + e.atS * 1000;
  const name = refName(e.cell);
  const base = { at, cell: e.cell, zone: e.zone };
  if (e.kind === "vent") {
    return {
      kind: "vent", ...base, values: { coreC: e.coreC, surfaceC: e.surfaceC, voltageV: e.voltageV },
      message: `${name} vents electrolyte vapour into zone ${e.zone}: core ${e.coreC.toFixed(0)} °C while its sensor still reads ${e.surfaceC.toFixed(1)} °C`,
    };
  }
  return {
    kind: "runaway", ...base, values: { coreC: e.coreC, surfaceC: e.surfaceC, voltageV: e.voltageV, rateCPerMin: e.rateCPerMin },
    message: `${name} is in thermal runaway (UL criterion: ${e.surfaceC.toFixed(0)} °C > 300 °C, rising ${e.rateCPerMin.toFixed(0)} °C/min > 20 °C/min)`,
  };
}

function snapshot(model: ThermalModel, devices: Map<string, SimDevice>, clock: Clock, startMs: number, vents: SimEvent[], runaways: SimEvent[]): SimState {
  const now = clock.now();
  const round = (x: number, d = 2): number => Number(x.toFixed(d));
  return {
    at: now,
    elapsedS: round((now - startMs) / 1000, 1),
    speed: clock.speed,
    cells: model
      .allCells()
      .sort((a, b) => b.surfaceC - a.surfaceC)
      .map((c) => ({
        cell: refName(c.ref), zone: c.zone, coreC: round(c.coreC), surfaceC: round(c.surfaceC), rateCPerMin: round(c.rateCPerMin),
        voltageV: round(c.voltageV, 3), heaterW: c.heaterW, vented: c.ventedAtS !== undefined, runaway: c.runawayAtS !== undefined,
      })),
    zones: model.zones().map((z) => ({ id: z.id, airC: round(z.airC), ppm: round(model.zonePpm(z.id), 1), lflPct: round(model.zoneLflPct(z.id)) })),
    vents: [...vents],
    runaways: [...runaways],
    silent: [...devices.values()].filter((d) => d.silent).map((d) => d.device.id),
    overrides: [...devices.values()].flatMap((d) => [...d.overrides].map(([point, o]) => ({ device: d.device.id, point, kind: o.kind }))),
    panels: [...devices.values()].filter((d) => d.panel !== undefined).map((d) => ({ device: d.device.id, state: d.panel!.state })),
  };
}
