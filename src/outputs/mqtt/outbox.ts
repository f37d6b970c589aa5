// The publisher's own bounded queue for while the broker is away (mqtt.js's offline queue is
// unbounded and uncounted). Full: the oldest telemetry goes first, then the oldest events; retained
// state is never dropped, only superseded by a newer message for the same topic.
import type { OutMessage } from "./payloads.js";

interface Entry {
  readonly seq: number;
  readonly msg: OutMessage;
}

/** FIFO with O(1) shift: a head index over an array, compacted now and then. */
class Fifo {
  #items: Entry[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(e: Entry): void {
    this.#items.push(e);
  }

  shift(): Entry | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const e = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return e;
  }

  takeAll(): Entry[] {
    const all = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return all;
  }
}

export class Outbox {
  readonly #limit: number;
  readonly #telemetry = new Fifo();
  readonly #events = new Fifo();
  /** Retained state by topic: only the newest per topic matters to the broker's retained picture. */
  readonly #state = new Map<string, Entry>();
  #seq = 0;
  droppedTelemetry = 0;
  droppedEvents = 0;

  /** Told of every message that leaves the queue without being sent (superseded or dropped), e.g. to forget its journal row. */
  readonly #onDiscard: (msg: OutMessage) => void;

  constructor(limit: number, onDiscard: (msg: OutMessage) => void = () => {}) {
    if (!(limit >= 1)) throw new RangeError(`queue limit must be >= 1, got ${limit}`);
    this.#limit = limit;
    this.#onDiscard = onDiscard;
  }

  get size(): number {
    return this.#telemetry.size + this.#events.size + this.#state.size;
  }

  get dropped(): number {
    return this.droppedTelemetry + this.droppedEvents;
  }

  push(msg: OutMessage): void {
    const e = { seq: ++this.#seq, msg };
    switch (msg.kind) {
      case "telemetry":
        this.#telemetry.push(e);
        break;
      case "event":
        this.#events.push(e);
        break;
      case "state":
      case "status": {
        // Re-inserted so the newest message takes the newest place in the flush order.
        const older = this.#state.get(msg.topic);
        this.#state.delete(msg.topic);
        this.#state.set(msg.topic, e);
        if (older !== undefined) this.#onDiscard(older.msg);
        break;
      }
    }
    while (this.size > this.#limit) {
      const t = this.#telemetry.shift();
      if (t !== undefined) {
        this.droppedTelemetry++;
        continue;
      }
      const ev = this.#events.shift();
      if (ev === undefined) break; // only retained state left: it is bounded by the number of zones, alarms and triggers
      this.droppedEvents++;
      this.#onDiscard(ev.msg);
    }
  }

  /** Everything queued, in the order it was queued; the outbox is empty afterwards. */
  drain(): OutMessage[] {
    const all = [...this.#telemetry.takeAll(), ...this.#events.takeAll(), ...this.#state.values()];
    this.#state.clear();
    return all.sort((a, b) => a.seq - b.seq).map((e) => e.msg);
  }
}
