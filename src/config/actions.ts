// The `actions:` section checked against the site (README "Protective actions"): the device is a
// Modbus device that is not a suppression-release panel, the written point is a writable point of its
// profile and the value fits it, the read-back points exist, the stages are stages and the zone has
// the knocks its interlock counts on. Anything else refuses the config, located by file:line:column.
import type { ConfigIssue } from "../errors.js";
import type { ActionParsed } from "./actions-schema.js";
import { stages } from "./site-schema.js";
import type { Device, DevicePoint, OpcuaDevice, ProtectiveAction, Stage, Zone } from "./types.js";
import type { YamlSource } from "./yaml-source.js";

/** Raw values a register of each writable type holds; f32/f64 and packed bytes are not written by actions. */
const VALUE_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  u16: [0, 0xffff],
  bitfield16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  bitfield32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

export interface ActionSite {
  readonly devices: readonly Device[];
  readonly opcuaDevices: readonly OpcuaDevice[];
  readonly zones: ReadonlyMap<string, Zone>;
}

function asStage(name: string): Stage | undefined {
  return (stages as readonly string[]).includes(name) && name !== "normal" ? (name as Stage) : undefined;
}

/** Why `p` cannot take `value` from an action, or undefined when it can. */
function unwritable(device: Device, p: DevicePoint, value: number): string | undefined {
  const profile = device.profile;
  const writable = profile.points.filter((x) => x.writable).map((x) => x.id).concat((profile.sunspec?.points ?? []).filter((x) => x.writable).map((x) => x.id));
  const known = writable.length === 0 ? "it declares none" : `its writable points: ${writable.join(", ")}`;
  if (p.source === "layout" || !p.def.writable) return `point "${p.pointId}" is not writable in profile ${profile.id} (${profile.file}; ${known})`;
  const table = p.source === "plain" ? p.def.table : profile.sunspec?.table ?? "holding";
  if (table === "coil") return value === 0 || value === 1 ? undefined : `point "${p.pointId}" is a coil: write 0 or 1, not ${value}`;
  if (table !== "holding") return `point "${p.pointId}" is in the ${table} table, which Modbus cannot write`;
  const range = VALUE_RANGE[p.def.type];
  if (range === undefined) return `point "${p.pointId}" is ${p.def.type}: actions write whole integer registers (u16, i16, u32, i32, bitfields)`;
  if (p.def.bit !== undefined) return `point "${p.pointId}" is one bit of a register: write the whole register`;
  return value >= range[0] && value <= range[1] ? undefined : `value ${value} does not fit point "${p.pointId}" (${p.def.type}: ${range[0]}..${range[1]})`;
}

export function buildActions(parsed: readonly ActionParsed[], site: ActionSite, src: YamlSource, issues: ConfigIssue[]): ProtectiveAction[] {
  const out: ProtectiveAction[] = [];
  const seen = new Map<string, number>();
  const stageList = stages.filter((s) => s !== "normal").join(", ");
  parsed.forEach((a, i) => {
    const at = (...k: (string | number)[]) => ["actions", i, ...k];
    const before = issues.length;
    const first = seen.get(a.id);
    if (first !== undefined) issues.push(src.issue(at("id"), `action id "${a.id}" is already used at actions[${first}]`));
    seen.set(a.id, i);
    const zone = site.zones.get(a.on.zone);
    if (zone === undefined) issues.push(src.issue(at("on", "zone"), `unknown zone "${a.on.zone}"; known: ${[...site.zones.keys()].join(", ")}`));
    const stage = asStage(a.on.stage);
    if (stage === undefined) issues.push(src.issue(at("on", "stage"), `"${a.on.stage}" is not a stage an action can be bound to; stages: ${stageList}`));
    const lockStage = a.interlock === undefined ? undefined : asStage(a.interlock.zone_stage);
    if (a.interlock !== undefined && lockStage === undefined) issues.push(src.issue(at("interlock", "zone_stage"), `"${a.interlock.zone_stage}" is not a stage; stages: ${stageList}`));
    if (a.interlock !== undefined && zone?.knocks !== undefined && zone.knocks.length < a.interlock.min_knocks) {
      issues.push(src.issue(at("interlock", "min_knocks"), `zone ${zone.id} has ${zone.knocks.length} knock(s) (${zone.knocks.map((k) => k.name).join(", ") || "none"}): an interlock on ${a.interlock.min_knocks} could never hold (README "Knocks")`));
    }
    const device = site.devices.find((d) => d.id === a.device);
    if (device === undefined) {
      const opcua = site.opcuaDevices.find((d) => d.id === a.device);
      if (opcua?.profile.role === "suppression_panel") issues.push(src.issue(at("device"), panelMessage(opcua.id, opcua.profile.id, opcua.profile.file)));
      else if (opcua !== undefined) issues.push(src.issue(at("device"), `device ${a.device} is read over OPC UA: protective actions write over Modbus only`));
      else issues.push(src.issue(at("device"), `unknown device "${a.device}"; Modbus devices: ${site.devices.map((d) => d.id).join(", ")}`));
      return;
    }
    if (device.profile.role === "suppression_panel") {
      issues.push(src.issue(at("device"), panelMessage(device.id, device.profile.id, device.profile.file)));
      return;
    }
    if (device.modbus.transport === "rtu" || device.modbus.transport === "rtu_over_tcp") issues.push(src.issue(at("device"), `device ${device.id} is a Modbus RTU unit: protective actions write over Modbus TCP only (README "Protective actions")`));
    const target = device.points.find((p) => p.pointId === a.write.point);
    if (target === undefined) issues.push(src.issue(at("write", "point"), `device ${device.id} has no point "${a.write.point}"; e.g. ${device.points.slice(0, 3).map((p) => p.pointId).join(", ")} (check-config --points lists them all)`));
    else {
      const why = unwritable(device, target, a.write.value);
      if (why !== undefined) issues.push(src.issue(at("write"), why));
    }
    a.expect.forEach((e, k) => {
      if (!device.points.some((p) => p.pointId === e.point)) issues.push(src.issue(at("expect", k, "point"), `device ${device.id} has no point "${e.point}" to read back`));
    });
    if (issues.length > before || stage === undefined) return;
    out.push({
      id: a.id,
      description: a.description ?? a.id,
      kind: a.kind,
      device: a.device,
      write: { point: a.write.point, value: a.write.value },
      expect: a.expect.map((e) => ({ point: e.point, value: e.value, tolerance: e.tolerance })),
      on: { zone: a.on.zone, stage },
      enabled: a.enabled,
      dryRun: a.dry_run,
      ...(a.interlock === undefined || lockStage === undefined ? {} : { interlock: { zoneStage: lockStage, minKnocks: a.interlock.min_knocks } }),
      verify: { retries: a.verify.retries, intervalMs: a.verify.interval_ms, timeoutMs: a.verify.timeout_ms },
      rateLimit: { max: a.rate_limit.max, perMs: a.rate_limit.per_s * 1000 },
    });
  });
  return out;
}

function panelMessage(device: string, profile: string, file: string): string {
  return `device ${device} uses profile ${profile} (${file}), a suppression-release panel (role: suppression_panel): firebreak never writes to a releasing panel and never commands agent release`;
}
