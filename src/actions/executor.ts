// Carries out a protective action that was decided (./decide.ts): the write through the device's
// driver, then read-backs every `verify.intervalMs` of the injected clock, at most `verify.retries`
// of them and within `verify.timeoutMs` of the start, until every expected point reads what it
// should (./read-back.ts). Each step is handed on as an ActionEvent (`written`, `confirmed`,
// `failed`); the runtime commits, audits and publishes them and raises the critical alarm
// (src/runtime/action-desk.ts). No timer or socket of its own: the clock and the writer are passed in.
import type { ProtectiveAction, Stage } from "../config/types.js";
import type { ActionEvent, ActionOutcomeName, ActionReadBack } from "../events.js";
import type { PointValue } from "../points/point.js";
import type { Clock } from "../runtime/clock.js";
import { describeReadBack, judgeReadBack } from "./read-back.js";

export interface ExecutorContext {
  readonly clock: Clock;
  /** Write a raw value to a device's point; rejects (ActionWriteError) when it was not carried out. */
  readonly write: (device: string, point: string, value: number) => Promise<void>;
  /** A point's current value by key, as the rules read it. */
  readonly read: (key: string) => PointValue;
  readonly emit: (events: readonly ActionEvent[]) => void;
}

/** Where the action stands when it runs: the zone's stage, the knocks that held the interlock, the incident. */
export interface RunContext {
  readonly stage: Stage;
  readonly knocks: readonly string[];
  readonly incident?: number;
}

export function actionEvent(a: ProtectiveAction, ctx: RunContext, outcome: ActionOutcomeName, detail: string, now: number, extra: { code?: string; readBack?: readonly ActionReadBack[] } = {}): ActionEvent {
  return {
    type: "action",
    action: a.id,
    kind: a.kind,
    device: a.device,
    point: a.write.point,
    value: a.write.value,
    zone: a.on.zone,
    stage: ctx.stage,
    outcome,
    ...(extra.code === undefined ? {} : { code: extra.code }),
    detail,
    dryRun: a.dryRun,
    knocks: ctx.knocks,
    ...(extra.readBack === undefined ? {} : { readBack: extra.readBack }),
    ...(ctx.incident === undefined ? {} : { incident: ctx.incident }),
    since: now,
  };
}

export class ActionExecutor {
  readonly #ctx: ExecutorContext;
  /** Actions with a run in progress: a second run of the same action waits for none, it is refused. */
  readonly #running = new Set<string>();

  constructor(ctx: ExecutorContext) {
    this.#ctx = ctx;
  }

  running(actionId: string): boolean {
    return this.#running.has(actionId);
  }

  /**
   * Write, then verify. With `verifyOnly` (a write decided before a restart whose outcome was never
   * recorded), read back without writing again. Resolves when the run has ended; never rejects.
   */
  async run(a: ProtectiveAction, ctx: RunContext, verifyOnly = false): Promise<void> {
    if (this.#running.has(a.id)) return;
    this.#running.add(a.id);
    try {
      await this.#run(a, ctx, verifyOnly);
    } finally {
      this.#running.delete(a.id);
    }
  }

  async #run(a: ProtectiveAction, ctx: RunContext, verifyOnly: boolean): Promise<void> {
    const { clock } = this.#ctx;
    const startedAt = clock.now();
    const emit = (outcome: ActionOutcomeName, detail: string, extra?: { code?: string; readBack?: readonly ActionReadBack[] }): void => this.#ctx.emit([actionEvent(a, ctx, outcome, detail, clock.now(), extra)]);
    const target = `${a.device}/${a.write.point} = ${a.write.value}`;
    if (!verifyOnly) {
      try {
        await this.#ctx.write(a.device, a.write.point, a.write.value);
      } catch (e) {
        emit("failed", `protective action ${a.id}: ${e instanceof Error ? e.message : String(e)}`, { code: "write_failed" });
        return;
      }
      emit("written", `${target} written; the device echoed it`);
    }
    // A reading counts only if it was taken after the write was echoed (or, verifying after a restart, after now).
    const since = clock.now();
    const deadline = startedAt + a.verify.timeoutMs;
    let last: readonly ActionReadBack[] = [];
    for (let i = 1; i <= a.verify.retries; i++) {
      const wait = Math.min(a.verify.intervalMs, Math.max(0, deadline - clock.now()));
      await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
      const v = judgeReadBack(a, this.#ctx.read, since);
      last = v.readBack;
      if (v.confirmed) {
        emit("confirmed", `${target} confirmed by read-back ${i}: ${describeReadBack(v.readBack)}`, { readBack: v.readBack });
        return;
      }
      if (clock.now() >= deadline) break;
    }
    emit("failed", `${a.device} did not confirm ${target} within ${a.verify.retries} read-back(s) / ${a.verify.timeoutMs} ms: ${describeReadBack(last)}`, { code: "unconfirmed", readBack: last });
  }
}
