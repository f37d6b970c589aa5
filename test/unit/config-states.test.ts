// The `state` and `vote` rule kinds in the site config: what is accepted, and the clear errors for what is not.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { ruleSchema } from "../../src/config/site-schema.js";
import { ConfigError } from "../../src/errors.js";
import { exampleSite } from "./fixtures-rules.js";

const issues = (rule: unknown): string[] => {
  const r = ruleSchema.safeParse(rule);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};
const base = { id: "s", zone: "z1", points: ["panel-1/preRelease"] };

describe("state and vote rules in the config", () => {
  it("a state rule takes value or bit states, a class, and a countdown point", () => {
    expect(issues({ ...base, kind: "state", states: [{ name: "pre_release", value: 1, stage: "evacuate", countdown_point: "panel-1/countdownS" }] })).toEqual([]);
    expect(issues({ ...base, kind: "state", states: [{ name: "released", value: 1, stage: "released" }] })).toEqual([]);
    expect(issues({ ...base, kind: "state", class: "supervisory", states: [{ name: "low", bit: 7 }] })).toEqual([]);
    const parsed = ruleSchema.parse({ ...base, kind: "state", states: [{ name: "x", value: 1, stage: "alarm" }] });
    expect(parsed.kind === "state" && parsed.class).toBe("condition");
  });

  it.each([
    ["neither value nor bit", { states: [{ name: "x", stage: "alarm" }] }, /states\.0: a state needs exactly one of `value:` and `bit:`/],
    ["both value and bit", { states: [{ name: "x", value: 1, bit: 1, stage: "alarm" }] }, /exactly one of `value:` and `bit:`/],
    ["a condition state without a stage", { states: [{ name: "x", value: 1 }] }, /states\.0\.stage: a condition state rule needs a `stage:`/],
    ["a trouble state with a stage", { class: "trouble", states: [{ name: "x", value: 1, stage: "alarm" }] }, /states\.0\.stage: a trouble state rule raises its alarm, not a stage/],
    ["a bit beyond 31", { states: [{ name: "x", bit: 32, stage: "alarm" }] }, /states\.0\.bit/],
    ["a countdown glob", { states: [{ name: "x", value: 1, stage: "evacuate", countdown_point: "panel-*/countdownS" }] }, /countdown_point: a single point key, not a glob/],
    ["an unknown key", { states: [{ name: "x", value: 1, stage: "alarm", level: 3 }] }, /states\.0/],
  ])("a state rule with %s is refused, naming where", (_what, extra, message) => {
    expect(issues({ ...base, kind: "state", ...extra }).join("\n")).toMatch(message);
  });

  it("only state and vote rules may raise `released`", () => {
    expect(issues({ ...base, kind: "threshold", levels: [{ name: "high", value: 1, stage: "released" }] }).join("\n")).toMatch(/levels\.0\.stage/);
    expect(issues({ ...base, kind: "vote", points: ["a/x", "b/x"], votes: 2, when: { value: 1 }, stage: "released" })).toEqual([]);
  });

  it.each([
    ["one vote", { votes: 1 }, /votes/],
    ["one detector", { points: ["a/x"] }, /points/],
    ["two ways to vote", { when: { value: 1, at_least: 3 } }, /when: use exactly one of `value:`, `bit:` and `at_least:`/],
    ["an unknown policy", { blind_detector: "ignore" }, /blind_detector/],
  ])("a vote rule with %s is refused", (_what, extra, message) => {
    const rule = { ...base, kind: "vote", points: ["a/x", "b/x", "c/x"], votes: 2, when: { value: 1 }, stage: "alarm", ...extra };
    expect(issues(rule).join("\n")).toMatch(message);
  });

  it("the example site reads the panel as states, with the countdown point resolved", async () => {
    const { config } = await exampleSite();
    const pre = config.rules.find((r) => r.id === "panel-pre-release");
    expect(pre).toMatchObject({ kind: "state", class: "condition", points: ["panel-1/preRelease"], states: [{ name: "pre_release", value: 1, stage: "evacuate", countdownPoint: "panel-1/countdownS" }] });
    expect(config.rules.filter((r) => r.kind === "threshold" && r.points.some((p) => p.startsWith("panel-1/")))).toEqual([]);
    expect(config.rules.find((r) => r.id === "bms-trouble-a")).toMatchObject({ kind: "state", class: "trouble", states: [{ name: "fault", value: 99 }] });
  });

  it("a countdown point that matches no point is refused at its line, naming the state", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-states-"));
    const file = join(dir, "site.yaml");
    const text = (await readFile("config/example-site.yaml", "utf8")).replace("countdown_point: panel-1/countdownS }", "countdown_point: panel-1/countdown }");
    await writeFile(file, `profiles_dir: ${resolve("config/profiles")}\n${text}`);
    const err = await loadSiteConfig(file).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    expect(lines).toEqual([expect.stringMatching(/^rules\[\d+\]\.states\[0\]\.countdown_point: "panel-1\/countdown" matches no point/)]);
  });

  it("a vote needing more detectors than its points match is refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-states-"));
    const file = join(dir, "site.yaml");
    const vote = "  - { id: gas-vote, kind: vote, zone: batt-a, points: [offgas-a/ppm, offgas-b/ppm], votes: 3, when: { at_least: 50 }, stage: alarm }\n";
    const text = (await readFile("config/example-site.yaml", "utf8")).replace("rules:\n", `rules:\n${vote}`);
    await writeFile(file, `profiles_dir: ${resolve("config/profiles")}\n${text}`);
    const err = await loadSiteConfig(file).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`)).toEqual(["rules[0].votes: 3 votes needed but the points match only 2 detectors (offgas-a/ppm, offgas-b/ppm)"]);
  });
});
