// Scenario files: every shipped one loads; a bad one is refused with file, line and key path.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { loadScenario, parseScenario } from "../../simulators/scenario.js";

function issuesOf(text: string): string {
  try {
    parseScenario("sc/bad.yaml", text);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("the scenario was accepted");
}

describe("scenario files", () => {
  it.each(["normal", "cell-runaway", "sensor-stuck", "device-silent", "panel-release"])("the shipped scenario %s loads", async (name) => {
    const s = await loadScenario(name);
    expect(s.name).toBe(name);
    expect(s.description.length).toBeGreaterThan(10);
  });

  it("cell-runaway shorts cab2 s1/m3/c7 at 20 s", async () => {
    const s = await loadScenario("cell-runaway");
    expect(s.steps[0]).toMatchObject({ atS: 20, command: { kind: "heat", device: "cab2", string: 1, module: 3, cell: 7 } });
  });

  it("steps become commands, ordered by time, with defaults filled in", () => {
    const s = parseScenario("x.yaml", [
      "name: t",
      "description: a test scenario",
      "steps:",
      "  - { at_s: 9, panel: { state: pre_release, countdown_s: 12 } }",
      "  - { at_s: 5, silent: { device: offgas-a } }",
      "  - { at_s: 5, stuck: { device: cab1, point: s1/m1/c1/tempC } }",
    ].join("\n"));
    expect(s.steps.map((x) => x.command)).toEqual([
      { kind: "silent", device: "offgas-a", on: true },
      { kind: "stuck", device: "cab1", point: "s1/m1/c1/tempC", on: true },
      { kind: "panel", state: "pre_release", countdownS: 12 },
    ]);
  });

  it("sensor_noise: absent keeps the defaults; given keys are taken, seconds to ms; nonsense is refused", () => {
    expect(parseScenario("x.yaml", "name: t\ndescription: a test\n").sensorNoise).toBeUndefined();
    const s = parseScenario("x.yaml", "name: t\ndescription: a test\nsensor_noise: { seed: 7, sigma_counts: 0.5, period_s: 2 }\n");
    expect(s.sensorNoise).toEqual({ seed: 7, sigmaCounts: 0.5, periodMs: 2000 });
    expect(parseScenario("x.yaml", "name: t\ndescription: a test\nsensor_noise: { enabled: false }\n").sensorNoise).toEqual({ enabled: false });
    expect(issuesOf("name: t\ndescription: a test\nsensor_noise: { sigma_counts: -1 }\n")).toMatch(/sc\/bad\.yaml:3:.*sensor_noise\.sigma_counts/);
    expect(issuesOf("name: t\ndescription: a test\nsensor_noise: { noise: 1 }\n")).toMatch(/sensor_noise/);
  });

  it("a wrong value is named by file, line and key path", () => {
    const msg = issuesOf("name: t\ndescription: d\nsteps:\n  - at_s: 20\n    heat: { device: cab2, string: 1, module: 3, cell: 0, watts: 40 }\n");
    expect(msg).toMatch(/^sc\/bad\.yaml:5:\d+ steps\[0\]\.heat\.cell: /);
  });

  it("an unknown key is named with its position", () => {
    expect(issuesOf("name: t\ndescription: d\nsteps:\n  - { at_s: 1, heet: { device: cab2 } }\n")).toMatch(/sc\/bad\.yaml:4:\d+ steps\[0\]\.heet: unknown key "heet"/);
  });

  it("a step that does two things, or none, is refused", () => {
    expect(issuesOf("name: t\ndescription: d\nsteps:\n  - { at_s: 1 }\n")).toMatch(/steps\[0\]: a step does exactly one thing/);
    expect(issuesOf("name: t\ndescription: d\nsteps:\n  - { at_s: 1, silent: { device: a }, panel: { state: normal } }\n")).toMatch(/steps\[0\]: a step does exactly one thing/);
  });

  it("an unknown panel state lists the known ones", () => {
    expect(issuesOf("name: t\ndescription: d\nsteps:\n  - { at_s: 1, panel: { state: burning } }\n")).toMatch(/steps\[0\]\.panel\.state: must be one of "normal", "pre_alarm"/);
  });

  it("a YAML syntax error names the file and line", () => {
    expect(issuesOf("name: t\ndescription: [unclosed\n")).toMatch(/^sc\/bad\.yaml:\d+:\d+ /);
  });

  it("an unknown scenario name says which ones ship", async () => {
    await expect(loadScenario("meteor-strike")).rejects.toThrow(/meteor-strike\.yaml.*no such scenario; shipped: normal, cell-runaway/);
  });
});
