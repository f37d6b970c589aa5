// `firebreak check-config`: validate a site config and explain what it will watch.
import { loadSiteConfig } from "../config/load.js";
import { formatConfigIssue } from "../errors.js";
import { describeModbus, siteDevices, type SiteConfig } from "../config/types.js";
import { sampleSpanProblem } from "../rules/rate-of-rise.js";

/**
 * rate_of_rise rules whose window is too short for how often their points are sampled (Modbus:
 * the device's poll interval; OPC UA: the node's sampling interval): such a rule never judges,
 * silently. One line per rule and interval.
 */
export function sampleSpanWarnings(c: SiteConfig): string[] {
  const interval = new Map<string, number>();
  for (const d of c.devices) for (const p of d.points) interval.set(`${d.id}/${p.pointId}`, d.pollIntervalMs);
  for (const d of c.opcuaDevices ?? []) for (const p of d.points) interval.set(`${d.id}/${p.pointId}`, p.samplingIntervalMs);
  const out: string[] = [];
  for (const r of c.rules) {
    if (r.kind !== "rate_of_rise") continue;
    const byInterval = new Map<number, string[]>();
    for (const p of r.points) {
      const ms = interval.get(p);
      if (ms !== undefined) byInterval.set(ms, [...(byInterval.get(ms) ?? []), p]);
    }
    for (const [ms, points] of byInterval) {
      const problem = sampleSpanProblem(r.windowMs, r.minSamples, ms);
      if (problem === undefined) continue;
      const which = points.length === 1 ? points[0]! : `${points.length} points (e.g. ${points[0]!})`;
      out.push(`rule ${r.id} (rate_of_rise) never judges ${which}: ${problem}; lengthen window_s, lower min_samples or shorten the poll (sampling) interval (README "Rules")`);
    }
  }
  return out;
}

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
        const what =
          r.kind === "comm_loss"
            ? `devices ${r.devices.join(", ")}`
            : r.kind === "state"
              ? `${r.points.length} points; ${r.class === "condition" ? "" : `${r.class} alarm on `}${r.states.map((st) => `${st.name} (${st.bit === undefined ? `= ${st.value}` : `bit ${st.bit}`}${st.stage === undefined ? "" : ` -> ${st.stage}`}${st.countdownPoint === undefined ? "" : `, deadline from ${st.countdownPoint}`})`).join(", ")}`
              : r.kind === "vote"
                ? `${r.votes} of ${r.points.length} detectors -> ${r.stage} (blind detector: ${r.blindDetector})`
                : `${r.points.length} points`;
        out.push(`    rule ${r.id} (${r.kind}): ${what}`);
      }
    }
  }
  out.push(c.mqtt ? `mqtt ${c.mqtt.url} as ${c.mqtt.clientId}${c.mqtt.username ? ` user ${c.mqtt.username}` : ""}${c.mqtt.url.startsWith("mqtts://") ? `, TLS${c.mqtt.ca ? " with CA file" : ""}${c.mqtt.cert ? " and client certificate" : ""}` : ", NO TLS"}` : "mqtt: none configured (alarms go to the log only)");
  if (c.alertmanager) out.push(`alertmanager ${c.alertmanager.url}: firing alarms re-posted every ${c.alertmanager.refreshMs / 1000} s, each ending ${c.alertmanager.endsAfterMs / 1000} s after its post`);
  if (c.influx) out.push(`influx ${c.influx.url} database ${c.influx.database}: batches of ${c.influx.batchSize} rows every ${c.influx.flushIntervalMs} ms, disk buffer up to ${c.influx.bufferLimit} rows in ${c.stateDir}`);
  for (const a of c.actions ?? []) {
    const mode = !a.enabled ? "DISABLED" : a.dryRun ? "dry run (writes nothing)" : "WRITES";
    const lock = a.interlock === undefined ? "no interlock" : `interlock: ${a.interlock.zoneStage} with ${a.interlock.minKnocks} knocks at alarm`;
    out.push(`action ${a.id} (${a.kind}) ${mode}: ${a.device}/${a.write.point} = ${a.write.value} when ${a.on.zone} reaches ${a.on.stage}; ${lock}; read back ${a.expect.map((e) => `${e.point} = ${e.value}${e.tolerance > 0 ? ` ±${e.tolerance}` : ""}`).join(", ")}`);
  }
  if (opts.points) for (const d of siteDevices(c)) for (const p of d.points) out.push(`${d.id}/${p.pointId}\t${p.def.unit}`);
  console.log(out.join("\n"));
  // Accepted on purpose but worth a word (e.g. allow_plaintext_password); stderr, like the refusals.
  for (const w of c.warnings ?? []) console.error(`warning: ${formatConfigIssue(w)}`);
  for (const w of sampleSpanWarnings(c)) console.error(`warning: ${w}`);
  return c;
}
