// `npm run sim -- --scenario cell-runaway --speed 10`: the simulated battery room on its own. Serves
// every device of a site config over Modbus TCP and says in plain words what happens in the room.
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { pino } from "pino";
import { loadSiteConfig, packageRoot } from "../src/config/load.js";
import { tcpPort } from "../src/config/types.js";
import { FirebreakError } from "../src/errors.js";
import { acceleratedClock } from "../src/runtime/clock.js";
import { readFile } from "node:fs/promises";
import { startOpcuaRoom, type OpcuaRoom } from "./opcua/room.js";
import { loadScenario, startSimulation, type SimEvent, type Simulation } from "./simulation.js";

/** How often a status line is printed while something is happening, in clock seconds. */
const STATUS_EVERY_S = 30;

function number(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number from ${min} to ${max}`);
    return n;
  };
}

const program = new Command()
  .name("firebreak-sim")
  .description("Simulated Li-ion UPS battery room: Modbus TCP devices driven by a thermal model and a scenario")
  .option("-c, --config <file>", "site config whose devices to serve", join(packageRoot(), "config", "example-site.yaml"))
  .option("-s, --scenario <name|file>", "scenario to play (normal, cell-runaway, sensor-stuck, device-silent, panel-release, or a file)", "normal")
  .option("--speed <x>", "time compression: clock seconds per real second (>= 1)", number(1, 10_000), 1)
  .option("--control-port <port>", "HTTP control on 127.0.0.1 (POST /inject, GET /state); 0 = any free port", number(0, 65535))
  .option("--log-level <level>", "pino log level for the simulator's own log (to stderr)", "warn")
  .option("--opcua-port <port>", "port of the OPC UA server for the site's OPC UA devices", number(1, 65535), 4840)
  .option("--opcua-pki <dir>", "the OPC UA server's PKI folder (its certificate is made on first run)", "pki/opcua-sim")
  .option("--opcua-password-file <file>", "password of the OPC UA server's user `firebreak` (default: firebreak-sim)")
  .option("--noise-seed <n>", "seed of the sensors' measurement noise (same seed, same readings)", number(-0x7fffffff, 0x7fffffff))
  .option("--no-noise", "no measurement noise: every reading is the model's value rounded to its register")
  .action(async (o: { config: string; scenario: string; speed: number; controlPort?: number; logLevel: string; opcuaPort: number; opcuaPki: string; opcuaPasswordFile?: string; noiseSeed?: number; noise: boolean }) => {
    const log = pino({ level: o.logLevel }, pino.destination(2));
    const site = await loadSiteConfig(o.config);
    const loaded = await loadScenario(o.scenario);
    // Command-line noise settings win over the scenario's own `sensor_noise`.
    const sensorNoise = { ...loaded.sensorNoise, ...(o.noiseSeed !== undefined ? { seed: Math.trunc(o.noiseSeed) } : {}), ...(o.noise ? {} : { enabled: false }) };
    const scenario = { ...loaded, sensorNoise };
    const clock = acceleratedClock(o.speed);
    let room: OpcuaRoom | undefined;
    let sim: Simulation;
    if ((site.opcuaDevices ?? []).length > 0) {
      // OPC UA devices are served by one node-opcua server, their values from the same simulation.
      const password = o.opcuaPasswordFile !== undefined ? (await readFile(o.opcuaPasswordFile, "utf8")).trim() : "firebreak-sim";
      room = await startOpcuaRoom({ site, clock, scenario, log, port: o.opcuaPort, pkiDir: o.opcuaPki, users: [{ username: "firebreak", password }], modbusPort: (id) => tcpPort(site.devices.find((d) => d.id === id)?.modbus) });
      sim = room.sim;
    } else {
      sim = await startSimulation({ site, clock, scenario, log, ...(o.controlPort !== undefined ? { controlPort: o.controlPort } : {}) });
    }
    const startMs = sim.startedAt;
    const stamp = (at: number): string => {
      const s = (at - startMs) / 1000;
      return `[room ${fmt(s)} | screen ${fmt(s / o.speed)}]`;
    };

    console.log(`firebreak simulator: site ${site.site}, scenario "${scenario.name}"`);
    console.log(`  ${scenario.description}`);
    console.log(
      o.speed === 1
        ? "  time runs at real speed (no compression)."
        : `  time is compressed ${o.speed}x: 1 s on screen is ${o.speed} s in the room. Run the daemon on the same clock (same speed and epoch) so its rules see real-world rates.`,
    );
    for (const [id, port] of sim.ports) if (site.devices.some((d) => d.id === id)) console.log(`  ${id.padEnd(10)} modbus tcp 127.0.0.1:${port}`);
    if (room !== undefined) {
      console.log(`  opc ua     ${room.endpoint}  (${(site.opcuaDevices ?? []).map((d) => d.id).join(", ")}; user firebreak; server certificate ${room.certificateFile})`);
      if (o.controlPort !== undefined) console.log("  (the HTTP control is not available together with OPC UA devices yet)");
    }
    if (sim.controlPort !== undefined) console.log(`  control    http://127.0.0.1:${sim.controlPort}  (POST /inject, GET /state)`);
    console.log("Ctrl-C to stop.");

    const say = (e: SimEvent): void => console.log(`${stamp(e.at)} ${e.kind === "runaway" ? "RUNAWAY: " : e.kind === "vent" ? "VENT: " : ""}${e.message}`);
    sim.on("scenario-step", say);
    sim.on("vent", say);
    sim.on("runaway", say);
    const status = clock.setInterval(() => {
      const st = sim.state();
      const hot = st.cells[0];
      const gas = st.zones.filter((z) => z.ppm >= 0.1);
      if (hot === undefined || (hot.surfaceC < 30 && hot.heaterW === 0 && gas.length === 0)) return;
      const zones = gas.map((z) => `${z.id} ${z.ppm.toFixed(0)} ppm (${z.lflPct.toFixed(1)} % LFL)`).join(", ");
      console.log(`${stamp(st.at)} hottest cell ${hot.cell}: sensor ${hot.surfaceC.toFixed(1)} °C (${hot.rateCPerMin >= 0 ? "+" : ""}${hot.rateCPerMin.toFixed(1)} °C/min), core ${hot.coreC.toFixed(0)} °C, ${hot.voltageV.toFixed(2)} V${zones ? `; off-gas ${zones}` : ""}`);
    }, STATUS_EVERY_S * 1000);

    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    status.cancel();
    await (room ?? sim).stop();
    console.log("simulator stopped.");
  });

function fmt(s: number): string {
  const t = Math.floor(s);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`;
}

program.parseAsync().catch((err: unknown) => {
  if (err instanceof FirebreakError) {
    console.error(err.message);
    process.exit(err.code === "FB_CONFIG" ? 2 : 1);
  }
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
