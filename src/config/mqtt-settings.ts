// The `mqtt:` block of a site config into MqttConfig: secrets read from their files now, and a
// password or TLS file on plain `mqtt://` refused, because mqtt.js would send the password in
// clear text and ignore the CA without a word (check-config used to print "CA set").
import type { ConfigIssue } from "../errors.js";
import { readSecretFile } from "./secret-files.js";
import type { SiteParsed } from "./site-schema.js";
import type { MqttConfig } from "./types.js";
import type { YamlSource } from "./yaml-source.js";

type MqttParsed = NonNullable<SiteParsed["mqtt"]>;
const tlsKeys = ["ca_file", "cert_file", "key_file"] as const;

export async function buildMqtt(
  m: MqttParsed,
  defaultClientId: string,
  baseDir: string,
  src: YamlSource,
): Promise<{ mqtt?: MqttConfig; issues: ConfigIssue[]; warnings: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const plain = m.url.startsWith("mqtt://");
  const tls = tlsKeys.filter((k) => m[k] !== undefined);
  const exposed = [...(m.password_file !== undefined ? ["password_file"] : []), ...tls];
  if (plain && exposed.length > 0) {
    const why = `${exposed.join(", ")} with plain mqtt://: ${m.password_file !== undefined ? "the password would cross the network in clear text" : "TLS files are ignored without TLS"}`;
    if (m.allow_plaintext_password) warnings.push(src.issue(["mqtt", "url"], `${why}; allowed by allow_plaintext_password: true${tls.length > 0 ? ` (${tls.join(", ")} unused)` : ""}`));
    else issues.push(src.issue(["mqtt", "url"], `${why}. Use mqtts://host:8883, or set allow_plaintext_password: true if this network is trusted on purpose`));
  }
  if (!plain && m.allow_plaintext_password) warnings.push(src.issue(["mqtt", "allow_plaintext_password"], "has no effect with mqtts://; remove it"));

  const read = async (key: "password_file" | (typeof tlsKeys)[number]): Promise<string | undefined> => {
    const p = m[key];
    if (p === undefined) return undefined;
    const r = await readSecretFile(baseDir, p, key === "password_file" ? "password" : "pem");
    if (r.ok) return r.text;
    issues.push(src.issue(["mqtt", key], r.reason));
    return undefined;
  };
  const [password, ca, cert, key] = await Promise.all([read("password_file"), read("ca_file"), read("cert_file"), read("key_file")]);
  if (issues.length > 0) return { issues, warnings };
  const mqtt: MqttConfig = {
    url: m.url,
    clientId: m.client_id ?? defaultClientId,
    ...(m.username !== undefined ? { username: m.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    cleanSession: m.clean_session,
    keepaliveS: m.keepalive_s,
    queueLimit: m.queue_limit,
    reconnectMinMs: m.reconnect_min_ms,
    reconnectMaxMs: m.reconnect_max_ms,
    heartbeatS: m.heartbeat_s,
    protocolVersion: m.protocol_version,
    pointTelemetry: { enabled: m.point_telemetry.enabled, minIntervalMs: m.point_telemetry.min_interval_ms },
  };
  return { mqtt, issues, warnings };
}
