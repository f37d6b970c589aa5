import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfiles, loadSiteConfig, shippedProfilesDir } from "../../src/config/load.js";
import { configIssues } from "../support/config-issues.js";

const example = "config/example-site.yaml";

/** The example site with an `actions:` section appended (YAML text, as a user writes it). */
async function withActions(actions: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fb-actions-"));
  const file = join(dir, "site.yaml");
  const text = (await readFile(example, "utf8")).replace(/\nactions:[\s\S]*?(?=\n[a-z_]+:|\n*$)/, "");
  await writeFile(file, `${text}\nactions:\n${actions}`);
  return file;
}

const issuesOf = (file: string): Promise<string[]> => configIssues(file);

const contactor = (over = "") => `  - id: open-cab1-s1
    kind: open_string_contactor
    device: cab1
    write: { point: s1/setCon, value: 2 }
    expect: [{ point: s1/contactorClosed, value: 0 }, { point: s1/currentA, value: 0, tolerance: 0.1 }]
    on: { zone: batt-a, stage: evacuate }
${over}`;

describe("protective actions in the config", () => {
  it("an enabled contactor action with its interlock loads, typed, with the documented defaults", async () => {
    const c = await loadSiteConfig(await withActions(contactor("    enabled: true\n    dry_run: false\n    interlock: { zone_stage: evacuate, min_knocks: 2 }\n")));
    expect(c.actions).toEqual([
      {
        id: "open-cab1-s1",
        description: "open-cab1-s1",
        kind: "open_string_contactor",
        device: "cab1",
        write: { point: "s1/setCon", value: 2 },
        expect: [{ point: "s1/contactorClosed", value: 0, tolerance: 0 }, { point: "s1/currentA", value: 0, tolerance: 0.1 }],
        on: { zone: "batt-a", stage: "evacuate" },
        enabled: true,
        dryRun: false,
        interlock: { zoneStage: "evacuate", minKnocks: 2 },
        verify: { retries: 5, intervalMs: 1000, timeoutMs: 10_000 },
        rateLimit: { max: 1, perMs: 300_000 },
      },
    ]);
  });

  it("an action is disabled and a dry run unless said otherwise", async () => {
    const c = await loadSiteConfig(await withActions(contactor()));
    expect(c.actions?.[0]).toMatchObject({ enabled: false, dryRun: true });
  });

  it("refuses an enabled action without an interlock", async () => {
    expect(await issuesOf(await withActions(contactor("    enabled: true\n")))).toEqual([expect.stringMatching(/^actions\[0\]\.interlock: an enabled action needs an interlock/)]);
  });

  it("refuses an interlock on one knock: never one sensor", async () => {
    const issues = await issuesOf(await withActions(contactor("    enabled: true\n    interlock: { zone_stage: evacuate, min_knocks: 1 }\n")));
    expect(issues).toEqual([expect.stringMatching(/^actions\[0\]\.interlock\.min_knocks: an interlock needs two independent knocks at least/)]);
  });

  it("refuses a point the profile does not declare writable, an unknown stage and an unknown read-back point", async () => {
    const issues = await issuesOf(
      await withActions(`  - id: bad
    kind: open_string_contactor
    device: cab1
    write: { point: s1/contactorClosed, value: 0 }
    expect: [{ point: s1/nope, value: 0 }]
    on: { zone: batt-a, stage: burning }
`),
    );
    expect(issues).toEqual([
      expect.stringMatching(/^actions\[0\]\.on\.stage: "burning" is not a stage an action can be bound to; stages: watch, pre_alarm, alarm, evacuate/),
      expect.stringMatching(/^actions\[0\]\.write: point "s1\/contactorClosed" is not writable in profile li-ion-cabinet \(.*li-ion-cabinet\.yaml; its writable points: setOp, setCon\)/),
      'actions[0].expect[0].point: device cab1 has no point "s1/nope" to read back',
    ]);
  });

  it("refuses a value that does not fit the register", async () => {
    const issues = await issuesOf(await withActions(contactor().replace("value: 2 }", "value: 70000 }")));
    expect(issues).toEqual(['actions[0].write: value 70000 does not fit point "s1/setCon" (u16: 0..65535)']);
  });

  it("stop recirculation (a coil) and close a damper (a register) on the generic hvac-ahu profile", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-ahu-"));
    const file = join(dir, "site.yaml");
    const text = (await readFile(example, "utf8")).replace(/\nactions:[\s\S]*$/, "").replace(
      "  - { id: panel-1,",
      "  - { id: ahu-1, profile: hvac-ahu, zone: batt-a, modbus: { host: 127.0.0.1, port: 15030, unit_id: 1 } }\n  - { id: panel-1,",
    );
    const lock = "    enabled: true\n    dry_run: false\n    interlock: { zone_stage: alarm, min_knocks: 2 }\n";
    await writeFile(
      file,
      `${text}\nactions:\n  - id: stop-recirc\n    kind: stop_recirculation\n    device: ahu-1\n    write: { point: recirculationRun, value: 0 }\n    expect: [{ point: recirculationRunning, value: 0 }]\n    on: { zone: batt-a, stage: alarm }\n${lock}` +
        `  - id: close-damper\n    kind: close_damper\n    device: ahu-1\n    write: { point: damperCommand, value: 1 }\n    expect: [{ point: damperClosed, value: 1 }]\n    on: { zone: batt-a, stage: alarm }\n${lock}`,
    );
    const c = await loadSiteConfig(file);
    expect(c.actions?.map((a) => [a.id, a.kind, a.write, a.on.stage])).toEqual([
      ["stop-recirc", "stop_recirculation", { point: "recirculationRun", value: 0 }, "alarm"],
      ["close-damper", "close_damper", { point: "damperCommand", value: 1 }, "alarm"],
    ]);
    // A coil takes 0 or 1 only.
    await writeFile(file, (await readFile(file, "utf8")).replace("point: recirculationRun, value: 0", "point: recirculationRun, value: 2"));
    expect(await issuesOf(file)).toEqual(['actions[0].write: point "recirculationRun" is a coil: write 0 or 1, not 2']);
  });

  it("refuses any action on the clean-agent releasing panel, naming its profile file", async () => {
    const issues = await issuesOf(
      await withActions(`  - id: release
    kind: close_damper
    device: panel-1
    write: { point: preRelease, value: 1 }
    expect: [{ point: preRelease, value: 1 }]
    on: { zone: batt-a, stage: evacuate }
`),
    );
    expect(issues).toEqual([expect.stringMatching(/^actions\[0\]\.device: device panel-1 uses profile clean-agent-panel \(.*clean-agent-panel\.yaml\), a suppression-release panel \(role: suppression_panel\): firebreak never writes to a releasing panel/)]);
  });
});

describe("suppression-release panel profiles", () => {
  it("the shipped panel profiles are marked as releasing panels", async () => {
    const { profiles, opcuaProfiles } = await loadProfiles(shippedProfilesDir());
    expect(profiles.get("clean-agent-panel")?.role).toBe("suppression_panel");
    expect(opcuaProfiles.get("clean-agent-panel-opcua")?.role).toBe("suppression_panel");
  });

  it("a panel profile with a writable point is refused, naming the file, line and point", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-panel-"));
    await cp(shippedProfilesDir(), dir, { recursive: true });
    const file = join(dir, "clean-agent-panel.yaml");
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace("{ id: abortActive, table: discrete, address: 6, type: u16, unit: \"\" }", "{ id: abortActive, table: coil, address: 6, type: u16, unit: \"\", writable: true }"));
    const { issues } = await loadProfiles(dir);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file, path: "points[6].writable" });
    expect(issues[0]!.line).toBeGreaterThan(1);
    expect(issues[0]!.message).toContain(`point "abortActive" of profile clean-agent-panel (${file}) is writable, but the profile is a suppression-release panel (role: suppression_panel)`);
  });

  it("a writable discrete input is refused (Modbus writes coils and holding registers only)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-prof-"));
    await writeFile(join(dir, "x.yaml"), "id: x\ndescription: test\nprotocol: modbus\npoints:\n  - { id: a, table: discrete, address: 0, writable: true }\n");
    const { issues } = await loadProfiles(dir);
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual(["points[0].writable: a discrete input cannot be written (Modbus writes coils and holding registers only)"]);
  });
});
