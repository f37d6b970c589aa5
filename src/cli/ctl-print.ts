// What `firebreak ctl` prints: a daemon's reply in plain words, `status` as tables, and what to
// check when no reply came. Pure: text in, text out.
import type { ArgsByVerb, Verb } from "../commands/wire.js";
import { parseChangeResult, type ChangeResult, type Reply } from "../commands/reply.js";
import { statusResultSchema, type ParsedStatus } from "../commands/status.js";

type AnyArgs = { [V in Verb]: { verb: V; args: ArgsByVerb[V] } }[Verb];

/** "alarm offgas-a acknowledged": what the operator asked, as a past-tense phrase. */
export function describeRequest(c: AnyArgs): string {
  switch (c.verb) {
    case "ack":
      return "alarm" in c.args ? `alarm ${c.args.alarm} acknowledged` : "zone" in c.args ? `alarms of zone ${c.args.zone} acknowledged` : "all alarms acknowledged";
    case "shelve":
      return `alarm ${c.args.alarm} shelved for ${c.args.durationS} s`;
    case "unshelve":
      return `alarm ${c.args.alarm} unshelved`;
    case "out_of_service":
      return `${"alarm" in c.args ? `alarm ${c.args.alarm}` : `device ${c.args.device}`} taken out of service`;
    case "return_to_service":
      return `${"alarm" in c.args ? `alarm ${c.args.alarm}` : `device ${c.args.device}`} returned to service`;
    case "maintenance":
      return c.args.on ? `zone ${c.args.zone} put in maintenance${c.args.untilTs === undefined ? "" : ` until ${c.args.untilTs}`}` : `zone ${c.args.zone} taken out of maintenance`;
    case "clear":
      return `zone ${c.args.zone} cleared`;
    case "status":
      return "status read";
  }
}

/** "now ack" for the one alarm asked about; "now offgas-a ack, zone batt-a normal" otherwise. */
function describeNow(c: AnyArgs, r: ChangeResult): string {
  const single = c.verb !== "status" && "alarm" in c.args && r.alarms?.length === 1 && r.alarms[0]?.id === c.args.alarm && (r.zones ?? []).length === 0 && (r.devices ?? []).length === 0;
  const parts = [
    ...(single ? [r.alarms![0]!.state] : (r.alarms ?? []).map((a) => `${a.id} ${a.state}`)),
    ...(r.zones ?? []).map((z) => `zone ${z.zone} ${z.stage}${z.latched ? " (latched)" : ""}${z.maintenance ? `, in maintenance${z.maintenanceUntil ? ` until ${z.maintenanceUntil}` : ""}` : ""}`),
    ...(r.devices ?? []).map((d) => `device ${d.device} ${d.inService ? "in service" : "out of service"}`),
    ...(r.until === undefined ? [] : [`until ${r.until}`]),
  ];
  if (parts.length === 0) return (r.alarms ?? r.zones ?? r.devices) === undefined ? "" : "; nothing needed changing";
  return `; now ${parts.join(", ")}`;
}

/** The lines to print for a reply, and the exit code: 0 accepted, 3 refused. */
export function describeReply(c: AnyArgs, reply: Reply): { text: string; exitCode: 0 | 3 } {
  if (!reply.ok) return { text: `refused (${reply.code}): ${reply.reason}`, exitCode: 3 };
  if (c.verb === "status") {
    const s = statusResultSchema.safeParse(reply.result);
    if (!s.success) return { text: `accepted, but the status result is not in the v1 shape (${s.error.issues[0]?.path.join(".")}: ${s.error.issues[0]?.message}); use --json to see it`, exitCode: 0 };
    return { text: statusTables(s.data, reply.instance), exitCode: 0 };
  }
  const r = parseChangeResult(reply.result) ?? {};
  return { text: `accepted: ${describeRequest(c)} by ${reply.by}${describeNow(c, r)}`, exitCode: 0 };
}

const priorityOrder = ["critical", "high", "medium", "low"];

export function statusTables(s: ParsedStatus, instance: string): string {
  const yes = (b: boolean) => (b ? "yes" : "no");
  const alarms = [...s.alarms].sort((a, b) => rank(a.priority) - rank(b.priority) || a.since.localeCompare(b.since));
  return [
    `status of ${instance}`,
    "",
    "zones",
    table(["zone", "stage", "latched", "fault", "since", "incident"], s.zones.map((z) => [z.zone, z.stage, yes(z.latched), yes(z.fault), z.since, z.incident === undefined ? "" : String(z.incident)])),
    "",
    "alarms, by priority",
    table(["id", "priority", "state", "active", "since", "message"], alarms.map((a) => [a.id, a.priority, a.state, yes(a.active), a.since, a.message])),
    "",
    "open evacuation triggers",
    table(["id", "zone", "issuedAt", "ackBy"], s.triggers.map((t) => [t.id, t.zone, t.issuedAt, t.ackBy])),
  ].join("\n");
}

function rank(priority: string): number {
  const i = priorityOrder.indexOf(priority);
  return i < 0 ? priorityOrder.length : i;
}

/** Left-aligned columns, two spaces apart; "(none)" for no rows. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return "  (none)";
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => "  " + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ");
  return [line(headers), ...rows.map(line)].join("\n");
}

/** What to check when no reply came within the timeout. */
export function describeSilence(site: string, requestId: string, timeoutS: number, status: string | undefined, noSubscribers: boolean): string {
  const lines = [`no reply within ${timeoutS} s (request ${requestId}); the command may or may not have been applied. Check:`];
  if (noSubscribers) lines.push(`  - the broker says nobody subscribes to firebreak/v1/${site}/cmd/…: is the daemon for site "${site}" running and connected?`);
  if (status === undefined) lines.push(`  - no retained firebreak/v1/${site}/status: no daemon has published for site "${site}" on this broker. Is the site id right?`);
  else lines.push(`  - the daemon's retained status: ${summariseStatus(status)}`);
  lines.push(
    "  - is the daemon running, and does it know operator commands (a version with `operators:` in its site config)?",
    `  - the broker's ACL: the daemon's user must read firebreak/v1/${site}/cmd/# and write cmd/reply/#; yours must read cmd/reply/#`,
    "  - a slow broker or daemon: try a longer --timeout",
  );
  return lines.join("\n");
}

function summariseStatus(payload: string): string {
  try {
    const s = JSON.parse(payload) as { status?: unknown; instance?: unknown; ts?: unknown };
    return `${String(s.status)} (instance ${String(s.instance)}, at ${String(s.ts)})${s.status === "offline" ? ": the daemon is not running or lost its connection" : ""}`;
  } catch {
    return payload.slice(0, 200);
  }
}

/**
 * Several daemons on one site (a redundant pair, or one per room) each receive every command and
 * each answers for its own picture. With `expected` > 1 every reply is printed under its instance;
 * the exit code is the worst of them: 3 when any refused, 1 when fewer than `expected` answered
 * (the command may have been applied by those that did), else 0. With `expected` 1 this is
 * describeReply() of the first reply, plus a note when other daemons answered too.
 */
export function describeReplies(c: AnyArgs, replies: readonly Reply[], expected: number): { out: string; err: string; exitCode: 0 | 1 | 3 } {
  const who = (r: Reply): string => r.instance ?? "(unnamed)";
  const described = replies.map((r) => ({ r, who: who(r), ...describeReply(c, r) }));
  const refused = described.some((d) => d.exitCode !== 0);
  if (expected <= 1 && described.length > 0) {
    const first = described[0]!;
    const others = replies.slice(1).map(who);
    const note = others.length > 0 ? `\n(instance ${first.who} answered first; ${others.join(", ")} answered too: use --instances ${replies.length} to see every answer)` : "";
    return first.exitCode === 0 ? { out: first.text + note, err: "", exitCode: 0 } : { out: "", err: first.text + note, exitCode: 3 };
  }
  // In instance order, so that the same disagreement reads the same whichever daemon answered first.
  described.sort((a, b) => (a.who < b.who ? -1 : a.who > b.who ? 1 : 0));
  const lines = described.map((d) => `[${d.who}] ${d.text}`);
  const errors: string[] = [];
  const outcomes = new Set(described.map((d) => d.exitCode));
  if (outcomes.size > 1) errors.push(`the daemons disagree: ${described.map((d) => `${d.who} ${d.exitCode === 0 ? "accepted" : "refused"}`).join(", ")}`);
  if (described.length < expected) errors.push(`only ${described.length} of ${expected} daemons answered${described.length > 0 ? ` (${replies.map(who).join(", ")})` : ""}; those that did not may still apply the command: read \`ctl status --instances ${expected}\` before sending it again`);
  return { out: lines.join("\n"), err: errors.join("\n"), exitCode: refused ? 3 : described.length < expected ? 1 : 0 };
}
