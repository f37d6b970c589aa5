// The bench harness cannot rot: a CI-sized run (1,000 points, one run, short phases) starts its
// simulators, Mosquitto, the daemon and the wire-limit client, injects, and writes a results file.
// It checks that the harness works and the file is well formed, never how fast the machine is.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const entry = "dist/bench/main.js";

function runBench(out: string): Promise<{ code: number | null; output: string }> {
  if (!existsSync(entry)) throw new Error(`${entry} missing: run \`npm run build\` (npm test does it first)`);
  const child = spawn(process.execPath, [entry, "--smoke", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr.on("data", (b: Buffer) => (output += b.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

interface Figure {
  median: number;
  min: number;
  max: number;
  unit: string;
}

describe("the bench harness (smoke)", () => {
  it("runs 1,000 points end to end, sees every injection once and writes a well-formed results file", async () => {
    const out = await mkdtemp(join(tmpdir(), "fb-bench-smoke-"));
    try {
      const { code, output } = await runBench(out);
      expect(code, output).toBe(0);
      const files = await readdir(out);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^\d{4}-\d{2}-\d{2}-[0-9a-f]+-smoke\.json$|^\d{4}-\d{2}-\d{2}-unknown-smoke\.json$/);
      const r = JSON.parse(await readFile(join(out, files[0]!), "utf8")) as {
        ok: boolean;
        failures: string[];
        machine: { cpuModel: string; cores: number; node: string };
        sizes: { target: number; points: number; runs: number; figures: Record<string, Figure>; latency: Record<string, { count: number; p50: number; p99: number; max: number; unit: string }> }[];
      };
      expect(r.ok, r.failures.join("\n")).toBe(true);
      expect(r.machine.cores).toBeGreaterThan(0);
      expect(r.machine.node).toBe(process.version);
      expect(r.sizes).toHaveLength(1);
      const size = r.sizes[0]!;
      expect(size.target).toBe(1000);
      expect(size.points).toBeGreaterThanOrEqual(1000);
      for (const key of ["wire.pointsPerS", "saturated.pointsPerS", "saturated.ratioToWire", "saturated.cpuMsPer10k", "steady.rssMB", "steady.cpuMsPer10k", "mqtt.eventsPerS", "saturated.simCpuPct"]) {
        const f = size.figures[key];
        expect(f, key).toBeDefined();
        expect(f!.unit, key).not.toBe("");
        expect(f!.min, key).toBeLessThanOrEqual(f!.median);
        expect(f!.median, key).toBeLessThanOrEqual(f!.max);
        expect(f!.median, key).toBeGreaterThan(0);
      }
      // Every injection was seen (a missing one fails the run, so ok above already says so) and timed.
      expect(size.latency.warmStage!.count).toBeGreaterThan(0);
      expect(size.latency.warmOverhead!.p50).toBeLessThanOrEqual(size.latency.warmStage!.max);
      expect(size.latency.runawayTrigger!.count).toBe(4);
      expect(output).toContain("| points |");
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 90_000);
});
