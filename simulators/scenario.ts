// Scenario files (simulators/scenarios/*.yaml): timelines of injections the simulation plays on its
// clock. Parsed with `yaml`, checked with zod; a bad file is refused with file:line:column and path.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { packageRoot } from "../src/config/load.js";
import { YamlSource } from "../src/config/yaml-source.js";
import { ConfigError, FileReadError, type ConfigIssue } from "../src/errors.js";
import { panelStates, type PanelState } from "./devices/clean-agent-panel.js";
import type { SensorNoiseConfig } from "./sensor-noise.js";

/** One thing done to the simulated room, from a scenario step, the control API or a test. */
export type InjectCommand =
  | { readonly kind: "heat"; readonly device: string; readonly string: number; readonly module: number; readonly cell: number; readonly watts: number }
  | { readonly kind: "silent"; readonly device: string; readonly on: boolean }
  | { readonly kind: "stuck"; readonly device: string; readonly point: string; readonly on: boolean }
  | { readonly kind: "sentinel"; readonly device: string; readonly point: string; readonly on: boolean }
  | { readonly kind: "panel"; readonly device?: string; readonly state: PanelState; readonly countdownS?: number }
  /** The device accepts writes and echoes them but carries none out (README "Protective actions": tests the read-back). */
  | { readonly kind: "ignore_writes"; readonly device: string; readonly on: boolean };

export interface ScenarioStep {
  /** Seconds of clock time after the simulation starts. */
  readonly atS: number;
  /** What a person watching should be told, in plain words. */
  readonly note?: string;
  readonly command: InjectCommand;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly steps: readonly ScenarioStep[];
  /** The scenario's own sensor noise settings (simulators/sensor-noise.ts); unset keys keep the defaults. */
  readonly sensorNoise?: Partial<SensorNoiseConfig>;
}

const id = z.string().regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, '_' and '-' only");
const index = z.number().int().min(1);
const pointRef = z.object({ device: id, point: z.string().min(1), on: z.boolean().default(true) }).strict();

export const injectSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("heat"), device: id, string: index, module: index, cell: index, watts: z.number().finite().min(0) }).strict(),
  z.object({ kind: z.literal("silent"), device: id, on: z.boolean().default(true) }).strict(),
  z.object({ kind: z.literal("stuck"), ...pointRef.shape }).strict(),
  z.object({ kind: z.literal("sentinel"), ...pointRef.shape }).strict(),
  z.object({ kind: z.literal("panel"), device: id.optional(), state: z.enum(panelStates), countdown_s: z.number().finite().min(0).optional() }).strict(),
  z.object({ kind: z.literal("ignore_writes"), device: id, on: z.boolean().default(true) }).strict(),
]);

const stepSchema = z
  .object({
    at_s: z.number().finite().min(0),
    note: z.string().optional(),
    heat: z.object({ device: id, string: index, module: index, cell: index, watts: z.number().finite().min(0) }).strict().optional(),
    silent: z.object({ device: id, on: z.boolean().default(true) }).strict().optional(),
    stuck: pointRef.optional(),
    sentinel: pointRef.optional(),
    panel: z.object({ device: id.optional(), state: z.enum(panelStates), countdown_s: z.number().finite().min(0).optional() }).strict().optional(),
    ignore_writes: z.object({ device: id, on: z.boolean().default(true) }).strict().optional(),
  })
  .strict()
  .refine((s) => [s.heat, s.silent, s.stuck, s.sentinel, s.panel, s.ignore_writes].filter((x) => x !== undefined).length === 1, {
    message: "a step does exactly one thing: give one of heat, silent, stuck, sentinel, panel, ignore_writes",
  });

const scenarioSchema = z
  .object({
    name: id,
    description: z.string().min(1, "say in plain words what this scenario plays"),
    steps: z.array(stepSchema).default([]),
    /** Measurement noise of every analogue reading (README "Simulator"); default on. */
    sensor_noise: z
      .object({
        enabled: z.boolean().optional(),
        seed: z.number().int().optional(),
        sigma_counts: z.number().finite().min(0).max(10).optional(),
        period_s: z.number().finite().min(0.05).max(3600).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

function noiseOf(n: z.output<typeof scenarioSchema>["sensor_noise"]): Partial<SensorNoiseConfig> | undefined {
  if (n === undefined) return undefined;
  return {
    ...(n.enabled !== undefined ? { enabled: n.enabled } : {}),
    ...(n.seed !== undefined ? { seed: n.seed } : {}),
    ...(n.sigma_counts !== undefined ? { sigmaCounts: n.sigma_counts } : {}),
    ...(n.period_s !== undefined ? { periodMs: n.period_s * 1000 } : {}),
  };
}

/** An InjectCommand from its JSON/YAML form (snake_case), as the control API receives it. */
export function toInjectCommand(input: z.output<typeof injectSchema>): InjectCommand {
  if (input.kind === "ignore_writes") return { kind: "ignore_writes", device: input.device, on: input.on };
  if (input.kind !== "panel") return input;
  return {
    kind: "panel",
    state: input.state,
    ...(input.device !== undefined ? { device: input.device } : {}),
    ...(input.countdown_s !== undefined ? { countdownS: input.countdown_s } : {}),
  };
}

function stepCommand(s: z.output<typeof stepSchema>): InjectCommand {
  if (s.heat) return { kind: "heat", ...s.heat };
  if (s.silent) return { kind: "silent", ...s.silent };
  if (s.stuck) return { kind: "stuck", ...s.stuck };
  if (s.sentinel) return { kind: "sentinel", ...s.sentinel };
  if (s.ignore_writes) return { kind: "ignore_writes", ...s.ignore_writes };
  return toInjectCommand({ kind: "panel", ...s.panel! });
}

/** Parse a scenario's text; throws ConfigError naming file:line:column and the key path. */
export function parseScenario(file: string, text: string): Scenario {
  const { source, issues } = YamlSource.parse(file, text);
  if (issues.length > 0) throw new ConfigError(issues);
  const js = source.toJS();
  if (js.issues.length > 0) throw new ConfigError(js.issues);
  const parsed = scenarioSchema.safeParse(js.value);
  if (!parsed.success) throw new ConfigError(source.zodIssues(parsed.error));
  const steps = parsed.data.steps
    .map((s): ScenarioStep => ({ atS: s.at_s, ...(s.note !== undefined ? { note: s.note } : {}), command: stepCommand(s) }))
    .sort((a, b) => a.atS - b.atS); // stable: steps at the same time keep their order
  const sensorNoise = noiseOf(parsed.data.sensor_noise);
  return { name: parsed.data.name, description: parsed.data.description, file, steps, ...(sensorNoise !== undefined ? { sensorNoise } : {}) };
}

/** The directory of the shipped scenarios. */
export const scenariosDir = (): string => join(packageRoot(), "simulators", "scenarios");

/** Load a shipped scenario by name (`cell-runaway`) or a scenario file by path. */
export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  const file = /[/\\]|\.ya?ml$/.test(nameOrPath) ? nameOrPath : join(scenariosDir(), `${nameOrPath}.yaml`);
  if (!existsSync(file)) {
    const issue: ConfigIssue = { file, line: 1, column: 1, path: "", message: `no such scenario; shipped: normal, cell-runaway, sensor-stuck, stuck-initiating-cell, device-silent, panel-release` };
    throw new ConfigError([issue]);
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new FileReadError(file, e);
  }
  return parseScenario(file, text);
}
