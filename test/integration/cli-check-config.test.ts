import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnCli } from "../support/daemon-process.js";

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

describe("firebreak check-config", () => {
  it("explains a valid config and exits 0", async () => {
    const r = await runCli(["check-config", "-c", "config/example-site.yaml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("config/example-site.yaml: OK");
    expect(r.stdout).toContain("device cab2: li-ion-cabinet at 127.0.0.1:15022 unit 1, 168 points");
    expect(r.stdout).toContain("action open-cab2-s1 (open_string_contactor) DISABLED: cab2/s1/setCon = 2 when batt-a reaches evacuate; interlock: evacuate with 2 knocks at alarm");
    expect(r.stdout).toContain("rule cell-dev-a (deviation): 128 points");
  });

  it("refuses a bad config with exit code 2, naming file:line:column and key path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-cli-"));
    const file = join(dir, "site.yaml");
    const text = await readFile("config/example-site.yaml", "utf8");
    await writeFile(file, text.replace("profile: room-sensor, zone: batt-a", "profile: ups-lion, zone: batt-a"));
    const r = await runCli(["check-config", "-c", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:31:28 devices[6].profile: unknown profile "ups-lion"; known: clean-agent-panel, hvac-ahu, li-ion-cabinet, li-ion-rack-bms, offgas-detector, room-sensor`);
    expect(r.stdout).toBe("");
  });

  it("warns when a rate_of_rise window is too short for how often its points are polled", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-cli-"));
    const file = join(dir, "site.yaml");
    const text = await readFile("config/example-site.yaml", "utf8");
    await writeFile(file, text.replace("{ id: cab1, profile: li-ion-cabinet, zone: batt-a,", "{ id: cab1, profile: li-ion-cabinet, zone: batt-a, poll_interval_ms: 10000,"));
    const r = await runCli(["check-config", "-c", file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning: rule cell-ror-a (rate_of_rise) never judges 64 points (e.g. cab1/s1/m1/c1/tempC): a 60 s window holds at most 7 samples at one every 10 s, fewer than min_samples 10");
    expect(r.stderr).not.toContain("cab2/");
  });

  it("refuses to run a daemon with a bad config: exit 2, nothing started", async () => {
    const r = await runCli(["run", "-c", "/nonexistent/site.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("/nonexistent/site.yaml");
  });
});
