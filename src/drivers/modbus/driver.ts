// The Modbus poller as a Driver (../driver.ts): its status in the protocol-neutral shape, the
// transport named from the device's config.
import type { Device } from "../../config/types.js";
import type { Driver, DriverContext, DriverStatus, DriverTransport } from "../driver.js";
import type { LinkOpener } from "./connection.js";
import { ModbusPoller, type ModbusPollerStatus } from "./poller.js";

export class ModbusDriver implements Driver {
  readonly device: string;
  readonly protocol = "modbus";
  readonly transport: DriverTransport;
  readonly poller: ModbusPoller;

  constructor(device: Device, ctx: DriverContext, link?: LinkOpener) {
    this.device = device.id;
    this.transport = device.modbus.transport ?? "tcp";
    this.poller = new ModbusPoller({ device, clock: ctx.clock, store: ctx.store, log: ctx.log.child({ component: "modbus" }), ...(ctx.onPoll ? { onPoll: ctx.onPoll } : {}), ...(link ? { link } : {}) });
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** A protective action's write, through the poller's request queue (./poller.ts). */
  write(pointId: string, value: number): Promise<void> {
    return this.poller.write(pointId, value);
  }

  status(): DriverStatus {
    return modbusStatus(this.device, this.transport, this.poller.status());
  }
}

export function modbusStatus(device: string, transport: DriverTransport, s: ModbusPollerStatus): DriverStatus {
  return {
    device,
    protocol: "modbus",
    transport,
    connected: s.connected,
    state: s.state,
    polls: s.polls,
    ...(s.lastSuccessAt !== undefined ? { lastSuccessAt: s.lastSuccessAt } : {}),
    failures: s.failures,
    reconnects: Math.max(0, s.connectAttempts - 1),
    overruns: s.overruns,
    timeouts: s.timeouts,
    latePolls: s.latePolls,
    ...(s.achievedPollsPerS !== undefined ? { achievedPollsPerS: s.achievedPollsPerS } : {}),
    ...(s.configuredPollsPerS !== undefined ? { configuredPollsPerS: s.configuredPollsPerS } : {}),
    overloaded: s.loadState === "overloaded",
    ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
  };
}
