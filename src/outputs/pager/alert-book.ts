// Which alerts this daemon has told Alertmanager are firing, and what to post when an alarm
// changes or a refresh is due. Pure: alarm states and `now` in, alerts to post out.
// Alertmanager keeps an alert until its endsAt; so a firing alert is re-posted every refresh with
// endsAt ahead, and an alarm that stops firing, or whose label set changes (shelved, unshelved …),
// gets its last posted label set sent with endsAt = now, so nothing is left firing there by us.
import type { AlarmState } from "../../events.js";
import { annotationsOf, fires, labelKey, labelsOf, type AlertIdentity, type PostableAlert } from "./alerts.js";

interface Entry {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class AlertBook {
  readonly #id: AlertIdentity;
  readonly #endsAfterMs: number;
  /** Firing alerts as last posted, by alarm id. */
  readonly #firing = new Map<string, Entry>();

  constructor(id: AlertIdentity, endsAfterMs: number) {
    this.#id = id;
    this.#endsAfterMs = endsAfterMs;
  }

  get size(): number {
    return this.#firing.size;
  }

  /** The alarm as it is now (a change, or the restored picture at start): what to post. */
  apply(a: AlarmState, now: number): PostableAlert[] {
    const before = this.#firing.get(a.id);
    const out: PostableAlert[] = [];
    const labels = labelsOf(a, this.#id);
    const annotations = annotationsOf(a);
    const moved = before !== undefined && labelKey(before.labels) !== labelKey(labels);
    if (before !== undefined && (!fires(a) || moved)) {
      // Resolved under the labels Alertmanager knows it by, with the news of why in its annotations.
      out.push({ labels: before.labels, annotations, startsAt: iso(before.startsAt), endsAt: iso(now) });
      this.#firing.delete(a.id);
    }
    if (fires(a)) {
      const startsAt = before !== undefined && !moved ? before.startsAt : Math.min(a.since, now);
      const entry: Entry = { labels, annotations, startsAt };
      this.#firing.set(a.id, entry);
      out.push(this.#post(entry, now));
    }
    return out;
  }

  /** Every firing alert again, its endsAt moved ahead. */
  refresh(now: number): PostableAlert[] {
    return [...this.#firing.values()].map((e) => this.#post(e, now));
  }

  #post(e: Entry, now: number): PostableAlert {
    return { labels: e.labels, annotations: e.annotations, startsAt: iso(e.startsAt), endsAt: iso(now + this.#endsAfterMs) };
  }
}
