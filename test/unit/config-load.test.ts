import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfiles, loadSiteConfig, shippedProfilesDir } from "../../src/config/load.js";
import { configIssues } from "../support/config-issues.js";

const example = "config/example-site.yaml";

async function variant(edit: (text: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fb-config-"));
  const file = join(dir, "site.yaml");
  await writeFile(file, edit(await readFile(example, "utf8")));
  return file;
}

/** `line:column` where `needle` starts in `text`, as the loader reports it. */
function posOf(text: string, needle: string, offset = 0): string {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`fixture text lacks ${needle}`);
  const before = text.slice(0, i + offset).split("\n");
  return `${before.length}:${before.at(-1)!.length + 1}`;
}

const issuesOf = (file: string): Promise<string[]> => configIssues(file, { positions: true });

describe("config loading", () => {
  it("loads every shipped profile without an issue", async () => {
    const { profiles, issues } = await loadProfiles(shippedProfilesDir());
    expect(issues).toEqual([]);
    expect([...profiles.keys()].sort()).toEqual(["clean-agent-panel", "hvac-ahu", "li-ion-cabinet", "li-ion-rack-bms", "offgas-detector", "room-sensor"]);
  });

  it("reads the SunSpec contactor state as the bitfield32 it is (804 ConSt, offsets 26-27), and SoH from 802", async () => {
    const cab = (await loadProfiles(shippedProfilesDir())).profiles.get("li-ion-cabinet")!;
    expect(cab.sunspec!.points.find((p) => p.model === 804 && p.id === "contactorState")).toMatchObject({ offset: 26, type: "bitfield32" });
    expect(cab.sunspec!.points.find((p) => p.id === "soh")).toMatchObject({ model: 802, offset: 13, sf_offset: 58 });
  });

  it("loads the vendor-style rack profile: low word first, divisors, packed signed bytes, one writable register", async () => {
    const rack = (await loadProfiles(shippedProfilesDir())).profiles.get("li-ion-rack-bms")!;
    expect(rack.defaults.word_order).toBe("little");
    expect(rack.points.find((p) => p.id === "voltV")).toMatchObject({ type: "u32", divisor: 1000 });
    expect(rack.points.find((p) => p.id === "mod2TempC")).toMatchObject({ type: "i8", byte: "low", address: 16, sentinels: [-128] });
    expect(rack.points.filter((p) => p.writable).map((p) => p.id)).toEqual(["alarmReset"]);
  });

  it("loads the example site into typed, frozen objects", async () => {
    const c = await loadSiteConfig(example);
    expect(c.site).toBe("dc1");
    expect([...c.zones.keys()]).toEqual(["batt-a", "batt-b"]);
    const cab2 = c.devices.find((d) => d.id === "cab2")!;
    // 2 strings x 4 modules x 8 cells, a voltage and a temperature each, plus aggregates.
    expect(cab2.points.filter((p) => p.pointId.endsWith("/tempC")).length).toBe(64);
    expect(cab2.points.map((p) => p.pointId)).toContain("s1/m3/c7/tempC");
    expect(cab2.timeoutMs).toBe(500);
    expect(cab2.staleAfterMs).toBe(3000);
    const dev = c.rules.find((r) => r.id === "cell-dev-a")!;
    expect(dev.kind === "deviation" && dev.points.length).toBe(128);
    expect(Object.isFrozen(c.devices[0])).toBe(true);
  });

  it("names file, line, column and key path of an unknown profile, listing the known ones", async () => {
    const file = await variant((t) => t.replace("profile: room-sensor, zone: batt-a", "profile: ups-lion, zone: batt-a"));
    expect(await issuesOf(file)).toEqual([
      '31:28 devices[6].profile: unknown profile "ups-lion"; known: clean-agent-panel, hvac-ahu, li-ion-cabinet, li-ion-rack-bms, offgas-detector, room-sensor',
    ]);
  });

  it("reports every problem at once: wrong type, unknown key, unknown kind", async () => {
    const file = await variant((t) =>
      t.replace("rate_per_min: 2 ", 'rate_per_min: "2" ').replace("clean_session: false", "clean_sesion: false").replace("kind: comm_loss\n    zone: batt-b", "kind: comms\n    zone: batt-b"),
    );
    const issues = await issuesOf(file);
    const text = await readFile(file, "utf8");
    expect(issues).toHaveLength(3);
    expect(issues[0]!.startsWith(`${posOf(text, '"2" ')} rules[2].rate_per_min`)).toBe(true);
    expect(issues[0]).toMatch(/^\d+:19 rules\[2\]\.rate_per_min: .*expected number/);
    expect(issues[1]).toMatch(/^\d+:11 rules\[28\]\.kind: .*comm_loss/);
    expect(issues[2]).toMatch(/^\d+:3 mqtt\.clean_sesion: unknown key "clean_sesion"/);
  });

  it("refuses a rule whose point glob matches nothing", async () => {
    const file = await variant((t) => t.replace("points: [room-a/tempC]", "points: [room-a/tmpC]"));
    const at = posOf(await readFile(file, "utf8"), "room-a/tmpC");
    expect(await issuesOf(file)).toEqual([expect.stringMatching(new RegExp(`^${at} rules\\[6\\]\\.points\\[0\\]: "room-a/tmpC" matches no point`))]);
  });

  it("refuses a YAML syntax error with its position", async () => {
    const file = await variant((t) => t.replace("site: dc1", "site: [dc1"));
    const issues = await issuesOf(file);
    expect(issues[0]).toMatch(/^\d+:\d+ \(document\)|^\d+:\d+ : /);
  });

  it("refuses a SunSpec cabinet without a layout, and a device in an unknown zone", async () => {
    const file = await variant((t) =>
      t.replace("zone: batt-a, modbus: { host: 127.0.0.1, port: 15021, unit_id: 1 }, layout: { strings: 2, modules_per_string: 4, cells_per_module: 8 } }", "zone: batt-z, modbus: { host: 127.0.0.1, port: 15021, unit_id: 1 } }"),
    );
    const issues = await issuesOf(file);
    expect(issues).toContain('25:48 devices[0].zone: unknown zone "batt-z"; known: batt-a, batt-b');
    expect(issues.some((i) => i.includes("devices[0]") && i.includes("add layout"))).toBe(true);
  });

  it("reads the MQTT password from its file and says which file it cannot read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-secret-"));
    await writeFile(join(dir, "pass"), "s3cret\n");
    // mqtts: a password on plain mqtt:// is refused (see the config-limits tests).
    const tls = (t: string) => t.replace("url: mqtt://127.0.0.1:1883", "url: mqtts://127.0.0.1:8883");
    const ok = await variant((t) => tls(t).replace("clean_session: false", `clean_session: false\n  username: fb\n  password_file: ${join(dir, "pass")}`));
    expect((await loadSiteConfig(ok)).mqtt?.password).toBe("s3cret");
    const missing = await variant((t) => tls(t).replace("clean_session: false", "clean_session: false\n  username: fb\n  password_file: /nonexistent/pass"));
    expect((await issuesOf(missing))[0]).toMatch(/mqtt\.password_file: cannot read \/nonexistent\/pass/);
  });
});
