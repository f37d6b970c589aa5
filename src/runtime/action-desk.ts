// The daemon's protective-action desk (README "Protective actions"): after each evaluation it asks
// the pure decision (src/actions/decide.ts) what every configured action does now, commits each step
// before anything is written (`decided` is in the state store before the write leaves), hands writes
// to the executor (src/actions/executor.ts) and turns its outcomes into events, audit rows and the
// critical `action-unconfirmed:<id>` alarm. Its memory is rebuilt from the audit at start, so an
// action performed in this episode is not repeated after a restart, and a write whose read-back was
// interrupted is verified (never written again).
import type { Logger } from "pino";
import { unconfirmedAlarm } from "../actions/alarm.js";
import { decide, FRESH, type ActionMemory } from "../actions/decide.js";
import { ActionExecutor, actionEvent, type RunContext } from "../actions/executor.js";
import { recall, type ActionAuditRow } from "../actions/memory.js";
import type { ProtectiveAction } from "../config/types.js";
import type { ActionEvent, CoreEvent } from "../events.js";
import type { PointValue } from "../points/point.js";
import type { RoomWatch } from "../zones/room-watch.js";
import type { Clock } from "./clock.js";

export interface ActionDeskContext {
  readonly actions: readonly ProtectiveAction[];
  readonly watch: RoomWatch;
  readonly clock: Clock;
  readonly log: Logger;
  readonly write: (device: string, point: string, value: number) => Promise<void>;
  readonly read: (key: string) => PointValue;
  /** Commit (state store), audit and publish events decided here, as the daemon does every decision. */
  readonly commit: (events: readonly CoreEvent[]) => void;
}

/** Audit rows read back per action at start: enough to find the last re-arm of any realistic episode. */
export const RECALL_ROWS = 500;

export class ActionDesk {
  readonly #ctx: ActionDeskContext;
  readonly #memory = new Map<string, ActionMemory>();
  readonly #executor: ActionExecutor;
  /** Writes decided before a restart without a recorded outcome: verified (read-back only) once started. */
  #unverified: ProtectiveAction[] = [];
  #stopped = false;

  constructor(ctx: ActionDeskContext) {
    this.#ctx = ctx;
    this.#executor = new ActionExecutor({ clock: ctx.clock, write: ctx.write, read: ctx.read, emit: (events) => this.#outcome(events) });
    for (const a of ctx.actions) this.#memory.set(a.id, FRESH);
  }

  /** Continue from the audit: `rows(id)` gives an action's last audited steps, oldest first. */
  restore(rows: (actionId: string) => readonly ActionAuditRow[]): void {
    this.#unverified = [];
    for (const a of this.#ctx.actions) {
      const r = recall(rows(a.id));
      this.#memory.set(a.id, r.memory);
      if (r.unverified) this.#unverified.push(a);
      if (r.memory.fired) this.#ctx.log.info({ action: a.id, unverified: r.unverified }, `action ${a.id} was performed before the restart in this episode: not repeated${r.unverified ? "; its read-back is checked again" : ""}`);
    }
  }

  /** Say which actions will not write, and start the read-backs of writes interrupted by a restart (after the drivers have started). */
  start(): void {
    const { log } = this.#ctx;
    for (const a of this.#ctx.actions) {
      if (!a.enabled) log.info({ action: a.id, device: a.device }, `protective action ${a.id} is disabled (enabled: false): it will write nothing`);
      else if (a.dryRun) log.info({ action: a.id, device: a.device }, `protective action ${a.id} is a dry run: it will log and publish what it would write, and write nothing`);
    }
    for (const a of this.#unverified.splice(0)) void this.#executor.run(a, this.#runContext(a), true);
  }

  /** What every action does now; each step is committed before its write is sent. */
  step(now: number): void {
    if (this.#stopped) return;
    const { watch } = this.#ctx;
    for (const a of this.#ctx.actions) {
      if (this.#executor.running(a.id)) continue;
      const zone = watch.zones().find((z) => z.id === a.on.zone);
      if (zone === undefined) continue;
      const stage = watch.stageOf(zone.id);
      const { decision, memory } = decide(a, this.#memory.get(a.id) ?? FRESH, zone, stage, watch.resultsOf(zone.id), now);
      this.#memory.set(a.id, memory);
      const ctx: RunContext = { ...this.#runContext(a), knocks: "knocks" in decision ? decision.knocks : [] };
      switch (decision.kind) {
        case "idle":
          break;
        case "rearm":
          this.#ctx.commit([actionEvent(a, ctx, "rearmed", `zone ${a.on.zone} is at ${stage ?? "unknown"}, below ${a.on.stage}: the action is re-armed`, now), ...watch.alarms.raise([unconfirmedAlarm(a, false, "")], now)]);
          break;
        case "refused":
          this.#ctx.commit([actionEvent(a, ctx, "refused", decision.detail, now, { code: decision.code })]);
          break;
        case "dry_run":
          this.#ctx.commit([actionEvent(a, ctx, "dry_run", `dry run: would write ${a.device}/${a.write.point} = ${a.write.value} (${a.kind}); nothing written`, now)]);
          break;
        case "write":
          this.#ctx.commit([actionEvent(a, ctx, "decided", `interlock holds (${decision.knocks.join(", ")}): writing ${a.device}/${a.write.point} = ${a.write.value} (${a.kind})`, now)]);
          void this.#executor.run(a, ctx);
          break;
      }
    }
  }

  stop(): void {
    this.#stopped = true;
  }

  #runContext(a: ProtectiveAction): RunContext {
    const { watch } = this.#ctx;
    const incident = watch.openIncident(a.on.zone);
    return { stage: watch.stageOf(a.on.zone) ?? a.on.stage, knocks: [], ...(incident === undefined ? {} : { incident }) };
  }

  /** The executor's outcomes: committed and published; a failure raises the critical alarm. */
  #outcome(events: readonly ActionEvent[]): void {
    if (this.#stopped) return;
    const out: CoreEvent[] = [];
    for (const e of events) {
      out.push(e);
      const a = this.#ctx.actions.find((x) => x.id === e.action);
      if (e.outcome === "failed" && a !== undefined) out.push(...this.#ctx.watch.alarms.raise([unconfirmedAlarm(a, true, e.detail)], e.since));
    }
    try {
      this.#ctx.commit(out);
    } catch (err) {
      this.#ctx.log.error({ err }, "committing a protective action's outcome failed");
    }
  }
}
