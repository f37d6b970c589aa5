// Operator commands end to end on a real Mosquitto running docs/mosquitto-acl.example: `firebreak
// ctl` as its own process signs and sends; a small responder here (verifyCommand and the reply
// builders, as the daemon uses them) answers. The daemon's application of commands is not tested here.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorKeys } from "../../src/commands/keys.js";
import { acceptedReply, replyToRefusal, type ChangeResult } from "../../src/commands/reply.js";
import type { StatusResult } from "../../src/commands/status.js";
import { verifyCommand } from "../../src/commands/verify.js";
import { topics } from "../../src/outputs/mqtt/topics.js";
import { spawnCli } from "../support/daemon-process.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder } from "../support/mqtt-recorder.js";

const SITE = "dc1";
const PASSWORDS = { "firebreak-dc1": "daemon-pw", alice: "alice-pw", "k8s-drain": "k8s-pw" } as const;
const t = topics(SITE);

let broker: Broker;
let dir: string;
let responder: Responder;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the built CLI to its end (bounded: a hung ctl fails the test, it does not hang it). */
function ctl(args: string[], boundMs = 20_000): Promise<Ran> {
  const child = spawnCli(args);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ctl ${args.join(" ")} did not exit within ${boundMs} ms:\n${stdout}\n${stderr}`));
    }, boundMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The options every ctl run here shares: alice's broker account, and (unless changed) her operator id, key, broker and site. */
function asAlice(o: { as?: string; key?: string; site?: string; connection?: boolean } = {}): string[] {
  const connection = o.connection === false ? [] : ["--broker", broker.url, "--site", o.site ?? SITE];
  return ["--as", o.as ?? "alice", "--key", join(dir, o.key ?? "alice.key"), ...connection, "--username", "alice", "--password-file", join(dir, "alice.pw")];
}

const statusFixture: StatusResult = {
  zones: [
    { zone: "batt-a", stage: "evacuate", latched: true, fault: false, since: "2026-11-25T03:12:09.400Z", incident: 7 },
    { zone: "batt-b", stage: "normal", latched: false, fault: true, since: "2026-11-25T01:00:00.000Z" },
  ],
  alarms: [
    { id: "comm-b", rule: "comm-b", zone: "batt-b", class: "trouble", priority: "medium", state: "unack", active: true, latched: false, since: "2026-11-25T01:00:00.000Z", message: "row B devices not answering", evidence: [] },
    { id: "offgas-a", rule: "offgas-a", zone: "batt-a", class: "condition", priority: "critical", state: "unack", active: true, stage: "alarm", latched: true, since: "2026-11-25T03:11:40.000Z", message: "off-gas in row A", evidence: [] },
  ],
  triggers: [{ id: "dc1:batt-a:0007", zone: "batt-a", incident: 7, issuedAt: "2026-11-25T03:12:09.412Z", ackBy: "2026-11-25T03:13:09.412Z" }],
};

/** What the daemon will do, reduced to verifying and answering: no alarms are changed. */
class Responder {
  clockOffsetMs = 0;
  silent = false;
  readonly #accepted = new Set<string>();
  private constructor(readonly client: MqttClient) {}

  static async start(pubKeyPem: string): Promise<Responder> {
    const client = await mqtt.connectAsync(broker.url, { username: "firebreak-dc1", password: PASSWORDS["firebreak-dc1"], reconnectPeriod: 0 });
    const r = new Responder(client);
    const operators = operatorKeys([{ id: "alice", publicKeyPem: pubKeyPem }]);
    client.on("message", (topic, payload) => {
      if (r.silent) return;
      const verb = topic.slice(t.prefix.length + "cmd/".length);
      const now = Date.now() + r.clockOffsetMs;
      const v = verifyCommand({ verb, payload }, { site: SITE, operators, now, maxSkewMs: 30_000, seen: (id) => r.#accepted.has(id) });
      const from = { site: SITE, instance: "room-1" };
      let out;
      if (v.ok) {
        r.#accepted.add(v.command.requestId);
        const c = v.command;
        const change: ChangeResult = c.verb === "ack" && "alarm" in c.args ? { alarms: [{ id: c.args.alarm, state: "ack" }] } : {};
        out = c.verb === "status" ? acceptedReply(t, from, c, statusFixture, now) : acceptedReply(t, from, c, change, now);
      } else {
        out = replyToRefusal(t, from, verb, v, now);
      }
      if (out !== undefined) void client.publishAsync(out.topic, out.payload, { qos: out.qos, retain: out.retain });
    });
    await client.subscribeAsync(t.cmdFilter, { qos: 1 });
    return r;
  }
}

beforeAll(async () => {
  broker = await startMosquitto({ users: PASSWORDS, acl: await readFile("docs/mosquitto-acl.example", "utf8"), persistence: false });
  dir = await mkdtemp(join(tmpdir(), "fb-ctl-"));
  await writeFile(join(dir, "alice.pw"), `${PASSWORDS.alice}\n`);
  const keygen = await ctl(["ctl", "keygen", "--name", "alice", "--out", dir]);
  expect(keygen.code).toBe(0);
  expect(keygen.stdout).toContain(`operators:\n  - id: alice\n    public_key_file: `);
  expect((await ctl(["ctl", "keygen", "--name", "mallory", "--out", dir])).code).toBe(0);
  responder = await Responder.start(await readFile(join(dir, "alice.pub"), "utf8"));
}, 60_000);

afterAll(async () => {
  await responder?.client.endAsync(true);
  await broker?.destroy();
});

describe("firebreak ctl against a responder on real Mosquitto", () => {
  it("an accepted ack prints what happened and exits 0", async () => {
    const r = await ctl(["ctl", "ack", "--alarm", "offgas-a", ...asAlice()]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("accepted: alarm offgas-a acknowledged by alice; now ack");
    expect(r.code).toBe(0);
  });

  it("status prints zones, alarms by priority and open triggers as tables", async () => {
    const r = await ctl(["ctl", "status", ...asAlice()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toContain("  batt-a  evacuate  yes      no     2026-11-25T03:12:09.400Z  7");
    const critical = lines.findIndex((l) => l.startsWith("  offgas-a  critical"));
    const medium = lines.findIndex((l) => l.startsWith("  comm-b    medium"));
    expect(critical).toBeGreaterThan(0);
    expect(medium).toBeGreaterThan(critical);
    expect(r.stdout).toContain("  dc1:batt-a:0007  batt-a  2026-11-25T03:12:09.412Z  2026-11-25T03:13:09.412Z");
  });

  it("--json prints the daemon's reply as it came", async () => {
    const r = await ctl(["ctl", "ack", "--zone", "batt-a", "--json", ...asAlice()]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ v: 1, verb: "ack", by: "alice", site: SITE, instance: "room-1", ok: true, result: {} });
  });

  it("a command signed with a key that is not alice's is refused (bad_signature), exit 3", async () => {
    const r = await ctl(["ctl", "ack", "--all", ...asAlice({ key: "mallory.key" })]);
    expect(r.stderr.trim()).toMatch(/^refused \(bad_signature\): the signature does not verify with alice's public key for verb ack/);
    expect(r.code).toBe(3);
  });

  it("an operator missing from the site config is refused (unknown_operator), exit 3", async () => {
    const r = await ctl(["ctl", "clear", "--zone", "batt-a", ...asAlice({ as: "mallory", key: "mallory.key" })]);
    expect(r.stderr.trim()).toBe('refused (unknown_operator): operator "mallory" is not among this site\'s operators');
    expect(r.code).toBe(3);
  });

  it("a daemon clock 45 s ahead refuses the command as stale, saying by how much", async () => {
    responder.clockOffsetMs = 45_000;
    try {
      const r = await ctl(["ctl", "shelve", "--alarm", "offgas-a", "--for", "30m", "--reason", "detector swap", ...asAlice()]);
      expect(r.stderr.trim()).toMatch(/^refused \(stale\): command time is 4[456] s off the daemon's clock \(behind it: an old or delayed command\); allowed ±30 s$/);
      expect(r.code).toBe(3);
    } finally {
      responder.clockOffsetMs = 0;
    }
  });

  it("no reply within --timeout exits 1 and says what to check", async () => {
    responder.silent = true;
    try {
      const r = await ctl(["ctl", "ack", "--alarm", "offgas-a", "--timeout", "1", ...asAlice()]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^no reply within 1 s \(request [A-Za-z0-9_-]{16}\)/);
      expect(r.stderr).toContain(`no retained firebreak/v1/${SITE}/status`);
      expect(r.stderr).toContain("the broker's ACL");
      expect(r.stderr).not.toContain("nobody subscribes");
    } finally {
      responder.silent = false;
    }
  });

  it("with no daemon subscribed, ctl reports that the broker found nobody listening", async () => {
    await responder.client.unsubscribeAsync(t.cmdFilter);
    try {
      const r = await ctl(["ctl", "ack", "--alarm", "offgas-a", "--timeout", "1", ...asAlice()]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the broker says nobody subscribes to firebreak/v1/${SITE}/cmd/`);
    } finally {
      await responder.client.subscribeAsync(t.cmdFilter, { qos: 1 });
    }
  });

  it("a site the operator's ACL does not cover: the broker refuses the publish and ctl says so, exit 1", async () => {
    const r = await ctl(["ctl", "ack", "--alarm", "offgas-a", "--timeout", "2", ...asAlice({ site: "dc9" })]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the broker refused (our subscription to firebreak\/v1\/dc9\/cmd\/reply\/|the command on firebreak\/v1\/dc9\/cmd\/ack)/);
  });

  it("takes broker and site from a site config with -c", async () => {
    const site = join(dir, "site.yaml");
    const example = await readFile("config/example-site.yaml", "utf8");
    await writeFile(site, example.replace("url: mqtt://127.0.0.1:1883", `url: ${broker.url}`));
    const r = await ctl(["ctl", "ack", "--alarm", "cell-dev-a", "-c", site, ...asAlice({ connection: false })]);
    expect(r.stdout.trim()).toBe("accepted: alarm cell-dev-a acknowledged by alice; now ack");
    expect(r.code).toBe(0);
  });

  it("usage problems exit 2 and send nothing", async () => {
    const both = await ctl(["ctl", "ack", "--alarm", "a", "--zone", "b", ...asAlice()]);
    expect(both.stderr.trim()).toBe("give exactly one of --alarm, --zone, --all");
    expect(both.code).toBe(2);
    const badKey = await ctl(["ctl", "ack", "--all", ...asAlice({ key: "alice.pub" })]);
    expect(badKey.stderr).toMatch(/^FB_KEY: .*alice\.pub: holds a public key; signing needs the private key/);
    expect(badKey.code).toBe(2);
  });
});

describe("docs/mosquitto-acl.example on real Mosquitto", () => {
  it("an operator can publish commands but no state topic and no reply; the daemon's user sees only the command", async () => {
    const watcher = await MqttRecorder.start(broker.url, `${t.prefix}#`, { username: "firebreak-dc1", password: PASSWORDS["firebreak-dc1"] });
    // MQTT v5: the broker answers a refused QoS 1 publish with reason code 135, "Not authorized".
    const alice = await mqtt.connectAsync(broker.url, { username: "alice", password: PASSWORDS.alice, protocolVersion: 5, reconnectPeriod: 0 });
    try {
      const fakes = [t.alarm("offgas-a"), t.zoneStage("batt-a"), t.evacuate("batt-a"), t.status, t.events, t.cmdReply("forged-reply-1"), t.evacuateAck("batt-a", "k8s-drain")];
      for (const topic of fakes) {
        const err = await alice.publishAsync(topic, '{"v":1,"fake":true}', { qos: 1, retain: topic !== t.events }).then(
          () => undefined,
          (e: unknown) => e as { code?: number },
        );
        expect(err?.code, `publish on ${topic}`).toBe(135);
      }
      await alice.publishAsync(t.cmd("ack"), '{"marker":1}', { qos: 1 });
      await watcher.waitFor((m) => m.topic === t.cmd("ack"), 5000, "alice's command");
      // Published before the command on the same connection: had any got through, it would be here.
      expect(watcher.messages.filter((m) => m.payload.includes("fake"))).toEqual([]);
      const granted = await alice.subscribeAsync([t.cmdReply("x1234567"), t.status], { qos: 1 });
      expect(granted.map((g) => g.qos)).toEqual([1, 1]);
    } finally {
      await alice.endAsync(true);
      await watcher.stop();
    }
  });

  it("a consumer may acknowledge triggers as itself only", async () => {
    const k8s = await mqtt.connectAsync(broker.url, { username: "k8s-drain", password: PASSWORDS["k8s-drain"], protocolVersion: 5, reconnectPeriod: 0 });
    try {
      await k8s.publishAsync(t.evacuateAck("batt-a", "k8s-drain"), "{}", { qos: 1 });
      await expect(k8s.publishAsync(t.evacuateAck("batt-a", "other"), "{}", { qos: 1 })).rejects.toMatchObject({ code: 135 });
      await expect(k8s.publishAsync(t.cmd("clear"), "{}", { qos: 1 })).rejects.toMatchObject({ code: 135 });
    } finally {
      await k8s.endAsync(true);
    }
  });
});
