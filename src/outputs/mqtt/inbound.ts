// What arrives from the broker: retained state of earlier runs on our own topics, reconciled with
// the current picture (kept, adopted or removed, ./retained.ts decides), and operator commands on
// `cmd/<verb>` and consumers' acknowledgments, handed on unparsed (src/commands/ and
// src/evacuation/ verify them).
import type { Logger } from "pino";
import { type OutMessage, removeRetained } from "./payloads.js";
import { judgeRetained, parseRetainedTopic, type RetainedRef } from "./retained.js";
import { parseInbound, type Topics } from "./topics.js";

/** The current picture, as the publisher republishes it. */
interface Picture {
  readonly zones: readonly { readonly zone: string }[];
  readonly alarms: readonly { readonly id: string }[];
  readonly triggers: readonly { readonly zone: string }[];
}

export interface InboundContext {
  readonly topics: Topics;
  readonly instance: string;
  readonly log: Logger;
  readonly retained: () => Picture;
  /** Send (or queue) a message: here, the removal of a stale retained one. */
  readonly send: (m: OutMessage) => void;
  readonly legacyOwned?: (ref: RetainedRef) => boolean;
  readonly adoptTrigger?: (zone: string, triggerId: string) => boolean;
  readonly onCommand?: (verb: string, payload: Buffer) => void;
  /** A consumer's acknowledgment on `evacuate/<zone>/ack/<consumer>`, handed on unparsed. */
  readonly onAck?: (zone: string, consumer: string, payload: Buffer) => void;
  /** A live (not retained) message on one of our retained state topics: ours echoed, or a redundant peer's (./reassert.ts). */
  readonly onLive?: (ref: RetainedRef, payload: string) => void;
  /** A message on the site's shared `status` topic (./reassert.ts). */
  readonly onStatus?: (payload: string) => void;
}

export class Inbound {
  readonly #ctx: InboundContext;

  constructor(ctx: InboundContext) {
    this.#ctx = ctx;
  }

  receive(topic: string, payload: Buffer, retain: boolean): void {
    try {
      const ref = parseRetainedTopic(this.#ctx.topics, topic);
      if (ref !== undefined) {
        // Only what the broker held when we subscribed tells of earlier runs; a live copy is our own echo
        // or a redundant peer's, answered when it says less than we know.
        if (retain) this.#reconcile(ref, topic, payload.toString());
        else this.#ctx.onLive?.(ref, payload.toString());
        return;
      }
      if (topic === this.#ctx.topics.status) return void this.#ctx.onStatus?.(payload.toString());
      const inbound = parseInbound(this.#ctx.topics, topic);
      if (inbound?.kind === "evacuate_ack") this.#ctx.onAck?.(inbound.zone, inbound.consumer, payload);
      else if (inbound?.kind === "cmd") this.#ctx.onCommand?.(inbound.verb, payload);
    } catch (err) {
      this.#ctx.log.error({ err, topic }, "mqtt: handling an inbound message failed");
    }
  }

  #reconcile(ref: RetainedRef, topic: string, payload: string): void {
    const snap = this.#ctx.retained();
    const t = this.#ctx.topics;
    const pictureTopics = new Set<string>([...snap.zones.map((z) => t.zoneStage(z.zone)), ...snap.alarms.map((a) => t.alarm(a.id)), ...snap.triggers.map((x) => t.evacuate(x.zone))]);
    const verdict = judgeRetained(ref, topic, payload, {
      instance: this.#ctx.instance,
      pictureTopics,
      legacyOwned: this.#ctx.legacyOwned ?? (() => false),
      adoptTrigger: this.#ctx.adoptTrigger ?? (() => false),
    });
    switch (verdict.action) {
      case "keep":
        return;
      case "adopted":
        this.#ctx.log.warn({ trigger: verdict.triggerId, zone: ref.id }, `adopted the evacuation trigger ${verdict.triggerId} retained on the broker: its incident stays open until an operator clears it`);
        return;
      case "remove":
        this.#ctx.log.info({ topic }, `removing a retained ${ref.kind} message of an earlier run: ${verdict.why}`);
        this.#ctx.send(removeRetained(topic));
        return;
    }
  }
}
