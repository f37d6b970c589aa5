// The OPC UA side of the simulated battery room: the site's OPC UA devices get Modbus twins in the
// shared simulation (simulators/simulation.ts: same thermal model, scenarios and injections), and
// an OPC UA server publishes the twins' state under the OPC UA profiles' node ids.
import { join } from "node:path";
import type { Logger } from "pino";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import { expandPoints } from "../../src/config/expand.js";
import type { Device, OpcuaDevice, OpcuaDevicePoint, SiteConfig } from "../../src/config/types.js";
import type { Clock, TimerHandle } from "../../src/runtime/clock.js";
import { DEFAULT_COUNTDOWN_S } from "../devices/clean-agent-panel.js";
import { startSimulation, type Scenario, type SimState, type Simulation } from "../simulation.js";
import { startOpcuaSimServer, type OpcuaSimServer, type SimNode, type SimUser, type SimValue } from "./server.js";

/** OPC UA profiles the simulator can serve, and the Modbus profile whose model stands behind each. */
const twinProfiles: Readonly<Record<string, string>> = {
  "li-ion-bms-opcua": "li-ion-cabinet",
  "clean-agent-panel-opcua": "clean-agent-panel",
};

/** Points that are states (Boolean nodes); every other point is a Double. */
const booleanPoints = new Set(["armed", "autoMode", "manualOnly", "preAlarm", "preRelease", "released", "abortActive", "agentLowPressure", "trouble", "overTempAlarm"]);

// Figures as simulators/devices/sunspec-cabinet.ts writes them, so both protocols read alike.
const SOC_PCT = 95; // a UPS battery on float [unverified]
const OVER_TEMP_ALARM_C = 60;
const STATE_CONNECTED = 3; // SunSpec 802 State (docs/sources.md#sunspec-802)
const STATE_FAULT = 99;

export interface OpcuaRoomOptions {
  /** A site whose `opcuaDevices` are served; its Modbus devices are simulated too, as usual. */
  readonly site: SiteConfig;
  readonly clock: Clock;
  readonly scenario?: Scenario;
  /** OPC UA port (0 = ephemeral). Modbus twins always listen on ephemeral ports. */
  readonly port: number;
  readonly pkiDir: string;
  readonly users: readonly SimUser[];
  readonly userCertificateFiles?: readonly string[];
  /** How often node values are refreshed from the model, clock ms (default 250, the model's step). */
  readonly refreshMs?: number;
  readonly log?: Logger;
  /** Ports of the site's Modbus devices (default: ephemeral); the OPC UA twins always use ephemeral ports. */
  readonly modbusPort?: (deviceId: string) => number;
}

export interface OpcuaRoom {
  readonly sim: Simulation;
  /** The running OPC UA server, or undefined while it is stopped. */
  readonly server: OpcuaSimServer | undefined;
  readonly endpoint: string;
  readonly certificateFile: string;
  /** Take the OPC UA server down (sessions and subscriptions are lost); the model keeps running. */
  stopServer(): Promise<void>;
  /** Bring it back on the same port with the same certificate: a server restart. */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOpcuaRoom(opts: OpcuaRoomOptions): Promise<OpcuaRoom> {
  const devices = opts.site.opcuaDevices ?? [];
  const twins = await Promise.all(devices.map((d) => twinOf(d)));
  const sim = await startSimulation({
    site: { ...opts.site, devices: [...opts.site.devices, ...twins] },
    clock: opts.clock,
    ...(opts.scenario ? { scenario: opts.scenario } : {}),
    portOverride: (id) => (twins.some((t) => t.id === id) ? 0 : (opts.modbusPort?.(id) ?? 0)),
    ...(opts.log ? { log: opts.log } : {}),
  });
  const namespaces = new Set(devices.map((d) => d.profile.namespaceUri));
  if (namespaces.size > 1) throw new RangeError(`the OPC UA simulator serves one namespace; the devices use ${[...namespaces].join(", ")}`);
  const nodes = nodesOf(devices);
  const countdown = panelCountdown(sim, opts.clock);
  let server: OpcuaSimServer | undefined;
  let port = opts.port;
  let certificateFile = "";
  const refresh = (): void => {
    if (server === undefined) return;
    const st = sim.state();
    const now = opts.clock.now();
    const byName = new Map(st.cells.map((c) => [c.cell, c]));
    for (const d of devices) for (const p of d.points) {
      const v = valueOf(d, p, st, byName, countdown);
      if (v !== undefined) server.set(p.node, v, now);
    }
  };
  const startServer = async (): Promise<void> => {
    if (server !== undefined) return;
    const s = await startOpcuaSimServer({
      port,
      pkiDir: opts.pkiDir,
      namespaceUri: [...namespaces][0] ?? "urn:firebreak:simulator",
      nodes,
      users: opts.users,
      ...(opts.userCertificateFiles ? { userCertificateFiles: opts.userCertificateFiles } : {}),
    });
    server = s;
    port = s.port;
    certificateFile = s.certificateFile;
    refresh();
  };
  await startServer();
  const timer: TimerHandle = opts.clock.setInterval(refresh, opts.refreshMs ?? 250);
  return {
    sim,
    get server() {
      return server;
    },
    get endpoint() {
      return `opc.tcp://127.0.0.1:${port}`;
    },
    get certificateFile() {
      return certificateFile;
    },
    async stopServer() {
      const s = server;
      server = undefined;
      await s?.stop();
    },
    startServer,
    async stop() {
      timer.cancel();
      const s = server;
      server = undefined;
      await s?.stop();
      await sim.stop();
    },
  };
}

/** A Modbus device of the same id, zone and layout, so the simulation models it (cells, panel). */
async function twinOf(d: OpcuaDevice): Promise<Device> {
  const twin = twinProfiles[d.profile.id];
  if (twin === undefined) throw new RangeError(`device ${d.id}: the OPC UA simulator has no model of profile "${d.profile.id}"; it serves ${Object.keys(twinProfiles).join(", ")}`);
  const profile = await loadProfile(join(shippedProfilesDir(), `${twin}.yaml`));
  return {
    id: d.id,
    zone: d.zone,
    profile,
    modbus: { host: "127.0.0.1", port: 0, unitId: 1 },
    pollIntervalMs: 1000,
    timeoutMs: 500,
    staleAfterMs: 3000,
    ...(d.layout ? { layout: d.layout } : {}),
    points: expandPoints(profile, d.layout),
  };
}

function nodesOf(devices: readonly OpcuaDevice[]): SimNode[] {
  const seen = new Map<string, string>();
  const out: SimNode[] = [];
  for (const d of devices)
    for (const p of d.points) {
      const other = seen.get(p.node);
      if (other !== undefined) throw new RangeError(`devices ${other} and ${d.id} both use node ${p.node}: serve them from two simulators`);
      seen.set(p.node, d.id);
      out.push({ node: p.node, dataType: booleanPoints.has(p.def.id) ? "Boolean" : "Double", ...(p.def.description ? { description: p.def.description } : {}) });
    }
  return out;
}

/** Remaining pre-release seconds: the simulation reports the panel's state, so the countdown is timed here. */
function panelCountdown(sim: Simulation, clock: Clock): (device: string, state: string) => number {
  const started = new Map<string, { at: number; s: number }>();
  const lengthS = new Map<string, number>();
  sim.on("scenario-step", (e) => {
    const c = e.command;
    if (c?.kind === "panel" && c.state === "pre_release") lengthS.set(c.device ?? "*", c.countdownS ?? DEFAULT_COUNTDOWN_S);
  });
  return (device, state) => {
    if (state !== "pre_release" && state !== "abort_active") {
      started.delete(device);
      return 0;
    }
    let s = started.get(device);
    if (s === undefined) {
      s = { at: clock.now(), s: lengthS.get(device) ?? lengthS.get("*") ?? DEFAULT_COUNTDOWN_S };
      started.set(device, s);
    }
    return Math.max(0, Math.ceil(s.s - (clock.now() - s.at) / 1000));
  };
}

type SimCell = SimState["cells"][number];

function valueOf(d: OpcuaDevice, p: OpcuaDevicePoint, st: SimState, byName: ReadonlyMap<string, SimCell>, countdown: (device: string, state: string) => number): SimValue | undefined {
  if (d.profile.id === "clean-agent-panel-opcua") {
    const state = st.panels.find((x) => x.device === d.id)?.state ?? "normal";
    return panelValue(p.def.id, state, () => countdown(d.id, state));
  }
  const pos = p.position;
  if (pos.cell !== undefined) {
    const c = byName.get(`${d.id}/s${pos.string}/m${pos.module}/c${pos.cell}`);
    if (c === undefined) return undefined;
    return p.def.id === "tempC" ? c.surfaceC : p.def.id === "voltV" ? c.voltageV : undefined;
  }
  const cells = st.cells.filter((c) => c.cell.startsWith(`${d.id}/`));
  const inString = pos.string === undefined ? cells : cells.filter((c) => c.cell.startsWith(`${d.id}/s${pos.string}/`));
  const temps = inString.map((c) => c.surfaceC);
  switch (p.def.id) {
    case "modTempMaxC":
      return Math.max(...temps);
    case "soc":
      return SOC_PCT;
    case "state":
      return inString.some((c) => c.runaway) ? STATE_FAULT : STATE_CONNECTED;
    case "overTempAlarm":
      return Math.max(...temps) > OVER_TEMP_ALARM_C;
    case "voltV": {
      // Strings in parallel: the pack voltage is one string's series sum (as the Modbus twin's mean).
      const strings = new Set(inString.map((c) => c.cell.split("/")[1]));
      return inString.reduce((a, c) => a + c.voltageV, 0) / Math.max(1, strings.size);
    }
    case "currentA":
      return 0; // float charge, no current (as the Modbus twin)
    default:
      return undefined;
  }
}

function panelValue(id: string, state: string, countdownS: () => number): SimValue | undefined {
  const inSequence = state === "pre_alarm" || state === "pre_release" || state === "abort_active" || state === "released";
  switch (id) {
    case "armed":
      return state !== "trouble";
    case "autoMode":
      return state !== "hold";
    case "manualOnly":
      return state === "hold";
    case "preAlarm":
      return inSequence;
    case "preRelease":
      return state === "pre_release" || state === "abort_active";
    case "released":
      return state === "released";
    case "abortActive":
      return state === "abort_active";
    case "agentLowPressure":
      return state === "supervisory";
    case "trouble":
      return state === "trouble";
    case "countdownS":
      return countdownS();
    default:
      return undefined;
  }
}
