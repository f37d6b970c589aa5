// `npm run bench [-- --quick | --smoke] [--sizes 1000,100000] [--shapes site,hall-rule] [--runs N] [--out DIR]`:
// runs the harness for each shape at each size several times, writes bench/results/<date>-<git sha>.json and prints the
// table. Exit 1 when any run failed its own checks (an injection not seen exactly once, an error).
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runOnce, type PhaseTimes, type RunResult } from "./harness.js";
import { summarize, table, type SizeReport } from "./report.js";
import { SHAPES, SIZES, type Shape } from "./site-gen.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    smoke: { type: "boolean", default: false },
    sizes: { type: "string" },
    shapes: { type: "string" },
    runs: { type: "string" },
    out: { type: "string", default: "bench/results" },
  },
});

const mode = args.smoke ? "smoke" : args.quick ? "quick" : "full";
const TIMES: Record<typeof mode, PhaseTimes> = {
  full: { wireSeconds: 5, saturatedSeconds: 8, burstSeconds: 4, steadySeconds: 5, warmInjections: 70, saturatedIntervalMs: 1, steadyIntervalMs: 1000, simProcesses: 2, latencyBoundSeconds: 120 },
  quick: { wireSeconds: 2, saturatedSeconds: 3, burstSeconds: 2, steadySeconds: 3, warmInjections: 24, saturatedIntervalMs: 1, steadyIntervalMs: 1000, simProcesses: 2, latencyBoundSeconds: 25 },
  smoke: { wireSeconds: 1, saturatedSeconds: 1, burstSeconds: 1, steadySeconds: 1, warmInjections: 4, saturatedIntervalMs: 1, steadyIntervalMs: 250, simProcesses: 1, latencyBoundSeconds: 8 },
};
const times = TIMES[mode];
const defaultSizes = mode === "smoke" ? [1000] : mode === "quick" ? [10_000, 100_000] : SIZES.map((s) => s.target);
const targets = args.sizes !== undefined ? args.sizes.split(",").map(Number) : defaultSizes;
const runs = Number(args.runs ?? (mode === "full" ? 3 : 1));
// The scale shapes (site-gen.ts SHAPES) at 10k, 50k and 100k; smoke runs today's site only.
const shapes = (args.shapes?.split(",") ?? (mode === "smoke" ? ["site"] : [...SHAPES])) as Shape[];
for (const s of shapes) if (!SHAPES.includes(s)) throw new Error(`unknown shape ${s}; known: ${SHAPES.join(", ")}`);
const SHAPE_SIZES = new Set([10_000, 50_000, 100_000]);

function git(...a: string[]): string {
  try {
    return execFileSync("git", a, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

const started = new Date();
const loadStart = loadavg()[0];
const sha = git("rev-parse", "--short", "HEAD");
const dirty = git("status", "--porcelain", "--untracked-files=no", "src", "bench") !== "";
const log = (s: string): void => void process.stdout.write(`${s}\n`);
log(`firebreak bench (${mode}): shapes ${shapes.join(", ")}, sizes ${targets.join(", ")}, ${runs} run(s) each, commit ${sha}${dirty ? " (with uncommitted changes)" : ""}`);

const reports: SizeReport[] = [];
const failures: string[] = [];
for (const shape of shapes) {
  for (const target of targets) {
    if (shape !== "site" && !SHAPE_SIZES.has(target) && args.sizes === undefined) continue;
    const size = SIZES.find((s) => s.target === target);
    if (size === undefined) throw new Error(`unknown size ${target}; known: ${SIZES.map((s) => s.target).join(", ")}`);
    const results: RunResult[] = [];
    for (let r = 1; r <= runs; r++) {
      log(`${shape}: ${target.toLocaleString("en-US")} points, run ${r}/${runs}`);
      try {
        results.push(await runOnce(size, times, log, shape));
      } catch (e) {
        const msg = `${shape} ${target} run ${r}: ${e instanceof Error ? e.message : String(e)}`;
        failures.push(msg);
        log(`  FAILED: ${msg}`);
      }
    }
    if (results.length > 0) {
      const rep = summarize(results);
      reports.push(rep);
      failures.push(...rep.problems.map((p) => `${shape} ${target}: ${p}`));
    }
  }
}

const cpuList = cpus();
const result = {
  schema: 1,
  date: started.toISOString(),
  gitSha: sha,
  dirty,
  mode,
  command: `npm run bench${mode === "full" ? "" : ` -- --${mode}`}`,
  machine: { cpuModel: cpuList[0]?.model ?? "unknown", cores: cpuList.length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` },
  settings: times,
  shapes,
  /** 1-minute load average when the run started and ended: the machine may be shared. */
  loadavg: { start: loadStart, end: loadavg()[0] },
  ok: failures.length === 0,
  failures,
  sizes: reports,
};
await mkdir(args.out, { recursive: true });
const file = join(args.out, `${started.toISOString().slice(0, 10)}-${sha}${mode === "full" ? "" : `-${mode}`}.json`);
await writeFile(file, JSON.stringify(result, null, 2) + "\n");
log("");
log(table(reports));
log("");
log(`${result.ok ? "ok" : `FAILED (${failures.length} problems)`}; results in ${file}`);
for (const f of failures.slice(0, 20)) log(`  ${f}`);
process.exitCode = result.ok ? 0 : 1;
