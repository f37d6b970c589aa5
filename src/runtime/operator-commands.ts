// Operator commands arriving on `cmd/<verb>`: verified (signature, operator, time window, replay:
// src/commands/verify.ts), applied to the deciding core, committed with their audit row and the
// request id in one transaction, then answered on `cmd/reply/<requestId>` and recorded on `events`.
// A refused command changes nothing; every command, accepted or not, is logged and audited.
import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import { operatorKeys } from "../commands/keys.js";
import { acceptedReply, type ChangeResult, refusedReply, replyToRefusal, type RefusalCode } from "../commands/reply.js";
import type { StatusResult } from "../commands/status.js";
import { verifyCommand } from "../commands/verify.js";
import type { OperatorCommand } from "../commands/wire.js";
import type { SiteConfig } from "../config/types.js";
import type { CommandOutcome, CoreEvent } from "../events.js";
import { alarmBody, iso, type OutMessage } from "../outputs/mqtt/payloads.js";
import type { Topics } from "../outputs/mqtt/topics.js";
import type { StateStore } from "../state/store.js";
import type { RoomWatch } from "../zones/room-watch.js";
import type { Clock } from "./clock.js";

export interface OperatorCommandsContext {
  readonly config: SiteConfig;
  /** The incident's clock (accelerated in simulations): what alarms and zones are judged on. */
  readonly clock: Clock;
  /** Wall-clock ms: a command's freshness is about the network and the operator's clock, not the incident's timeline. */
  readonly wallNow: () => number;
  readonly log: Logger;
  readonly watch: RoomWatch;
  readonly state: StateStore | undefined;
  readonly topics: Topics;
  /** Commit these events (and `also`, in the same transaction), then publish them. */
  readonly commit: (events: readonly CoreEvent[], also: (state: StateStore) => void) => void;
  readonly reply: (m: OutMessage) => void;
}

type Applied = { readonly ok: true; readonly events: readonly CoreEvent[]; readonly result: ChangeResult | StatusResult } | { readonly ok: false; readonly code: RefusalCode; readonly reason: string };

export class OperatorCommands {
  readonly #ctx: OperatorCommandsContext;
  readonly #operators: ReadonlyMap<string, KeyObject>;

  constructor(ctx: OperatorCommandsContext) {
    this.#ctx = ctx;
    this.#operators = operatorKeys(ctx.config.operators);
  }

  handle(verb: string, payload: Buffer): void {
    const { config, log, state, topics } = this.#ctx;
    const wall = this.#ctx.wallNow();
    const now = this.#ctx.clock.now();
    const from = { site: config.site, instance: config.instance };
    const v = verifyCommand(
      { verb, payload },
      { site: config.site, operators: this.#operators, now: wall, maxSkewMs: config.commands.maxSkewMs, seen: (id) => state?.seenRequest(id) ?? false },
    );
    if (!v.ok) {
      log.warn({ verb, code: v.code, requestId: v.requestId }, `command refused (${v.code}): ${v.reason}`);
      this.#record({ type: "command", verb, ok: false, code: v.code, detail: v.reason, since: now, ...(v.requestId === undefined ? {} : { requestId: v.requestId }) }, []);
      const reply = replyToRefusal(topics, from, verb, v, now);
      if (reply !== undefined) this.#ctx.reply(reply);
      return;
    }
    const cmd = v.command;
    let applied: Applied;
    try {
      applied = this.#apply(cmd, now, wall);
    } catch (err) {
      log.error({ err, verb, requestId: cmd.requestId }, "command failed while being applied; nothing was committed");
      applied = { ok: false, code: "failed", reason: `firebreak failed to apply it (${(err as Error).message}); see the daemon's log` };
    }
    const base = { type: "command" as const, requestId: cmd.requestId, verb: cmd.verb, by: cmd.by, since: now };
    if (!applied.ok) {
      log.warn({ verb, by: cmd.by, requestId: cmd.requestId, code: applied.code }, `command refused (${applied.code}): ${applied.reason}`);
      this.#record({ ...base, ok: false, code: applied.code, detail: applied.reason }, [], cmd, wall);
      this.#ctx.reply(refusedReply(topics, from, { requestId: cmd.requestId, verb: cmd.verb, code: applied.code, reason: applied.reason }, now));
      return;
    }
    const detail = describe(cmd);
    log.info({ verb, by: cmd.by, requestId: cmd.requestId, events: applied.events.length }, `command accepted: ${detail}`);
    this.#record({ ...base, ok: true, detail }, applied.events, cmd, wall);
    this.#ctx.reply(acceptedReply(topics, from, cmd, applied.result as never, now));
  }

  /** Commit the command's events, its audit row and (once verified) its request id together, then publish. */
  #record(outcome: CommandOutcome, events: readonly CoreEvent[], cmd?: OperatorCommand, wall?: number): void {
    const windowMs = this.#ctx.config.commands.maxSkewMs;
    this.#ctx.commit([...events, outcome], (state) => {
      state.audit({
        at: outcome.since,
        verb: outcome.verb,
        ok: outcome.ok,
        detail: outcome.detail,
        ...(outcome.requestId === undefined ? {} : { requestId: outcome.requestId }),
        ...(outcome.by === undefined ? {} : { operator: outcome.by }),
        ...(outcome.code === undefined ? {} : { code: outcome.code }),
        ...(cmd === undefined ? {} : { command: JSON.stringify({ verb: cmd.verb, by: cmd.by, ts: iso(cmd.tsMs), args: cmd.args }) }),
      });
      // A verified request id is never accepted again: kept for twice the window, after which the
      // time check refuses any copy anyway.
      if (cmd !== undefined && wall !== undefined) state.recordRequest(cmd.requestId, wall, wall - 2 * windowMs);
    });
  }

  #apply(cmd: OperatorCommand, now: number, wall: number): Applied {
    const watch = this.#ctx.watch;
    const alarms = watch.alarms;
    const alarmRef = (id: string) => ({ id, state: alarms.get(id)?.state ?? "normal" });
    const fromAlarms = (r: { ok: true; events: readonly CoreEvent[] } | { ok: false; reason: string }, result: () => ChangeResult): Applied =>
      r.ok ? { ok: true, events: r.events, result: result() } : refusal(r.reason);
    switch (cmd.verb) {
      case "ack": {
        const r = alarms.acknowledge(cmd.args, cmd.by, now);
        return fromAlarms(r, () => ({ alarms: r.ok ? r.events.map((e) => alarmRef(e.alarm.id)) : [] }));
      }
      case "shelve": {
        const r = alarms.shelve(cmd.args.alarm, cmd.args.durationS * 1000, cmd.args.reason, cmd.by, now);
        return fromAlarms(r, () => ({ alarms: [alarmRef(cmd.args.alarm)], until: iso(wall + cmd.args.durationS * 1000) }));
      }
      case "unshelve":
        return fromAlarms(alarms.unshelve(cmd.args.alarm, cmd.by, now), () => ({ alarms: [alarmRef(cmd.args.alarm)] }));
      case "out_of_service":
      case "return_to_service": {
        const { reason, ...target } = { reason: "", ...cmd.args };
        const r = cmd.verb === "out_of_service" ? alarms.outOfService(target, reason, cmd.by, now) : alarms.returnToService(target, cmd.by, now);
        const inService = cmd.verb === "return_to_service";
        return fromAlarms(r, () => ("device" in target ? { devices: [{ device: target.device, inService }] } : { alarms: [alarmRef(target.alarm)] }));
      }
      case "maintenance": {
        const a = cmd.args;
        // An absolute end on the operator's clock, placed on the incident's timeline.
        const untilMs = a.on && a.untilTs !== undefined ? now + (Date.parse(a.untilTs) - wall) : undefined;
        const r = alarms.maintenance(a.zone, a.on, untilMs, a.reason ?? "", cmd.by, now);
        return fromAlarms(r, () => ({ zones: [{ ...this.#zoneRef(a.zone), maintenance: a.on, ...(a.on && a.untilTs !== undefined ? { maintenanceUntil: a.untilTs } : {}) }] }));
      }
      case "clear": {
        const r = watch.clearZone(cmd.args.zone, now, cmd.by);
        if (!r.ok) return refusal(r.reason ?? "refused");
        return { ok: true, events: r.events, result: { zones: [this.#zoneRef(cmd.args.zone)] } };
      }
      case "status":
        return { ok: true, events: [], result: this.status() };
    }
  }

  #zoneRef(zone: string) {
    const z = this.#ctx.watch.snapshot().zones.find((s) => s.zone === zone);
    return { zone, stage: z?.unjudged === true ? "unknown" : (z?.stage ?? "unknown"), latched: z?.latched ?? false };
  }

  /** The whole picture, as `firebreak ctl status` prints it. */
  status(): StatusResult {
    const watch = this.#ctx.watch;
    const snap = watch.snapshot();
    return {
      zones: snap.zones.map((z) => {
        const incident = watch.openIncident(z.zone);
        return { zone: z.zone, stage: z.stage, latched: z.latched, fault: z.fault, since: iso(z.since), ...(incident === undefined ? {} : { incident }) };
      }),
      alarms: snap.alarms.map((a) => alarmBody(a)),
      triggers: snap.triggers.map((t) => ({ id: t.id, zone: t.zone, incident: t.incident, issuedAt: iso(t.issuedAt), ackBy: iso(t.ackBy) })),
    };
  }
}

/** "unknown …" from the core is a target this daemon does not have; anything else is not allowed now. */
function refusal(reason: string): Applied {
  return { ok: false, code: /^unknown (alarm|zone|device)/.test(reason) ? "unknown_target" : "not_allowed", reason };
}

function describe(cmd: OperatorCommand): string {
  const a = cmd.args as Record<string, unknown>;
  const target = ["alarm", "zone", "device"].filter((k) => typeof a[k] === "string").map((k) => `${k} ${String(a[k])}`);
  if (a["all"] === true) target.push("all alarms");
  return `${cmd.verb}${target.length > 0 ? ` ${target.join(", ")}` : ""} by ${cmd.by}`;
}
