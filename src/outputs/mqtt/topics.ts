// The one place MQTT topic names are built (README.md#mqtt-topic-reference-schema-v1): `firebreak/v1/<site>/…`. Every id that
// fills one topic level is checked here so a stray `/`, `+` or `#` can never widen a topic.
import { MqttTopicError } from "../../errors.js";

export { MqttTopicError };

/** Schema version in the topic prefix and in every payload's `v`. */
export const SCHEMA_VERSION = 1;

/** One topic level: non-empty, no `/`, no wildcards, no NUL (MQTT 3.1.1 §4.7). */
export function level(what: string, id: string): string {
  if (id === "") throw new MqttTopicError(what, id, "it is empty");
  if (/[/+#]/.test(id) || id.includes("\u0000")) throw new MqttTopicError(what, id, "it contains '/', '+', '#' or NUL");
  return id;
}

/** Several levels (a point id such as `s1/m3/c7/tempC`): each level checked, no empty level. */
function levels(what: string, path: string): string {
  return path
    .split("/")
    .map((l) => level(what, l))
    .join("/");
}

export interface Topics {
  readonly prefix: string;
  readonly status: string;
  readonly events: string;
  alarm(alarmId: string): string;
  zoneStage(zoneId: string): string;
  evacuate(zoneId: string): string;
  evacuateAck(zoneId: string, consumerId: string): string;
  /** `evacuate/<zone>/status`: where the zone's evacuation stands across its consumers (retained). */
  evacuateStatus(zoneId: string): string;
  /** `consumer/<consumerId>/status`: a reference consumer's own availability and view of the room (retained). */
  consumerStatus(consumerId: string): string;
  /** Subscription filter for every consumer's acknowledgment of every zone's trigger. */
  readonly evacuateAckFilter: string;
  cmd(verb: string): string;
  /** Subscription filter for every operator command. */
  readonly cmdFilter: string;
  cmdReply(requestId: string): string;
  /** `point/<deviceId>/<pointId>`; the point id may span levels. */
  point(deviceId: string, pointId: string): string;
}

export function topics(site: string): Topics {
  const p = `firebreak/v${SCHEMA_VERSION}/${level("site", site)}/`;
  return {
    prefix: p,
    status: `${p}status`,
    events: `${p}events`,
    alarm: (id) => `${p}alarm/${level("alarm id", id)}`,
    zoneStage: (zone) => `${p}zone/${level("zone id", zone)}/stage`,
    evacuate: (zone) => `${p}evacuate/${level("zone id", zone)}`,
    evacuateAck: (zone, consumer) => `${p}evacuate/${level("zone id", zone)}/ack/${level("consumer id", consumer)}`,
    evacuateAckFilter: `${p}evacuate/+/ack/+`,
    evacuateStatus: (zone) => `${p}evacuate/${level("zone id", zone)}/status`,
    consumerStatus: (consumer) => `${p}consumer/${level("consumer id", consumer)}/status`,
    cmd: (verb) => `${p}cmd/${level("command verb", verb)}`,
    cmdFilter: `${p}cmd/+`,
    cmdReply: (requestId) => `${p}cmd/reply/${level("request id", requestId)}`,
    point: (device, point) => `${p}point/${level("device id", device)}/${levels("point id", point)}`,
  };
}
/** What a received topic under this site's prefix is; undefined when it is none of ours. */
export type ParsedTopic =
  | { readonly kind: "evacuate_ack"; readonly zone: string; readonly consumer: string }
  | { readonly kind: "cmd"; readonly verb: string }
  | { readonly kind: "cmd_reply"; readonly requestId: string };

export function parseInbound(t: Topics, topic: string): ParsedTopic | undefined {
  if (!topic.startsWith(t.prefix)) return undefined;
  const parts = topic.slice(t.prefix.length).split("/");
  if (parts.length === 4 && parts[0] === "evacuate" && parts[2] === "ack" && parts[1] && parts[3]) {
    return { kind: "evacuate_ack", zone: parts[1], consumer: parts[3] };
  }
  if (parts.length === 3 && parts[0] === "cmd" && parts[1] === "reply" && parts[2]) return { kind: "cmd_reply", requestId: parts[2] };
  if (parts.length === 2 && parts[0] === "cmd" && parts[1] && parts[1] !== "reply") return { kind: "cmd", verb: parts[1] };
  return undefined;
}
