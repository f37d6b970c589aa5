// Numbering and journaling: core events become their retained state message and a numbered entry
// on `events` (one `seq` per site daemon, continued across restarts from the state store), and the
// journal rows of messages the broker has acknowledged are removed in batches.
import type { Logger } from "pino";
import type { CoreEvent, ZoneStageChange } from "../../events.js";
import { eventMessage, type OutMessage, type Publisher, stateMessage, type TriggerSigning, withFault } from "./payloads.js";
import type { PointDecimals } from "./rounding.js";
import type { Topics } from "./topics.js";

/**
 * Where QoS 1 messages the core decided are kept until the broker acknowledges them (the state
 * store), so that neither a broker outage nor our own restart loses them.
 */
export interface Journal {
  /** Called before the messages are written, inside the caller's transaction; ids in order. */
  append(msgs: readonly OutMessage[], seq: number): number[];
  /** The broker acknowledged these, or they were superseded or dropped (and counted). */
  done(ids: readonly number[]): void;
}

/** Events numbered and turned into messages, not yet sent: the caller commits them first. */
export interface Prepared {
  readonly messages: readonly OutMessage[];
  /** The sequence number of the last event in `messages`. */
  readonly seq: number;
}

export class EventSequencer {
  readonly #topics: Topics;
  readonly #decimals: PointDecimals;
  readonly #instance: string;
  readonly #log: Logger;
  readonly #signing: TriggerSigning | undefined;
  /** Each zone's last stage picture: a fault change republishes it with the new fault flag. */
  readonly #lastStage = new Map<string, ZoneStageChange>();
  #seq: number;
  #rejected = 0;

  constructor(opts: { topics: Topics; decimals: PointDecimals; instance: string; log: Logger; initialSeq: number; triggerSigning?: TriggerSigning }) {
    this.#signing = opts.triggerSigning;
    this.#topics = opts.topics;
    this.#decimals = opts.decimals;
    this.#instance = opts.instance;
    this.#log = opts.log;
    this.#seq = opts.initialSeq;
  }

  get seq(): number {
    return this.#seq;
  }

  /** Events whose messages could not be built (an id that cannot form a topic): logged and counted. */
  get rejected(): number {
    return this.#rejected;
  }

  /** A zone's current picture, as republished on (re)connect. */
  noteStage(z: ZoneStageChange): void {
    this.#lastStage.set(z.zone, z);
  }

  /** Per event: its retained state message (if any), then its numbered entry on `events`. */
  prepare(publisher: Publisher, events: readonly CoreEvent[], nowMs: number): Prepared {
    const messages: OutMessage[] = [];
    for (const event of events) {
      try {
        const last = event.type === "zone_fault" ? this.#lastStage.get(event.zone) : undefined;
        const state = stateMessage(this.#topics, event, nowMs, last, this.#decimals, this.#instance, this.#signing);
        const ev = eventMessage(this.#topics, publisher, this.#seq + 1, event, nowMs, this.#decimals);
        this.#seq++;
        if (event.type === "zone_stage") this.#lastStage.set(event.zone, event);
        if (event.type === "zone_fault") this.#lastStage.set(event.zone, withFault(last, event));
        if (state !== undefined) messages.push(state);
        messages.push(ev);
      } catch (err) {
        this.#rejected++;
        this.#log.error({ err, event: event.type }, "mqtt: event not published");
      }
    }
    return { messages, seq: this.#seq };
  }
}

/** Journal rows the broker has acknowledged, removed in one transaction per turn of the event loop. */
export class JournalAcks {
  readonly #journal: Journal | undefined;
  readonly #log: Logger;
  #acked: number[] = [];
  #flush: NodeJS.Immediate | undefined;

  constructor(journal: Journal | undefined, log: Logger) {
    this.#journal = journal;
    this.#log = log;
  }

  /** The broker has this message, or it left the queue unsent (superseded, dropped and counted). */
  done(m: OutMessage): void {
    if (m.journalId === undefined || this.#journal === undefined) return;
    this.#acked.push(m.journalId);
    this.#flush ??= setImmediate(() => this.flush());
  }

  flush(): void {
    clearImmediate(this.#flush);
    this.#flush = undefined;
    const ids = this.#acked;
    if (ids.length === 0) return;
    this.#acked = [];
    try {
      this.#journal?.done(ids);
    } catch (err) {
      // Not fatal: the rows stay and are sent again after a restart (QoS 1 is at least once anyway).
      this.#log.error({ err, rows: ids.length }, "mqtt: could not remove acknowledged messages from the state store");
    }
  }
}
