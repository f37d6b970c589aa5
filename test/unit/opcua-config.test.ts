import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfiles, loadSiteConfig, shippedProfilesDir } from "../../src/config/load.js";
import { configIssues } from "../support/config-issues.js";

async function site(devices: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fb-opcua-config-"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const file = join(dir, "site.yaml");
  await writeFile(
    file,
    `site: dc1
profiles_dir: ${resolve("config/profiles")}
rooms: [{ id: r1, zones: [{ id: z1 }] }]
devices:
${devices}
rules:
  - { id: t1, kind: threshold, zone: z1, points: ["panel/preRelease"], levels: [{ name: high, value: 0.5, stage: alarm }] }
`,
  );
  return file;
}

const issuesOf = (file: string): Promise<string[]> => configIssues(file);

const panel = `  - id: panel
    profile: clean-agent-panel-opcua
    zone: z1
    opcua: { endpoint: "opc.tcp://127.0.0.1:4840", security_mode: None, security_policy: None }`;

describe("OPC UA config", () => {
  it("loads the shipped OPC UA profiles apart from the Modbus ones", async () => {
    const { opcuaProfiles, issues } = await loadProfiles(shippedProfilesDir());
    expect(issues).toEqual([]);
    expect([...opcuaProfiles.keys()].sort()).toEqual(["clean-agent-panel-opcua", "li-ion-bms-opcua"]);
  });

  it("expands per-cell nodes over the layout under the same point ids as the SunSpec cabinet", async () => {
    const file = await site(`${panel}
  - id: cab1
    profile: li-ion-bms-opcua
    zone: z1
    layout: { strings: 2, modules_per_string: 3, cells_per_module: 4 }
    opcua: { endpoint: "opc.tcp://127.0.0.1:4840", user: { type: username, username: firebreak, password_file: pw.txt } }`, { "pw.txt": "s3cret\n" });
    const c = await loadSiteConfig(file);
    const cab = c.opcuaDevices!.find((d) => d.id === "cab1")!;
    const temp = cab.points.find((p) => p.pointId === "s2/m3/c4/tempC")!;
    expect(temp.node).toBe("s=Bms.S2.M3.C4.TempC");
    expect(cab.points.filter((p) => p.pointId.endsWith("/tempC") && p.position.cell !== undefined)).toHaveLength(24);
    expect(cab.points.find((p) => p.pointId === "s1/m1/c1/voltV")!.deadband).toEqual({ type: "absolute", value: 0.005 });
    // Secure by default; the password comes from its file, without the trailing newline.
    expect(cab.opcua.securityMode).toBe("SignAndEncrypt");
    expect(cab.opcua.securityPolicy).toBe("Basic256Sha256");
    expect(cab.opcua.user).toEqual({ type: "username", username: "firebreak", password: "s3cret" });
    expect(cab.opcua.pkiDir).toBe(join(file, "..", "pki/opcua"));
    expect(cab.staleAfterMs).toBe(Number.POSITIVE_INFINITY);
    expect(c.devices).toEqual([]);
  });

  it("refuses a device with neither or both of modbus: and opcua:", async () => {
    const both = await site(`${panel}
    modbus: { host: 127.0.0.1 }`);
    expect(await issuesOf(both)).toEqual(["devices[0]: a device needs exactly one of `modbus:` and `opcua:`"]);
  });

  it("refuses a Modbus profile on an OPC UA device, and the other way round, saying what to change", async () => {
    const file = await site(`  - { id: panel, profile: clean-agent-panel, zone: z1, opcua: { endpoint: "opc.tcp://127.0.0.1:4840", security_mode: None, security_policy: None } }
  - { id: cab, profile: li-ion-bms-opcua, zone: z1, modbus: { host: 127.0.0.1 } }`);
    expect(await issuesOf(file)).toEqual([
      "devices[0].profile: profile clean-agent-panel is a Modbus profile: give the device modbus: instead of opcua:, or use an OPC UA profile (protocol: opcua)",
      "devices[1].profile: profile li-ion-bms-opcua is an OPC UA profile: give the device opcua: { endpoint, … } instead of modbus:",
    ]);
  });

  it("refuses security mode None with a signing policy, and an unreadable password file", async () => {
    const mismatch = await site(`  - { id: panel, profile: clean-agent-panel-opcua, zone: z1, opcua: { endpoint: "opc.tcp://127.0.0.1:4840", security_mode: None } }`);
    expect((await issuesOf(mismatch))[0]).toMatch(/^devices\[0\]\.opcua: security_mode None goes with security_policy None/);
    const noFile = await site(`  - { id: panel, profile: clean-agent-panel-opcua, zone: z1, opcua: { endpoint: "opc.tcp://127.0.0.1:4840", user: { type: username, username: u, password_file: missing.txt } } }`);
    expect((await issuesOf(noFile))[0]).toMatch(/^devices\[0\]\.opcua\.user\.password_file: cannot read missing\.txt: ENOENT/);
  });

  it("refuses a per-cell node without the placeholders that make its node ids distinct", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-opcua-profiles-"));
    await writeFile(
      join(dir, "p.yaml"),
      `id: p\ndescription: d\nprotocol: opcua\nnamespace_uri: urn:x\nnodes:\n  - { id: t, per: cell, node: "s=C{cell}.T" }\n  - { id: u, node: "s=S{string}.U" }\n`,
    );
    const { issues } = await loadProfiles(dir);
    expect(issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`)).toEqual([
      "6:31 nodes[0].node: a node with per: cell needs the placeholder {string} so each cell has its own node id",
      "6:31 nodes[0].node: a node with per: cell needs the placeholder {module} so each cell has its own node id",
      "7:20 nodes[1].node: placeholder {string} needs per: string or a deeper level",
    ]);
  });
});
