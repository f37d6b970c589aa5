// Redundant daemons (README "Redundancy (active/active)") share the retained state topics of their
// zones: `zone/<z>/stage`, `alarm/<id>`, `evacuate/<z>`, where the last message wins. When a peer's
// live message (or an empty one, which names nobody) says less than this daemon knows (a lower
// stage, an alarm gone, the trigger removed by a clear this daemon refused), this daemon publishes
// its own message again, so the retained picture is never less alarming than either daemon's: an
// alarm from either is an alarm. Only ever upwards, so two daemons cannot answer each other in a loop.
// Pure: the picture and the received payload are passed in.
import { stages, type Stage } from "../../config/site-schema.js";
import type { AlarmState, EvacuationTrigger, ZoneStageChange } from "../../events.js";
import { alarmMessage, evacuateMessage, type OutMessage, type TriggerSigning, zoneStageMessage } from "./payloads.js";
import type { RetainedRef } from "./retained.js";
import type { PointDecimals } from "./rounding.js";
import type { Topics } from "./topics.js";

/** How alarming this daemon's own message for a topic is; undefined when it publishes nothing there. */
export type OwnLevel = number | undefined;

/** What the daemon's picture holds, as far as this judgement needs it. */
export interface OwnPicture {
  readonly zones: readonly { readonly zone: string; readonly stage: Stage; readonly unjudged?: true }[];
  readonly alarms: readonly { readonly id: string; readonly state: string; readonly active: boolean }[];
  readonly triggers: readonly { readonly zone: string }[];
}

const stageLevel = (stage: unknown): number => (typeof stage === "string" ? stages.indexOf(stage as Stage) : -1);
/** An alarm: 2 active, 1 standing but not active (e.g. returned, unacknowledged), 0 gone. */
const alarmLevel = (a: { state?: unknown; active?: unknown } | undefined): number => (a === undefined || a.state === "normal" ? 0 : a.active === true ? 2 : 1);

/** This daemon's level for the topic of `ref`. A zone never judged in this run claims nothing. */
export function ownLevel(ref: RetainedRef, own: OwnPicture): OwnLevel {
  switch (ref.kind) {
    case "zone": {
      const z = own.zones.find((x) => x.zone === ref.id);
      return z === undefined || z.unjudged === true ? undefined : stageLevel(z.stage);
    }
    case "alarm": {
      const a = own.alarms.find((x) => x.id === ref.id);
      return a === undefined ? undefined : alarmLevel(a);
    }
    case "evacuate":
      return own.triggers.some((t) => t.zone === ref.id) ? 1 : undefined;
  }
}

/**
 * Whether to publish our own message again after `payload` arrived live on the topic of `ref`
 * (`ownOf` is asked only when the payload is not our own echo):
 * true when it is a peer's (or an empty) message that says less than ours, and ours says something
 * (above a zone's `normal`; a standing alarm; an open trigger).
 */
export function shouldReassert(ref: RetainedRef, payload: string, instance: string, ownOf: () => OwnLevel): boolean {
  let body: { instance?: unknown; stage?: unknown; state?: unknown; active?: unknown } = {};
  if (payload !== "") {
    try {
      const v: unknown = JSON.parse(payload);
      if (typeof v === "object" && v !== null) body = v as typeof body;
    } catch {
      body = {};
    }
    if (body.instance === instance) return false; // our own echo: the common case, decided without the picture
  }
  const own = ownOf();
  if (own === undefined) return false;
  const theirs = payload === "" ? (ref.kind === "zone" ? -1 : 0) : ref.kind === "zone" ? stageLevel(body.stage) : ref.kind === "alarm" ? alarmLevel(body) : 1;
  return own > 0 && own > theirs;
}

/**
 * The site's `status` topic is shared too (v1): a partner's Last Will (`offline`) overwrites our
 * `online`, and a consumer would think the room unwatched while we watch it. Returns the partner's
 * instance when `payload` is the `offline` of another instance that named one of `ourZones` in its
 * `zones`, so we publish our `online` again at once. Another room's daemon going offline is not
 * answered: its room is unwatched, and hiding that would be silently normal.
 */
export function peerOffline(payload: string, instance: string, ourZones: readonly string[]): string | undefined {
  let v: { status?: unknown; instance?: unknown; zones?: unknown };
  try {
    v = JSON.parse(payload) as typeof v;
  } catch {
    return undefined;
  }
  if (v.status !== "offline" || typeof v.instance !== "string" || v.instance === instance) return undefined;
  const shared = Array.isArray(v.zones) && v.zones.some((z) => typeof z === "string" && ourZones.includes(z));
  return shared ? v.instance : undefined;
}

export interface ReassertContext {
  readonly topics: Topics;
  readonly instance: string;
  readonly decimals: PointDecimals;
  /** The current retained picture; asked only for a message that is not our own echo. */
  readonly picture: () => { readonly zones: readonly ZoneStageChange[]; readonly alarms: readonly AlarmState[]; readonly triggers: readonly EvacuationTrigger[] };
  readonly now: number;
  readonly signing?: TriggerSigning;
}

/** Our own message for the topic of `ref`, when `payload` (heard live there) says less than it. */
export function reassertion(ref: RetainedRef, payload: string, c: ReassertContext): OutMessage | undefined {
  let snap: ReturnType<ReassertContext["picture"]> | undefined;
  const picture = () => (snap ??= c.picture());
  if (!shouldReassert(ref, payload, c.instance, () => ownLevel(ref, picture()))) return undefined;
  const p = picture();
  switch (ref.kind) {
    case "zone": {
      const z = p.zones.find((x) => x.zone === ref.id);
      return z === undefined ? undefined : zoneStageMessage(c.topics, z, c.now, c.decimals, c.instance);
    }
    case "alarm": {
      const a = p.alarms.find((x) => x.id === ref.id);
      return a === undefined ? undefined : alarmMessage(c.topics, a, c.now, c.decimals, c.instance);
    }
    case "evacuate": {
      const t = p.triggers.find((x) => x.zone === ref.id);
      return t === undefined ? undefined : evacuateMessage(c.topics, t, c.now, c.decimals, c.instance, c.signing);
    }
  }
}
