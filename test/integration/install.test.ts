// The npm package as a user gets it: `npm pack` of this checkout (its dist/, built by `npm test`
// first; `prepack` rebuilds it for a real pack, which this test skips so it cannot race the other
// tests reading dist/), installed with `npm install -g --prefix <tmp>`, then `firebreak --version`,
// `check-config` on the shipped example, `firebreak sim --help` and a short demo from there.
// Needs the npm registry (or its cache) for the dependencies; better-sqlite3 and unix-dgram compile
// on install. Fails, never skips, when it cannot install.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";

/** Compiling better-sqlite3 takes 1-2 minutes on a loaded 2-core machine; the whole install well under 10. */
const INSTALL_BOUND_MS = 9 * 60_000;

const dir = mkdtempSync(join(tmpdir(), "fb-install-"));
const prefix = join(dir, "prefix");
const bin = join(prefix, "bin", "firebreak");
let installMs = 0;

/** npm, asynchronously: a spawnSync of minutes blocks the test worker and vitest's own RPC times out. */
function npm(args: string[], timeoutMs: number): Promise<string> {
  // build_from_source: better-sqlite3's install would first try to download a prebuilt binary
  // from outside the npm registry, which is unreachable here and only costs time.
  const env = { ...process.env, npm_config_update_notifier: "false", npm_config_build_from_source: "true" };
  const child = spawn("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", (err) => reject(new Error(`npm cannot run: ${err.message}`)));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`npm ${args.join(" ")} failed (${signal === "SIGKILL" ? `killed after ${timeoutMs / 1000} s` : `exit ${code}`}):\n${out.slice(-4000)}`));
    });
  });
}

beforeAll(async () => {
  await npm(["pack", "--ignore-scripts", "--pack-destination", dir, process.cwd()], 120_000);
  const tgz = readdirSync(dir).find((f) => /^firebreak-.*\.tgz$/.test(f));
  if (tgz === undefined) throw new Error(`npm pack made no firebreak-*.tgz in ${dir}`);
  const t0 = Date.now();
  // --prefer-offline: the npm cache of this machine's `npm ci` has every dependency already.
  await npm(["install", "-g", "--prefix", prefix, "--prefer-offline", join(dir, tgz)], INSTALL_BOUND_MS);
  installMs = Date.now() - t0;
  console.log(`install test: npm install -g of ${tgz} took ${(installMs / 1000).toFixed(1)} s`);
}, INSTALL_BOUND_MS + 150_000);

// The installed tree is large (node-opcua): removing it took over 30 s on a loaded machine.
afterAll(() => rm(dir, { recursive: true, force: true }), 180_000);

function firebreak(args: string[], timeoutMs = 30_000) {
  // Run from an unrelated directory: nothing may come from this checkout.
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: timeoutMs, cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, error: r.error };
}

describe("npm install -g of the packed tarball", () => {
  it("gives a firebreak command that knows its version", () => {
    const r = firebreak(["--version"]);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(r.code).toBe(0);
  });

  it("checks the shipped example config with the shipped profiles", () => {
    const example = join(prefix, "lib", "node_modules", "firebreak", "config", "example-site.yaml");
    const r = firebreak(["check-config", "-c", example]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("cab1");
  });

  it("runs the simulator as `firebreak sim`", () => {
    const r = firebreak(["sim", "--help"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("--scenario");
  });

  it("plays the demo to the evacuation trigger", async () => {
    const port = await freePort();
    const child = spawn(bin, ["demo", "--exit-after", "evacuate", "--speed", "20", "--mqtt-port", String(port)], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    clearTimeout(timer);
    expect(code, out.slice(-3000)).toBe(0);
    expect(out).toMatch(/evacuat/i);
  }, 180_000);

  it("installed within the bound", () => {
    expect(installMs).toBeGreaterThan(0);
    expect(installMs).toBeLessThan(INSTALL_BOUND_MS);
  });
});

// The bin must be the installed one, not a checkout's: guard against a PATH mix-up in the assertions above.
it("the firebreak under test is the one installed into the temporary prefix", () => {
  expect(spawnSync("test", ["-x", bin]).status).toBe(0);
});
