// kill -9 the daemon 30 times at random instants during an incident, with the broker up and, for a
// stretch, down: the state store always opens, and a persistent subscriber ends up with every event
// the daemon decided (every seq the store holds, from 1 on), whatever instant each kill hit.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { acceleratedClock } from "../../src/runtime/clock.js";
import { StateStore } from "../../src/state/store.js";
import { loadScenario, startSimulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";
import { join, dirname } from "node:path";

const SPEED = 20;
const KILLS = 30;
const prefix = "firebreak/v1/dc1";

let broker: Broker;
beforeAll(async () => {
  broker = await startMosquitto({ persistence: true });
});
afterAll(async () => {
  await broker?.destroy();
});

/** A seeded generator, so a failing run can be replayed with FB_KILL_SEED. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("kill -9 storm", () => {
  it(`${KILLS} kills at random instants, broker up and down: the store always opens and no decided event is lost`, async () => {
    const seed = Number(process.env.FB_KILL_SEED ?? Date.now() % 100_000);
    const random = rng(seed);
    const site = await loadSiteConfig("config/example-site.yaml");
    const epoch = Date.now();
    const clock = acceleratedClock(SPEED, epoch);
    const sim = await startSimulation({ site, clock, scenario: await loadScenario("cell-runaway"), portOverride: () => 0 });
    const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 30_000 });
    const stateDir = join(dirname(file), "state");
    const rec = await MqttRecorder.start(broker.url, `${prefix}/events`, { clientId: `kill-storm-${process.pid}`, clean: false });
    const outputs: string[] = [];
    let last: DaemonProcess | undefined;
    try {
      for (let i = 0; i < KILLS; i++) {
        // Kills 4..13 (while the incident escalates) happen with the broker away: decisions pile up in the journal only.
        if (i === 4) await broker.stop();
        if (i === 14) await broker.restart();
        const d = startDaemon(file, { speed: SPEED, epoch });
        // Once the process has loaded (on a loaded machine that alone can take seconds), 0 to 4 s:
        // some kills land while the store opens or restores, most mid-evaluation.
        await d.waitForOutput("firebreak starting", 60_000);
        await new Promise((r) => setTimeout(r, random() * 4000));
        await d.kill();
        outputs.push(d.output());
        expect(d.output(), `boot ${i} (seed ${seed})`).not.toMatch(/FB_STATE|integrity|SQLITE_CORRUPT/);
      }
      // The last boot runs to a clean stop: everything journaled reaches the broker.
      last = startDaemon(file, { speed: SPEED, epoch });
      await last.waitForOutput("mqtt connected", 60_000);
      await new Promise((r) => setTimeout(r, 3000));
      expect(await last.stop()).toBe(0);
      outputs.push(last.output());
    } finally {
      if (last?.running()) await last.kill();
      await sim.stop();
    }

    const store = StateStore.open({ dir: stateDir, site: "dc1", instance: site.instance });
    const pic = store.load();
    const unsent = store.outboxSize();
    store.close();
    // A kill can land before a boot reached its store (node still loading): those count no boot.
    const restoredBoots = outputs.filter((o) => /state (restored from|store created)/.test(o)).length;
    expect(pic.boots - 1, "boots that opened the store").toBeGreaterThanOrEqual(restoredBoots);
    expect(restoredBoots, "boots that got as far as restoring").toBeGreaterThan(KILLS / 3);
    expect(outputs.at(-1)).toMatch(/state restored from/);
    expect(unsent, "journal rows the broker never acknowledged").toBe(0);
    expect(pic.seq, "the incident produced events").toBeGreaterThan(5);

    // Every decided seq reaches the persistent subscriber (duplicates are allowed: QoS 1 is at least once).
    await rec.waitFor(() => new Set(rec.messages.map((m) => m.json?.seq)).size >= pic.seq, 60_000, `every seq up to ${pic.seq}`).catch(() => undefined);
    await rec.stop();
    const seen = new Set(rec.messages.map((m) => m.json?.seq as number));
    const missing = Array.from({ length: pic.seq }, (_, k) => k + 1).filter((s) => !seen.has(s));
    console.info(`kill storm (seed ${seed}): ${KILLS} kills, ${pic.seq} events decided, ${rec.messages.length} received (${rec.messages.length - seen.size} duplicates), missing ${missing.length}`);
    expect(missing, `seed ${seed}`).toEqual([]);
  }, 400_000);
});
