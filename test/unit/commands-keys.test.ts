import { generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KeyFileError, loadPrivateKey, loadPublicKey, operatorKeys, writeOperatorKeyPair } from "../../src/commands/keys.js";
import { loadSiteConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";

const tempDir = () => mkdtemp(join(tmpdir(), "fb-keys-"));

describe("operator keys", () => {
  it("keygen writes a private key only its owner can read and a public key that verifies its signatures", async () => {
    const dir = await tempDir();
    const w = await writeOperatorKeyPair(dir, "alice");
    expect(w.keyFile).toBe(join(dir, "alice.key"));
    expect((await stat(w.keyFile)).mode & 0o777).toBe(0o600);
    const priv = await loadPrivateKey(w.keyFile);
    const pub = await loadPublicKey(w.pubFile);
    const data = Buffer.from("payload");
    expect(verify(null, data, pub, sign(null, data, priv))).toBe(true);
    expect(await readFile(w.pubFile, "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(await readFile(w.keyFile, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("keygen refuses to overwrite either file, and writes neither then", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "bob.pub"), "old");
    await expect(writeOperatorKeyPair(dir, "bob")).rejects.toThrow(/bob\.pub: already exists; refusing to overwrite/);
    await expect(stat(join(dir, "bob.key"))).rejects.toThrow(/ENOENT/);
    await writeOperatorKeyPair(dir, "carol");
    await expect(writeOperatorKeyPair(dir, "carol")).rejects.toThrow(/carol\.key: already exists/);
  });

  it.each([
    ["a missing file", async (_d: string) => "nope.pub", /nope\.pub: does not exist/],
    ["a private key given as public", async (d: string) => (await writeOperatorKeyPair(d, "x")).keyFile, /holds a private key; the config needs the public key/],
    ["an RSA key", async (d: string) => put(d, generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString()), /is a rsa key; operator keys are Ed25519/],
    ["text that is no key", async (d: string) => put(d, "hello\n"), /is not a PEM public key/],
    ["a damaged key", async (d: string) => put(d, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), /is not a readable public key/],
  ])("loadPublicKey names the file and what is wrong: %s", async (_what, make, message) => {
    const file = await make(await tempDir());
    const err = await loadPublicKey(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyFileError);
    expect((err as KeyFileError).code).toBe("FB_KEY");
    expect((err as Error).message).toMatch(message);
  });

  it("loadPrivateKey refuses a public key and an encrypted key", async () => {
    const dir = await tempDir();
    const w = await writeOperatorKeyPair(dir, "dave");
    await expect(loadPrivateKey(w.pubFile)).rejects.toThrow(/holds a public key; signing needs the private key/);
    const enc = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }).toString();
    await expect(loadPrivateKey(await put(dir, enc))).rejects.toThrow(/is an encrypted private key/);
  });

  it("operatorKeys makes the id -> key map verifyCommand takes", async () => {
    const w = await writeOperatorKeyPair(await tempDir(), "erin");
    const keys = operatorKeys([{ id: "erin", publicKeyPem: w.publicKeyPem }]);
    expect(keys.get("erin")?.asymmetricKeyType).toBe("ed25519");
  });
});

let n = 0;
async function put(dir: string, text: string): Promise<string> {
  const f = join(dir, `k${n++}.pem`);
  await writeFile(f, text);
  return f;
}

/** The example site with `extra` appended, in a temp dir holding the operators' key files. */
async function siteWith(extra: string): Promise<{ file: string; dir: string }> {
  const dir = await tempDir();
  const file = join(dir, "site.yaml");
  await writeFile(file, (await readFile("config/example-site.yaml", "utf8")) + extra);
  return { file, dir };
}

describe("operators and commands in the site config", () => {
  it("reads each operator's public key relative to the config file; max skew defaults to 30 s", async () => {
    const { file, dir } = await siteWith("\noperators:\n  - id: alice\n    public_key_file: keys/alice.pub\n");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, "keys"));
    const w = await writeOperatorKeyPair(join(dir, "keys"), "alice");
    const c = await loadSiteConfig(file);
    expect(c.operators).toEqual([{ id: "alice", publicKeyPem: w.publicKeyPem, publicKeyFile: join(dir, "keys", "alice.pub") }]);
    expect(c.commands).toEqual({ maxSkewMs: 30_000 });
  });

  it("without operators every command would be unknown_operator: the list is empty, not missing", async () => {
    const { file } = await siteWith("\ncommands:\n  max_skew_s: 5\n");
    const c = await loadSiteConfig(file);
    expect(c.operators).toEqual([]);
    expect(c.commands.maxSkewMs).toBe(5000);
  });

  it("refuses a duplicate operator id, an unreadable or wrong key and a skew out of bounds, each located", async () => {
    const extra = [
      "",
      "operators:",
      "  - id: alice",
      "    public_key_file: alice.pub",
      "  - id: alice",
      "    public_key_file: alice.key",
      "  - id: bob",
      "    public_key_file: missing.pub",
      "commands:",
      "  max_skew_s: 601",
      "",
    ].join("\n");
    const { file, dir } = await siteWith(extra);
    await writeOperatorKeyPair(dir, "alice");
    const text = await readFile(file, "utf8");
    // 1-based line of the nth (0-based) uncommented line holding `needle`.
    const hits = (needle: string) => text.split("\n").flatMap((l, i) => (l.includes(needle) && !l.trimStart().startsWith("#") ? [i + 1] : []));
    const line = (needle: string, nth = 0) => hits(needle)[nth] ?? -1;
    const schemaErr = await loadSiteConfig(file).catch((e: unknown) => e);
    expect(schemaErr).toBeInstanceOf(ConfigError);
    expect((schemaErr as ConfigError).issues.map((i) => `${i.line} ${i.path}`)).toEqual([`${line("max_skew_s")} commands.max_skew_s`]);

    await writeFile(file, text.replace("max_skew_s: 601", "max_skew_s: 30"));
    const err = (await loadSiteConfig(file).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`)).toEqual([
      `${line("- id: alice", 1)}:9 operators[1].id: operator id "alice" is already used at operators[0]; each operator has one entry (one key)`,
      `${line("alice.key")}:22 operators[1].public_key_file: alice.key: holds a private key; the config needs the public key (the .pub file). Keep the private key with the operator`,
      expect.stringMatching(new RegExp(`^${line("missing.pub")}:22 operators\\[2\\]\\.public_key_file: cannot read missing\\.pub \\(.*missing\\.pub\\): ENOENT`)) as unknown as string,
    ]);
  });
});
