// Builds the deciding core from a validated config: the rule engine, the annunciator, the
// evacuation ledger and the RoomWatch that steps them. The one place these parts are put together.
import { Annunciator } from "../alarms/annunciator.js";
import { siteDevices, type SiteConfig } from "../config/types.js";
import { EvacuationLedger } from "../evacuation/trigger.js";
import type { PointStore } from "../points/store.js";
import { RuleEngine, type EngineOptions } from "../rules/engine.js";
import type { PointReader } from "../rules/result.js";
import { RoomWatch } from "../zones/room-watch.js";

export function buildRoomWatch(config: SiteConfig, store: PointStore | PointReader, startedAt?: number, engine: EngineOptions = {}): RoomWatch {
  return new RoomWatch({
    zones: [...config.zones.values()],
    store,
    engine: new RuleEngine(config, engine),
    alarms: new Annunciator(config.rules, {
      zones: [...config.zones.keys()],
      devices: siteDevices(config).map((d) => d.id),
      ...(config.alarms === undefined ? {} : { config: config.alarms }),
    }),
    ledger: new EvacuationLedger({ site: config.site, zones: config.zones, rules: config.rules, ...(config.evacuation === undefined ? {} : { ackWindowMs: config.evacuation.ackWindowMs }) }),
    ...(startedAt === undefined ? {} : { startedAt }),
  });
}
