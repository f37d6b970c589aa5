// The `http:` block of a site config (README "Health and metrics"): where /healthz, /readyz and
// /metrics listen, with TLS and a bearer token read from their files now. Off unless configured;
// loopback by default, and a listener beyond loopback without a token is allowed but warned about.
import { isIP } from "node:net";
import { z } from "zod";
import type { ConfigIssue } from "../errors.js";
import { readSecretFile } from "./secret-files.js";
import type { HttpConfig } from "./types.js";
import type { YamlSource } from "./yaml-source.js";

/** Port 9464 is Prometheus's registered default for exporters of this kind (its default-port allocations wiki). */
export const DEFAULT_HTTP_LISTEN = "127.0.0.1:9464";

export const httpSchema = z
  .object({
    listen: z.string().min(1).default(DEFAULT_HTTP_LISTEN),
    tls_cert_file: z.string().min(1).optional(),
    tls_key_file: z.string().min(1).optional(),
    bearer_token_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((h) => (h.tls_cert_file === undefined) === (h.tls_key_file === undefined), { message: "tls_cert_file and tls_key_file go together" });

export type HttpParsed = z.output<typeof httpSchema>;

/** "host:port" or "[v6]:port" into its parts; a reason when it is neither. */
export function parseListen(s: string): { host: string; port: number } | { reason: string } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (m === null) return { reason: `"${s}" is not host:port (e.g. ${DEFAULT_HTTP_LISTEN}, or [::1]:9464 for IPv6)` };
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return { reason: `port ${port} is outside 1..65535` };
  if (m[1] !== undefined && isIP(host) !== 6) return { reason: `"${host}" in brackets is not an IPv6 address` };
  return { host, port };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export async function buildHttp(h: HttpParsed, baseDir: string, src: YamlSource): Promise<{ http?: HttpConfig; issues: ConfigIssue[]; warnings: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const listen = parseListen(h.listen);
  if ("reason" in listen) issues.push(src.issue(["http", "listen"], listen.reason));
  const read = async (key: "tls_cert_file" | "tls_key_file" | "bearer_token_file"): Promise<string | undefined> => {
    const p = h[key];
    if (p === undefined) return undefined;
    const r = await readSecretFile(baseDir, p, key === "bearer_token_file" ? "password" : "pem");
    if (r.ok) return r.text;
    issues.push(src.issue(["http", key], r.reason));
    return undefined;
  };
  const [cert, key, token] = await Promise.all([read("tls_cert_file"), read("tls_key_file"), read("bearer_token_file")]);
  if (issues.length > 0 || "reason" in listen) return { issues, warnings };
  if (!isLoopback(listen.host) && token === undefined) {
    warnings.push(src.issue(["http", "listen"], `${h.listen} is reachable beyond this machine and no bearer_token_file is set: anyone who reaches it reads the site's device and alarm figures`));
  }
  return {
    issues,
    warnings,
    http: {
      host: listen.host,
      port: listen.port,
      ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
      ...(token !== undefined ? { bearerToken: token } : {}),
    },
  };
}
