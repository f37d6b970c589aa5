// `firebreak check-config`: validate a site config and explain what it will watch.
import { loadSiteConfig } from "../config/load.js";
import { formatConfigIssue } from "../errors.js";
import { describeModbus, siteDevices, type SiteConfig } from "../config/types.js";

export async function checkConfig(file: string, opts: { points?: boolean }): Promise<SiteConfig> {
  const c = await loadSiteConfig(file);
  const out: string[] = [];
  out.push(`${file}: OK`);
  out.push(`site ${c.site}, instance ${c.instance}`);
  for (const room of c.rooms) {
    out.push(`room ${room.id} (${room.name})`);
    for (const z of room.zones) {
      const devices = c.devices.filter((d) => d.zone === z.id);
      const opcuaDevices = (c.opcuaDevices ?? []).filter((d) => d.zone === z.id);
      const rules = c.rules.filter((r) => r.zone === z.id);
      out.push(`  zone ${z.id} (${z.name}): racks ${z.racks.map((r) => `${r.id} [${r.hosts.join(", ")}]`).join(", ") || "none"}`);
      out.push(`    evacuates when ${z.evacuateAfterAlarmRules} knocks are at alarm, or one rule raises evacuate; steps down after ${z.clearHoldMs / 1000} s clear`);
      const policy = z.degradedKnock === "hold" ? "the zone holds at alarm" : "another knock at alarm evacuates alone";
      for (const k of z.knocks ?? []) out.push(`    knock ${k.name}: rules ${k.rules.join(", ")}${k.guardedBy.length > 0 ? `; blind when ${k.guardedBy.join(", ")} flag a point` : ""}; in fault: ${policy} (degraded_knock)`);
      for (const d of devices) {
        out.push(`    device ${d.id}: ${d.profile.id} at ${describeModbus(d.modbus)}, ${d.points.length} points, every ${d.pollIntervalMs} ms (timeout ${d.timeoutMs} ms, stale after ${d.staleAfterMs} ms)`);
      }
      for (const d of opcuaDevices) {
        out.push(`    device ${d.id}: ${d.profile.id} at ${d.opcua.endpoint} (${d.opcua.securityMode}/${d.opcua.securityPolicy}, user ${d.opcua.user.type}), ${d.points.length} points, stale after ${d.silenceLimitMs} ms of silence`);
      }
      for (const r of rules) {
        const what = r.kind === "comm_loss" ? `devices ${r.devices.join(", ")}` : `${r.points.length} points`;
        out.push(`    rule ${r.id} (${r.kind}): ${what}`);
      }
    }
  }
  out.push(c.mqtt ? `mqtt ${c.mqtt.url} as ${c.mqtt.clientId}${c.mqtt.username ? ` user ${c.mqtt.username}` : ""}${c.mqtt.url.startsWith("mqtts://") ? `, TLS${c.mqtt.ca ? " with CA file" : ""}${c.mqtt.cert ? " and client certificate" : ""}` : ", NO TLS"}` : "mqtt: none configured (alarms go to the log only)");
  if (opts.points) for (const d of siteDevices(c)) for (const p of d.points) out.push(`${d.id}/${p.pointId}\t${p.def.unit}`);
  console.log(out.join("\n"));
  // Accepted on purpose but worth a word (e.g. allow_plaintext_password); stderr, like the refusals.
  for (const w of c.warnings ?? []) console.error(`warning: ${formatConfigIssue(w)}`);
  return c;
}
