// What ships beside the code (packaging/): the systemd unit passes `systemd-analyze verify`, and the
// Prometheus rules pass `promtool check rules` and their own `promtool test rules`. The tools are
// required: .ci/run installs them (systemd, prometheus); a missing tool fails, it does not skip.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

function run(cmd: string, args: string[], cwd?: string) {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd, timeout: 60_000 });
  if (r.error !== undefined) throw new Error(`${cmd} cannot run (${r.error.message}): install it (.ci/run does: apt-get install systemd prometheus)`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("packaging/firebreak.service", () => {
  const unit = readFileSync("packaging/firebreak.service", "utf8");

  it("is a notify service with a watchdog, a dedicated user, state and config directories and the hardening", () => {
    for (const line of ["Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "Restart=on-failure", "User=firebreak", "StateDirectory=firebreak", "ConfigurationDirectory=firebreak", "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes", "PrivateTmp=yes", "PrivateDevices=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=no"]) {
      expect(unit.split("\n"), line).toContain(line);
    }
    expect(readFileSync("packaging/firebreak.sysusers.conf", "utf8")).toMatch(/^u\s+firebreak\s+-\s+"[^"]+"\s+\/var\/lib\/firebreak$/m);
  });

  it("passes systemd-analyze verify (ExecStart pointed at this checkout's build)", () => {
    // verify checks that ExecStart's binary exists: point it at the built CLI instead of /usr/bin/firebreak.
    const dir = mkdtempSync(join(tmpdir(), "fb-unit-"));
    const file = join(dir, "firebreak.service");
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/firebreak run --config \/etc\/firebreak\/site\.yaml$/m);
    writeFileSync(file, unit.replace(/^ExecStart=\/usr\/bin\/firebreak /m, `ExecStart=${process.execPath} ${resolve("dist/src/cli/main.js")} `));
    const r = run("systemd-analyze", ["verify", file]);
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("packaging/prometheus/firebreak-rules.yml", () => {
  it("passes promtool check rules", () => {
    const r = run("promtool", ["check", "rules", "packaging/prometheus/firebreak-rules.yml"]);
    expect(r.out).toContain("SUCCESS: 6 rules found");
    expect(r.code).toBe(0);
  });

  it("passes its unit tests (promtool test rules): each alert fires when it should and not before", () => {
    const r = run("promtool", ["test", "rules", "firebreak-rules.test.yml"], "packaging/prometheus");
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  it("names only metrics the daemon exports", () => {
    const rules = readFileSync("packaging/prometheus/firebreak-rules.yml", "utf8");
    const used = new Set(rules.match(/firebreak_[a-z_]+/g));
    const src = execFileSync("grep", ["-rhoE", 'name: "firebreak_[a-z_]+"|\\("firebreak_[a-z_]+"', "src/outputs/http/metrics.ts"], { encoding: "utf8" });
    const exported = new Set(src.match(/firebreak_[a-z_]+/g));
    expect([...used].filter((m) => !exported.has(m))).toEqual([]);
  });
});
