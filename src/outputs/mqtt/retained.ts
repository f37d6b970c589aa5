// What to do with a retained message found on the broker under our state topics when we connect:
// keep it (it is in our picture, or someone else's), adopt it (an evacuation trigger for one of our
// zones, issued by a redundant peer or by ourselves before our state was lost), or remove it (ours,
// and no longer part of what we know to be true). Pure: the picture and ownership are passed in.
import type { Topics } from "./topics.js";

export type RetainedKind = "alarm" | "zone" | "evacuate";

export interface RetainedRef {
  readonly kind: RetainedKind;
  /** Alarm id or zone id. */
  readonly id: string;
}

/** Which of our retained state topics this is, if any. */
export function parseRetainedTopic(t: Topics, topic: string): RetainedRef | undefined {
  if (!topic.startsWith(t.prefix)) return undefined;
  const parts = topic.slice(t.prefix.length).split("/");
  if (parts.length === 2 && parts[0] === "alarm" && parts[1]) return { kind: "alarm", id: parts[1] };
  if (parts.length === 3 && parts[0] === "zone" && parts[2] === "stage" && parts[1]) return { kind: "zone", id: parts[1] };
  if (parts.length === 2 && parts[0] === "evacuate" && parts[1]) return { kind: "evacuate", id: parts[1] };
  return undefined;
}

export interface RetainedContext {
  readonly instance: string;
  /** Topics of the picture we publish now: these are ours to keep. */
  readonly pictureTopics: ReadonlySet<string>;
  /**
   * For payloads without an `instance` field (published by firebreak before it had one): is this id
   * one of our configured alarms or zones?
   */
  readonly legacyOwned: (ref: RetainedRef) => boolean;
  /** Offer a retained trigger for adoption; true when the core adopted it (its incident is now open). */
  readonly adoptTrigger: (zone: string, triggerId: string) => boolean;
}

export type RetainedVerdict =
  | { readonly action: "keep"; readonly why: string }
  | { readonly action: "adopted"; readonly triggerId: string }
  | { readonly action: "remove"; readonly why: string };

export function judgeRetained(ref: RetainedRef, topic: string, payload: string, ctx: RetainedContext): RetainedVerdict {
  if (payload === "") return { action: "keep", why: "already empty" };
  let body: { instance?: unknown; id?: unknown };
  try {
    body = JSON.parse(payload) as { instance?: unknown; id?: unknown };
  } catch {
    body = {};
  }
  const owner = typeof body.instance === "string" ? body.instance : undefined;
  const mine = owner === undefined ? ctx.legacyOwned(ref) : owner === ctx.instance;
  if (ref.kind === "evacuate" && typeof body.id === "string" && ctx.adoptTrigger(ref.id, body.id)) {
    return { action: "adopted", triggerId: body.id };
  }
  if (ctx.pictureTopics.has(topic)) return { action: "keep", why: "part of the current picture" };
  if (!mine) return { action: "keep", why: owner === undefined ? "not one of our alarms or zones" : `published by instance ${owner}` };
  return { action: "remove", why: "ours, and no longer part of the picture" };
}
