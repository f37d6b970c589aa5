// Commissioning against the OPC UA simulator: `opcua browse` shows what a profile needs, an
// untrusted server is refused with the trust command, `opcua trust` by thumbprint lets it in.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opcuaBrowse, opcuaListCertificates, opcuaTrust } from "../../src/cli/opcua.js";
import { OpcuaCertificateError, OpcuaIdentityError } from "../../src/drivers/opcua/errors.js";
import { TrustError } from "../../src/drivers/opcua/trust.js";
import { startOpcuaSimServer, type OpcuaSimServer } from "../../simulators/opcua/server.js";

let dir: string;
let server: OpcuaSimServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fb-opcua-cli-"));
  server = await startOpcuaSimServer({
    port: 0,
    pkiDir: join(dir, "sim"),
    namespaceUri: "urn:firebreak:simulator",
    nodes: [
      { node: "s=Panel.Armed", dataType: "Boolean" },
      { node: "s=Panel.CountdownS", dataType: "Double" },
      { node: "s=Bms.S1.M1.C1.TempC", dataType: "Double" },
    ],
    users: [{ username: "commissioner", password: "pw" }],
  });
  server.set("s=Panel.Armed", true, Date.now());
  server.set("s=Bms.S1.M1.C1.TempC", 24.5, Date.now());
  await writeFile(join(dir, "pw"), "pw\n");
  await writeFile(join(dir, "bad-pw"), "nope\n");
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("firebreak opcua browse / trust", () => {
  it("browse lists namespaces, folders and variables with relative node ids, data types and values", async () => {
    const lines: string[] = [];
    const nodes = await opcuaBrowse({ endpoint: server.endpoint, securityMode: "None", pki: join(dir, "pki-none"), out: (l) => lines.push(l) });
    const text = lines.join("\n");
    expect(text).toMatch(/namespaces: 0=http:\/\/opcfoundation\.org\/UA\/ .*=urn:firebreak:simulator/);
    expect(text).toMatch(/^ {2}Armed {2}s=Panel\.Armed {2}Boolean {2}= true$/m);
    expect(text).toMatch(/^ {8}TempC {2}s=Bms\.S1\.M1\.C1\.TempC {2}Double {2}= 24\.5$/m);
    // A node the model has not written yet shows its status, not a made-up value.
    expect(text).toMatch(/CountdownS {2}s=Panel\.CountdownS {2}Double {2}\(BadWaitingForInitialData\)/);
    expect(nodes.find((n) => n.relative === "s=Panel.Armed")?.namespaceUri).toBe("urn:firebreak:simulator");
  });

  it("browse --node starts at a sub-tree", async () => {
    const lines: string[] = [];
    const nsIndex = (await opcuaBrowse({ endpoint: server.endpoint, securityMode: "None", pki: join(dir, "pki-none"), out: () => undefined })).find((n) => n.relative === "s=Bms")!.nodeId.split(";")[0];
    const nodes = await opcuaBrowse({ endpoint: server.endpoint, securityMode: "None", pki: join(dir, "pki-none"), node: `${nsIndex};s=Bms.S1`, out: (l) => lines.push(l) });
    expect(nodes.map((n) => n.relative)).toEqual(["s=Bms.S1.M1", "s=Bms.S1.M1.C1", "s=Bms.S1.M1.C1.TempC"]);
  });

  it("an untrusted server is refused with the trust command; trusting its thumbprint lets browse in", async () => {
    const pki = join(dir, "pki-secure");
    const err = await opcuaBrowse({ endpoint: server.endpoint, pki, out: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpcuaCertificateError);
    expect((err as Error).message).toContain(`firebreak opcua trust --pki ${pki}`);
    const listed: string[] = [];
    await opcuaListCertificates({ pki, out: (l) => listed.push(l) });
    const thumbprint = listed.find((l) => /^ {2}[0-9a-f]{40} /.test(l))!.trim().slice(0, 40);
    expect(listed[0]).toBe("rejected (1):");
    await expect(opcuaTrust({ pki, certificate: thumbprint.slice(0, 12), out: () => undefined })).resolves.toBe(thumbprint);
    const nodes = await opcuaBrowse({ endpoint: server.endpoint, pki, username: "commissioner", passwordFile: join(dir, "pw"), out: () => undefined });
    expect(nodes.some((n) => n.relative === "s=Panel.Armed")).toBe(true);
  });

  it("a wrong password is refused naming the user", async () => {
    const pki = join(dir, "pki-secure");
    const err = await opcuaBrowse({ endpoint: server.endpoint, pki, username: "commissioner", passwordFile: join(dir, "bad-pw"), out: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpcuaIdentityError);
    expect((err as Error).message).toContain('refused user "commissioner"');
  });

  it("trust with a thumbprint that matches nothing lists the rejected certificates", async () => {
    const err = await opcuaTrust({ pki: join(dir, "pki-none"), certificate: "deadbeefdeadbeef", out: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrustError);
    expect((err as Error).message).toMatch(/no rejected certificate matches deadbeefdeadbeef/);
  });
});
