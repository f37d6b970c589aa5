// The notify protocol against a real AF_UNIX datagram socket (as systemd's /run/systemd/notify):
// the notifier's datagrams byte for byte, then the daemon's READY=1, WATCHDOG=1, STATUS= and
// STOPPING=1 as `firebreak run` sends them under a unit with WatchdogSec=.
import { afterEach, describe, expect, it } from "vitest";
import { SystemdNotifier } from "../../src/runtime/systemd.js";
import { startNotifySocket, type NotifySocket } from "../support/notify-socket.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { loadSiteConfig } from "../../src/config/load.js";
import { systemClock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation } from "../../simulators/simulation.js";
import { writeSiteFile } from "../support/site-file.js";

let sock: NotifySocket | undefined;
let daemon: DaemonProcess | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await daemon?.kill();
  daemon = undefined;
  sock?.stop();
  sock = undefined;
  for (const c of cleanups.splice(0)) await c();
});

describe("systemd notify", () => {
  it("sends READY=1, WATCHDOG=1, STATUS= and STOPPING=1 as datagrams to NOTIFY_SOCKET", async () => {
    sock = await startNotifySocket();
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: "4000000", WATCHDOG_PID: "4242" }, pid: 4242 });
    expect(n.enabled).toBe(true);
    expect(n.watchdogIntervalMs).toBe(2000);
    n.ready("devices 2/2 connected");
    n.watchdog();
    n.status("zones 1 normal");
    n.status("zones 1 normal"); // unchanged: not sent again
    n.stopping();
    await sock.waitFor((m) => m === "STOPPING=1", 5000);
    expect(sock.messages).toEqual(["READY=1\nSTATUS=devices 2/2 connected", "WATCHDOG=1", "STATUS=zones 1 normal", "STOPPING=1"]);
    expect(n.stats()).toEqual({ sent: 4, failed: 0 });
    n.close();
  });

  it("does nothing without NOTIFY_SOCKET, and has no watchdog for another pid", () => {
    const none = new SystemdNotifier({ env: {}, socket: () => { throw new Error("must not open a socket"); } });
    none.ready();
    none.watchdog();
    expect(none.enabled).toBe(false);
    expect(none.watchdogIntervalMs).toBeUndefined();
    const other = new SystemdNotifier({ env: { NOTIFY_SOCKET: "/run/x", WATCHDOG_USEC: "1000000", WATCHDOG_PID: "1" }, pid: 2 });
    expect(other.watchdogIntervalMs).toBeUndefined();
    const abstract = new SystemdNotifier({ env: { NOTIFY_SOCKET: "@/org/freedesktop/systemd1/notify" } });
    expect(abstract.enabled).toBe(false);
    expect(abstract.problem).toMatch(/abstract socket/);
  });

  it("counts a send to a socket nobody listens on as failed, without throwing", async () => {
    const errors: Error[] = [];
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: "/nonexistent/notify.sock" }, onError: (e) => errors.push(e) });
    n.ready();
    n.watchdog();
    expect(n.stats().failed).toBe(2);
    expect(errors[0]?.message).toMatch(/ENOENT|send/);
    n.close();
  });

  it("the daemon says READY=1 after its devices started, pings the watchdog from its loop, and says STOPPING=1 on SIGTERM", async () => {
    sock = await startNotifySocket();
    const site0 = await loadSiteConfig("config/example-site.yaml");
    const sim = await startSimulation({ site: site0, clock: systemClock, scenario: await loadScenario("normal"), portOverride: () => 0 });
    cleanups.push(() => sim.stop());
    const site = await writeSiteFile({ ports: sim.ports });
    // WatchdogSec=2 s: pings come every 0.5-1 s from the 1 s evaluation tick.
    daemon = startDaemon(site, undefined, { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: "2000000" });
    const ready = await sock.waitFor((m) => m.startsWith("READY=1"), 15_000);
    expect(ready).toMatch(/^READY=1\nSTATUS=devices \d+\/\d+ connected; zones .*; 0 open triggers; (no mqtt|mqtt \w+.*)$/);
    await daemon.waitForOutput("state store created", 30_000); // the log line may reach the pipe after the datagram
    const at = sock.messages.length;
    await sock.waitFor((m) => m === "WATCHDOG=1", 5_000, at);
    await sock.waitFor((m) => m === "WATCHDOG=1", 5_000, sock.messages.indexOf("WATCHDOG=1", at) + 1);
    expect(await daemon.stop()).toBe(0);
    expect(sock.messages.at(-1)).toBe("STOPPING=1\nSTATUS=stopping");
  }, 40_000);
});
