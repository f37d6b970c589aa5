// The `http:` block (README "Health and metrics"): listen addresses parsed once, with a reason when not.
import { describe, expect, it } from "vitest";
import { parseListen } from "../../src/config/http-settings.js";

describe("http.listen", () => {
  it.each([
    ["127.0.0.1:9464", { host: "127.0.0.1", port: 9464 }],
    ["0.0.0.0:80", { host: "0.0.0.0", port: 80 }],
    ["[::1]:9464", { host: "::1", port: 9464 }],
    ["localhost:1", { host: "localhost", port: 1 }],
  ])("%s is host and port", (s, want) => {
    expect(parseListen(s)).toEqual(want);
  });

  it.each([
    ["9464", /not host:port/],
    ["::1:9464", /not host:port/],
    ["127.0.0.1:0", /outside 1\.\.65535/],
    ["127.0.0.1:70000", /outside 1\.\.65535/],
    ["[127.0.0.1]:9464", /not an IPv6 address/],
  ])("%s is refused with a reason", (s, why) => {
    const r = parseListen(s);
    expect("reason" in r && r.reason).toMatch(why);
  });
});

describe("the http block in a site config", () => {
  const withHttp = async (block: string) => {
    const { mkdtemp, readFile, writeFile } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadSiteConfig } = await import("../../src/config/load.js");
    const { ConfigError } = await import("../../src/errors.js");
    const dir = await mkdtemp(join(tmpdir(), "fb-http-config-"));
    await writeFile(join(dir, "token"), "t0ken\n");
    const file = join(dir, "site.yaml");
    await writeFile(file, `${await readFile("config/example-site.yaml", "utf8")}\nhttp:\n${block}\n`);
    try {
      return { config: await loadSiteConfig(file), issues: [] as { path: string; message: string }[] };
    } catch (e) {
      if (e instanceof ConfigError) return { config: undefined, issues: e.issues };
      throw e;
    }
  };

  it("defaults to loopback port 9464 and reads the token file", async () => {
    const r = await withHttp("  bearer_token_file: token");
    expect(r.issues).toEqual([]);
    expect(r.config?.http).toEqual({ host: "127.0.0.1", port: 9464, bearerToken: "t0ken" });
  });

  it("warns about a listener beyond loopback without a token", async () => {
    const r = await withHttp("  listen: 0.0.0.0:9464");
    expect(r.config?.warnings?.map((w) => w.message).join("\n")).toMatch(/reachable beyond this machine and no bearer_token_file/);
  });

  it("refuses a certificate without its key, naming the block", async () => {
    const r = await withHttp("  listen: nowhere\n  tls_cert_file: token");
    const text = r.issues.map((i) => `${i.path}: ${i.message}`).join("\n");
    expect(text).toMatch(/http.*tls_cert_file and tls_key_file go together/);
    expect(r.config).toBeUndefined();
  });
});
