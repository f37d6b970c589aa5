// Loads a site config and the profiles it names into frozen, typed objects (./types.ts), or
// refuses it whole with every problem located by file:line:column and key path. Nothing deeper
// than this module sees YAML.
import { readdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { toAlarmsConfig } from "./alarms-schema.js";
import { ConfigError, FirebreakError, type ConfigIssue } from "../errors.js";
import { fileLimits } from "./config-file.js";
import { buildMqtt } from "./mqtt-settings.js";
import { buildOutputs } from "./outputs-settings.js";
import { buildHttp } from "./http-settings.js";
import { readSecretFile, type SecretKind } from "./secret-files.js";
import { expandOpcuaPoints, expandPoints } from "./expand.js";
import { buildCommands, buildOperators } from "./operators.js";
import { buildEvacuation } from "./evacuation.js";
import { buildActions } from "./actions.js";
import { matchPoints } from "./point-glob.js";
import { buildModbusTransport, buildSerialLines } from "./modbus-transport.js";
import { opcuaProfileSchema, profileSchema, sunspecModelShape, toOpcuaProfile, toProfile, type AnyProfile, type OpcuaProfile, type Profile } from "./profile-schema.js";
import { siteSchema, type RuleParsed, type SiteParsed } from "./site-schema.js";
import { zoneKnocks } from "./knocks.js";
import type { Device, HttpConfig, Knock, MqttConfig, OpcuaDevice, OpcuaUser, Room, Rule, SiteConfig, Zone } from "./types.js";
import { capIssues, YamlSource } from "./yaml-source.js";

/** The package's own directory, found from this file whether it runs from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "config", "profiles"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("cannot find firebreak's package directory (config/profiles) above " + fileURLToPath(import.meta.url));
}

export const shippedProfilesDir = (): string => join(packageRoot(), "config", "profiles");

export async function loadProfile(file: string): Promise<Profile> {
  const { profile, issues } = await readProfile(file);
  if (profile === undefined || issues.length > 0) throw new ConfigError(issues);
  if (profile.protocol !== "modbus") throw new ConfigError([{ file, line: 1, column: 1, path: "protocol", message: `profile ${profile.id} is an OPC UA profile; load it with loadOpcuaProfile` }]);
  return profile;
}

export async function loadOpcuaProfile(file: string): Promise<OpcuaProfile> {
  const { profile, issues } = await readProfile(file);
  if (profile === undefined || issues.length > 0) throw new ConfigError(issues);
  if (profile.protocol !== "opcua") throw new ConfigError([{ file, line: 1, column: 1, path: "protocol", message: `profile ${profile.id} is a Modbus profile, not protocol: opcua` }]);
  return profile;
}

async function readProfile(file: string): Promise<{ profile?: AnyProfile; issues: ConfigIssue[] }> {
  const { source, issues } = await YamlSource.read(file, fileLimits.profile, "a profile");
  if (source === undefined || issues.length > 0) return { issues };
  const { value: raw, issues: dataIssues } = source.toJS();
  if (dataIssues.length > 0) return { issues: dataIssues };
  if (isOpcuaDocument(raw)) {
    const parsed = opcuaProfileSchema.safeParse(raw);
    if (!parsed.success) return { issues: source.zodIssues(parsed.error) };
    const profile = toOpcuaProfile(parsed.data, file);
    return { profile, issues: checkOpcuaProfile(profile, source) };
  }
  const parsed = profileSchema.safeParse(raw);
  if (!parsed.success) return { issues: source.zodIssues(parsed.error) };
  const profile = toProfile(parsed.data, file);
  return { profile, issues: checkProfile(profile, source) };
}

function isOpcuaDocument(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { protocol?: unknown }).protocol === "opcua";
}

/** Placeholders must match `per`, so every expanded point names its own node; ids are unique per level. */
function checkOpcuaProfile(p: OpcuaProfile, src: YamlSource): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const levels = ["string", "module", "cell"] as const;
  const seen = new Set<string>();
  p.nodes.forEach((n, i) => {
    const depth = n.per === undefined ? 0 : levels.indexOf(n.per) + 1;
    levels.forEach((level, k) => {
      const has = n.node.includes(`{${level}}`);
      if (k < depth && !has) issues.push(src.issue(["nodes", i, "node"], `a node with per: ${n.per} needs the placeholder {${level}} so each ${n.per} has its own node id`));
      if (k >= depth && has) issues.push(src.issue(["nodes", i, "node"], `placeholder {${level}} needs per: ${level} or a deeper level`));
    });
    if (n.range !== undefined && n.range[0] > n.range[1]) issues.push(src.issue(["nodes", i, "range"], `range [${n.range[0]}, ${n.range[1]}] is upside down`));
    const key = `${n.per ?? "device"}/${n.id}`;
    if (seen.has(key)) issues.push(src.issue(["nodes", i, "id"], `node id "${n.id}" is used twice${n.per ? ` per ${n.per}` : ""}`));
    seen.add(key);
  });
  return issues;
}

/** What the schema cannot say: offsets inside their SunSpec model, bits only on bitfields. */
function checkProfile(p: Profile, src: YamlSource): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  p.points.forEach((pt, i) => {
    if (pt.bit !== undefined && !pt.type.startsWith("bitfield")) issues.push(src.issue(["points", i, "bit"], `bit needs type bitfield16 or bitfield32, not ${pt.type}`));
    if ((pt.table === "coil" || pt.table === "discrete") && pt.type !== "u16") issues.push(src.issue(["points", i, "type"], `a ${pt.table} is one bit: leave type as u16`));
    if (pt.writable && (pt.table === "discrete" || pt.table === "input")) issues.push(src.issue(["points", i, "writable"], `a ${pt.table === "discrete" ? "discrete input" : "input register"} cannot be written (Modbus writes coils and holding registers only)`));
  });
  issues.push(...panelWrites(p, src));
  const seen = new Set<string>();
  p.sunspec?.points.forEach((pt, i) => {
    const shape = sunspecModelShape[pt.model];
    const at = (k: string) => ["sunspec", "points", i, k];
    if (pt.group && shape.group === 0) issues.push(src.issue(at("group"), `model ${pt.model} has no repeating group`));
    const limit = pt.group ? shape.group : shape.fixed;
    const words = pt.type.endsWith("32") ? 2 : pt.type === "f64" ? 4 : 1;
    if (pt.offset < 2 && !pt.group) issues.push(src.issue(at("offset"), "offsets 0 and 1 are the model's ID and length"));
    if (pt.offset + words > limit) issues.push(src.issue(at("offset"), `offset ${pt.offset} (${words} registers) is past the ${pt.group ? "group" : "fixed part"} of model ${pt.model} (${limit} registers)`));
    if (pt.sf_offset !== undefined && (pt.sf_offset < 2 || pt.sf_offset >= shape.fixed)) issues.push(src.issue(at("sf_offset"), `sf_offset ${pt.sf_offset} is outside the fixed part of model ${pt.model} (2..${shape.fixed - 1})`));
    if (pt.bit !== undefined && !pt.type.startsWith("bitfield")) issues.push(src.issue(at("bit"), `bit needs type bitfield16 or bitfield32, not ${pt.type}`));
    const key = `${pt.model}/${pt.group}/${pt.id}`;
    if (seen.has(key)) issues.push(src.issue(at("id"), `point id "${pt.id}" is used twice in model ${pt.model}`));
    seen.add(key);
  });
  const plainIds = new Set<string>();
  p.points.forEach((pt, i) => {
    if (plainIds.has(pt.id)) issues.push(src.issue(["points", i, "id"], `point id "${pt.id}" is used twice`));
    plainIds.add(pt.id);
  });
  return issues;
}

/**
 * firebreak never commands a suppression agent release (README "Protective actions"): a profile
 * marked `role: suppression_panel` may not declare a single writable point.
 */
function panelWrites(p: Profile, src: YamlSource): ConfigIssue[] {
  if (p.role !== "suppression_panel") return [];
  const why = (pt: string) => `point "${pt}" of profile ${p.id} (${p.file}) is writable, but the profile is a suppression-release panel (role: suppression_panel): firebreak only reads a releasing panel and never writes to it; remove writable`;
  return [
    ...p.points.flatMap((pt, i) => (pt.writable ? [src.issue(["points", i, "writable"], why(pt.id))] : [])),
    ...(p.sunspec?.points ?? []).flatMap((pt, i) => (pt.writable ? [src.issue(["sunspec", "points", i, "writable"], why(pt.id))] : [])),
  ];
}

/** Every profile in a directory, by id. Every broken profile is reported, used or not. */
export async function loadProfiles(dir: string): Promise<{ profiles: Map<string, Profile>; opcuaProfiles: Map<string, OpcuaProfile>; issues: ConfigIssue[] }> {
  const profiles = new Map<string, Profile>();
  const opcuaProfiles = new Map<string, OpcuaProfile>();
  const issues: ConfigIssue[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".yaml") || n.endsWith(".yml")).sort();
  } catch (e) {
    issues.push({ file: dir, line: 1, column: 1, path: "", message: `cannot read the profiles directory: ${(e as Error).message}` });
    return { profiles, opcuaProfiles, issues };
  }
  for (const name of names) {
    const file = join(dir, name);
    const r = await readProfile(file);
    issues.push(...r.issues);
    if (r.profile === undefined) continue;
    const other = profiles.get(r.profile.id) ?? opcuaProfiles.get(r.profile.id);
    if (other !== undefined) {
      issues.push({ file, line: 1, column: 1, path: "id", message: `profile id "${r.profile.id}" is also used by ${other.file}` });
      continue;
    }
    if (r.profile.protocol === "opcua") opcuaProfiles.set(r.profile.id, r.profile);
    else profiles.set(r.profile.id, r.profile);
  }
  return { profiles, opcuaProfiles, issues };
}

export interface LoadOptions {
  /** Overrides `profiles_dir` in the file and the shipped default. */
  readonly profilesDir?: string;
}

export async function loadSiteConfig(file: string, opts: LoadOptions = {}): Promise<SiteConfig> {
  try {
    return await loadSite(file, opts);
  } catch (e) {
    if (e instanceof FirebreakError) throw e;
    // A loader bug must still refuse the config, with a message rather than a stack trace.
    throw new ConfigError([{ file, line: 1, column: 1, path: "", message: `the config could not be checked (${(e as Error).message}); this is a firebreak bug, please report it with the file` }]);
  }
}

async function loadSite(file: string, opts: LoadOptions): Promise<SiteConfig> {
  const { source, issues } = await YamlSource.readConfig(file, fileLimits.config);
  if (issues.length > 0) throw new ConfigError(issues);
  const { value: raw, issues: dataIssues } = source.toJS();
  if (dataIssues.length > 0) throw new ConfigError(dataIssues);
  if (raw === null || raw === undefined) throw new ConfigError([{ file, line: 1, column: 1, path: "", message: "the file is empty; a site config needs site, rooms, devices and rules (see config/example-site.yaml)" }]);
  const parsed = siteSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(source.zodIssues(parsed.error));
  const site = parsed.data;
  const profilesDir = opts.profilesDir ?? (site.profiles_dir !== undefined ? resolve(dirname(file), site.profiles_dir) : shippedProfilesDir());
  const { profiles, opcuaProfiles, issues: profileIssues } = await loadProfiles(profilesDir);
  const out = await buildSite(file, site, profiles, source, opcuaProfiles);
  const all = [...profileIssues, ...out.issues];
  if (all.length > 0 || out.config === undefined) throw new ConfigError(capIssues(all));
  return deepFreeze(out.config);
}

async function buildSite(
  file: string,
  site: SiteParsed,
  profiles: Map<string, Profile>,
  src: YamlSource,
  opcuaProfiles: ReadonlyMap<string, OpcuaProfile> = new Map(),
): Promise<{ config?: SiteConfig; issues: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const unique = (kind: string, ids: string[], pathOf: (i: number) => (string | number)[]) => {
    const seen = new Map<string, number>();
    ids.forEach((id, i) => {
      if (seen.has(id)) issues.push(src.issue(pathOf(i), `${kind} id "${id}" is already used at ${src.issue(pathOf(seen.get(id)!), "").path}`));
      else seen.set(id, i);
    });
  };

  const zones = new Map<string, Zone>();
  const rooms: Room[] = site.rooms.map((r, ri) => {
    const roomZones = r.zones.map((z, zi): Zone => {
      if (zones.has(z.id)) issues.push(src.issue(["rooms", ri, "zones", zi, "id"], `zone id "${z.id}" is used twice; zone ids are unique across the site`));
      const zone: Zone = {
        id: z.id,
        name: z.name ?? z.id,
        roomId: r.id,
        racks: z.racks,
        evacuateAfterAlarmRules: z.evacuate_after_alarm_rules,
        clearHoldMs: z.clear_hold_s * 1000,
        knocks: [], // filled in once the rules are built (zoneKnocks below)
        degradedKnock: z.degraded_knock,
      };
      zones.set(z.id, zone);
      unique("rack", z.racks.map((k) => k.id), (i) => ["rooms", ri, "zones", zi, "racks", i, "id"]);
      return zone;
    });
    return { id: r.id, name: r.name ?? r.id, zones: roomZones };
  });
  unique("room", site.rooms.map((r) => r.id), (i) => ["rooms", i, "id"]);
  unique("device", site.devices.map((d) => d.id), (i) => ["devices", i, "id"]);
  unique("rule", site.rules.map((r) => r.id), (i) => ["rules", i, "id"]);
  const knownZones = () => [...zones.keys()].join(", ");
  const knownProfiles = () => [...profiles.keys()].sort().join(", ");
  const knownOpcuaProfiles = () => [...opcuaProfiles.keys()].sort().join(", ") || "none (OPC UA profiles have protocol: opcua)";

  const serialLines = buildSerialLines(site.serial_lines, src, issues);
  const endpoints = new Map<string, string>();
  // Devices that could not be built: rules naming their points get no second, misleading issue.
  const failedDevices = new Set<string>();
  const devices: Device[] = [];
  const opcuaDevices: OpcuaDevice[] = [];
  const opcuaBuilds: Promise<void>[] = [];
  site.devices.forEach((d, i) => {
    const at = (...k: (string | number)[]) => ["devices", i, ...k];
    if (!zones.has(d.zone)) issues.push(src.issue(at("zone"), `unknown zone "${d.zone}"; known: ${knownZones()}`));
    if (d.opcua !== undefined || d.modbus === undefined) {
      const profile = opcuaProfiles.get(d.profile);
      if (profile === undefined) {
        failedDevices.add(d.id);
        const modbus = profiles.has(d.profile);
        issues.push(src.issue(at("profile"), modbus ? `profile ${d.profile} is a Modbus profile: give the device modbus: instead of opcua:, or use an OPC UA profile (protocol: opcua)` : `unknown OPC UA profile "${d.profile}"; known: ${knownOpcuaProfiles()}`));
        return;
      }
      opcuaBuilds.push(buildOpcuaDevice(file, d, profile, at, src, issues).then((dev) => void (dev === undefined ? failedDevices.add(d.id) : opcuaDevices.push(dev))));
      return;
    }
    if (opcuaProfiles.has(d.profile)) {
      failedDevices.add(d.id);
      issues.push(src.issue(at("profile"), `profile ${d.profile} is an OPC UA profile: give the device opcua: { endpoint, … } instead of modbus:`));
      return;
    }
    const built = buildModbusTransport(d.modbus, serialLines, at("modbus"), src, issues);
    if (built === undefined) {
      failedDevices.add(d.id);
      return;
    }
    const { transport, endpoint } = built;
    if (endpoints.has(endpoint)) issues.push(src.issue(at("modbus"), `device ${d.id} has the same ${transport.transport === "tcp" ? "host, port" : transport.transport === "rtu" ? "line" : "gateway"} and unit id as ${endpoints.get(endpoint)}`));
    endpoints.set(endpoint, d.id);
    const profile = profiles.get(d.profile);
    if (profile === undefined) {
      failedDevices.add(d.id);
      issues.push(src.issue(at("profile"), `unknown profile "${d.profile}"; known: ${knownProfiles()}`));
      return;
    }
    if (profile.sunspec !== undefined && d.layout === undefined) {
      failedDevices.add(d.id);
      issues.push(src.issue(at(), `profile ${profile.id} is a SunSpec battery map: add layout: { strings, modules_per_string, cells_per_module }`));
    }
    if (profile.sunspec === undefined && d.layout !== undefined) issues.push(src.issue(at("layout"), `profile ${profile.id} has no SunSpec map: remove layout`));
    const lineTimeoutMs = transport.transport === "rtu" ? transport.line.timeoutMs : undefined;
    const timeoutMs = d.timeout_ms ?? lineTimeoutMs ?? Math.min(1000, Math.floor(d.poll_interval_ms / 2));
    if (timeoutMs >= d.poll_interval_ms) issues.push(src.issue(at("timeout_ms"), `timeout_ms (${timeoutMs}${d.timeout_ms === undefined && lineTimeoutMs !== undefined ? `, the line's` : ""}) must be shorter than poll_interval_ms (${d.poll_interval_ms}), or a hung device would hold up its own schedule`));
    const layout = d.layout === undefined ? undefined : { strings: d.layout.strings, modulesPerString: d.layout.modules_per_string, cellsPerModule: d.layout.cells_per_module };
    devices.push({
      id: d.id,
      zone: d.zone,
      profile,
      protocol: "modbus",
      modbus: transport,
      pollIntervalMs: d.poll_interval_ms,
      timeoutMs,
      staleAfterMs: d.stale_after_ms ?? 3 * d.poll_interval_ms,
      ...(d.modbus.max_gap !== undefined ? { maxGap: d.modbus.max_gap } : {}),
      ...(layout ? { layout } : {}),
      points: expandPoints(profile, layout),
    });
  });

  await Promise.all(opcuaBuilds);
  // Keep the config's device order for OPC UA devices too (the builds finish in any order).
  const order = new Map(site.devices.map((d, i) => [d.id, i]));
  opcuaDevices.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  const allKeys = [...devices, ...opcuaDevices].flatMap((d) => d.points.map((p) => `${d.id}/${p.pointId}`));
  const deviceIds = new Set(site.devices.map((d) => d.id));
  const rules: Rule[] = [];
  site.rules.forEach((r, i) => {
    const at = (...k: (string | number)[]) => ["rules", i, ...k];
    if (!zones.has(r.zone)) issues.push(src.issue(at("zone"), `unknown zone "${r.zone}"; known: ${knownZones()}`));
    // `key`: the list's key in the rule (its globs are named by index), or the full path of a single point key.
    const resolve = (globs: readonly string[], key: string | readonly (string | number)[]): string[] => {
      const { matched, unmatched } = matchPoints(globs, allKeys);
      const blame = (g: string) => failedDevices.has(g.split("/")[0] ?? "") || (g.startsWith("*") && failedDevices.size > 0);
      for (const g of unmatched.filter((u) => !blame(u))) issues.push(src.issue(typeof key === "string" ? at(key, globs.indexOf(g)) : at(...key), `"${g}" matches no point; point keys look like ${allKeys.slice(0, 3).join(", ")} (check-config --points lists them all)`));
      return matched;
    };
    const rule = buildRule(r, resolve, (id, k) => {
      if (!deviceIds.has(id)) issues.push(src.issue(at("devices", k), `unknown device "${id}"`));
    });
    // A vote needing more detectors than its globs found could never be reached: refuse it here.
    if (rule.kind === "vote" && rule.points.length > 0 && rule.votes > rule.points.length) issues.push(src.issue(at("votes"), `${rule.votes} votes needed but the points match only ${rule.points.length} detectors (${rule.points.join(", ")})`));
    rules.push(rule);
  });
  // Each zone's knocks, from its rules (README "Knocks"); the zone objects are still ours to fill.
  for (const z of zones.values()) (z.knocks as Knock[]).push(...zoneKnocks(z.id, rules));

  let mqtt: MqttConfig | undefined;
  const warnings: ConfigIssue[] = [];
  if (site.mqtt !== undefined) {
    const m = await buildMqtt(site.mqtt, `firebreak-${site.site}-${site.instance}`, dirname(file), src);
    issues.push(...m.issues);
    warnings.push(...m.warnings);
    mqtt = m.mqtt;
  }
  let http: HttpConfig | undefined;
  if (site.http !== undefined) {
    const h = await buildHttp(site.http, dirname(file), src);
    issues.push(...h.issues);
    warnings.push(...h.warnings);
    http = h.http;
  }

  const outputs = await buildOutputs(site.alertmanager, site.influx, dirname(file), src);
  issues.push(...outputs.issues);

  const operators = await buildOperators(file, site.operators, src, issues);
  const evacuation = await buildEvacuation(file, site.evacuation, new Set(zones.keys()), src, issues);
  const actions = buildActions(site.actions, { devices, opcuaDevices, zones }, src, issues);
  if (issues.length > 0) return { issues };
  return {
    issues,
    config: { file, site: site.site, instance: site.instance, rooms, zones, devices, ...(serialLines.size > 0 ? { serialLines: [...serialLines.values()] } : {}), ...(opcuaDevices.length > 0 ? { opcuaDevices } : {}), rules, ...(mqtt ? { mqtt } : {}), ...(http ? { http } : {}), ...(outputs.alertmanager ? { alertmanager: outputs.alertmanager } : {}), ...(outputs.influx ? { influx: outputs.influx } : {}), operators, commands: buildCommands(site.commands), ...(evacuation ? { evacuation } : {}), ...(actions.length > 0 ? { actions } : {}), alarms: toAlarmsConfig(site.alarms), logLevel: site.log.level, stateDir: resolve(dirname(file), site.state_dir), ...(warnings.length > 0 ? { warnings } : {}) },
  };
}

type SiteDevice = SiteParsed["devices"][number];

/** An OPC UA device: points from its profile and layout, secrets read from their files now. */
async function buildOpcuaDevice(
  file: string,
  d: SiteDevice,
  profile: OpcuaProfile,
  at: (...k: (string | number)[]) => (string | number)[],
  src: YamlSource,
  issues: ConfigIssue[],
): Promise<OpcuaDevice | undefined> {
  const o = d.opcua;
  if (o === undefined) return undefined;
  const before = issues.length;
  const needsLayout = profile.nodes.some((n) => n.per !== undefined);
  if (needsLayout && d.layout === undefined) issues.push(src.issue(at(), `profile ${profile.id} has per-string/module/cell nodes: add layout: { strings, modules_per_string, cells_per_module }`));
  if (!needsLayout && d.layout !== undefined) issues.push(src.issue(at("layout"), `profile ${profile.id} has no per-string/module/cell nodes: remove layout`));
  const base = dirname(file);
  const read = async (p: string, key: (string | number)[], kind: SecretKind): Promise<string | undefined> => {
    const r = await readSecretFile(base, p, kind);
    if (r.ok) return r.text;
    issues.push(src.issue(key, r.reason));
    return undefined;
  };
  let user: OpcuaUser | undefined;
  switch (o.user.type) {
    case "anonymous":
      user = { type: "anonymous" };
      break;
    case "username": {
      const password = await read(o.user.password_file, at("opcua", "user", "password_file"), "password");
      if (password !== undefined) user = { type: "username", username: o.user.username, password };
      break;
    }
    case "certificate": {
      const [certificate, privateKey] = await Promise.all([read(o.user.cert_file, at("opcua", "user", "cert_file"), "pem"), read(o.user.key_file, at("opcua", "user", "key_file"), "pem")]);
      if (certificate !== undefined && privateKey !== undefined) user = { type: "certificate", certFile: resolve(base, o.user.cert_file), certificate, privateKey };
      break;
    }
  }
  if (user === undefined || issues.length > before) return undefined;
  const layout = d.layout === undefined ? undefined : { strings: d.layout.strings, modulesPerString: d.layout.modules_per_string, cellsPerModule: d.layout.cells_per_module };
  // Keep-alives arrive every publishing interval x OPCUA_KEEPALIVE_COUNT (3, src/drivers/opcua);
  // missing three of them in a row means the server or the path to it is gone.
  const silenceLimitMs = d.stale_after_ms ?? 3 * 3 * o.publishing_interval_ms;
  return {
    protocol: "opcua",
    id: d.id,
    zone: d.zone,
    profile,
    opcua: {
      endpoint: o.endpoint,
      securityMode: o.security_mode,
      securityPolicy: o.security_policy,
      user,
      pkiDir: resolve(base, o.pki_dir),
      publishingIntervalMs: o.publishing_interval_ms,
    },
    staleAfterMs: Number.POSITIVE_INFINITY,
    silenceLimitMs,
    ...(layout ? { layout } : {}),
    points: expandOpcuaPoints(profile, layout),
  };
}

function buildRule(r: RuleParsed, resolvePoints: (globs: readonly string[], key: string | readonly (string | number)[]) => string[], checkDevice: (id: string, index: number) => void): Rule {
  const base = { id: r.id, zone: r.zone, description: r.description ?? "", ...(r.priority === undefined ? {} : { priority: r.priority }) };
  switch (r.kind) {
    case "comm_loss":
      r.devices.forEach(checkDevice);
      return { ...base, kind: "comm_loss", devices: r.devices, afterMs: r.after_s * 1000 };
    case "stuck":
      return {
        ...base,
        ...pointBase(r, resolvePoints),
        kind: "stuck",
        resolution: r.resolution,
        flatMs: r.flat_s * 1000,
        groupByTrim: r.group_by_trim,
        peers: r.peers,
        minMovingPeers: r.min_moving_peers,
        ...(r.min_readings > 0 ? { minReadings: r.min_readings } : {}),
      };
    case "disagree":
      return { ...base, ...pointBase(r, resolvePoints), kind: "disagree", maxDifference: r.max_difference, deadband: r.deadband };
    case "threshold":
      return { ...base, ...stageBase(r), ...pointBase(r, resolvePoints), kind: "threshold", levels: r.levels, deadband: r.deadband };
    case "rate_of_rise":
      return { ...base, ...stageBase(r), ...pointBase(r, resolvePoints), kind: "rate_of_rise", ratePerMin: r.rate_per_min, windowMs: r.window_s * 1000, minSamples: r.min_samples, stage: r.stage };
    case "deviation":
      return { ...base, ...stageBase(r), ...pointBase(r, resolvePoints), kind: "deviation", aboveMedian: r.above_median, groupByTrim: r.group_by_trim, minGroup: r.min_group, deadband: r.deadband, stage: r.stage };
    case "state":
      return {
        ...base,
        ...stageBase(r),
        ...pointBase(r, resolvePoints),
        kind: "state",
        class: r.class,
        states: r.states.map((s, si) => ({
          name: s.name,
          ...(s.value === undefined ? {} : { value: s.value }),
          ...(s.bit === undefined ? {} : { bit: s.bit }),
          ...(s.stage === undefined ? {} : { stage: s.stage }),
          ...(s.countdown_point === undefined ? {} : { countdownPoint: resolvePoints([s.countdown_point], ["states", si, "countdown_point"])[0]! }),
        })),
      };
    case "vote":
      return {
        ...base,
        ...stageBase(r),
        ...pointBase(r, resolvePoints),
        kind: "vote",
        votes: r.votes,
        when: { ...(r.when.value === undefined ? {} : { value: r.when.value }), ...(r.when.bit === undefined ? {} : { bit: r.when.bit }), ...(r.when.at_least === undefined ? {} : { atLeast: r.when.at_least }) },
        stage: r.stage,
        blindDetector: r.blind_detector,
      };
    case "offgas":
      return {
        ...base,
        ...stageBase(r),
        ...pointBase(r, resolvePoints),
        kind: "offgas",
        referencePoints: r.reference_points.length > 0 ? resolvePoints(r.reference_points, "reference_points") : [],
        baselinePpm: r.baseline_ppm,
        levels: r.levels.map((l) => ({ ppmAboveBaseline: l.ppm_above_baseline, stage: l.stage })),
        deadband: r.deadband,
      };
  }
}

function stageBase(r: { knock?: string | undefined }): { knock?: string } {
  return r.knock === undefined ? {} : { knock: r.knock };
}

function pointBase(r: { points: string[]; on_delay_s: number; off_delay_s: number }, resolvePoints: (globs: readonly string[], key: string) => string[]) {
  return { points: resolvePoints(r.points, "points"), onDelayMs: r.on_delay_s * 1000, offDelayMs: r.off_delay_s * 1000 };
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
    if (o instanceof Map) {
      for (const v of o.values()) deepFreeze(v);
    } else {
      for (const v of Object.values(o)) deepFreeze(v);
    }
    Object.freeze(o);
  }
  return o;
}
