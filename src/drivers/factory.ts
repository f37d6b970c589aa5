// Builds the driver of each device from its config (a tagged union on `protocol` and `transport`):
// Modbus TCP gets its own socket, Modbus RTU units share their line (serial port or gateway), OPC
// UA loads node-opcua lazily, once, on the first OPC UA driver's start. The daemon holds Driver[]
// and calls close() after stopping them.
import type { SiteDevice } from "../config/types.js";
import type { Driver, DriverContext } from "./driver.js";
import { ModbusDriver } from "./modbus/driver.js";
import { RtuLines } from "./modbus/rtu-lines.js";
import { OpcuaDriver, type SubscriberClass } from "./opcua/driver.js";

export class DriverFactory {
  readonly #ctx: DriverContext;
  readonly #lines = new RtuLines();
  #opcua: Promise<SubscriberClass> | undefined;

  constructor(ctx: DriverContext) {
    this.#ctx = ctx;
  }

  create(device: SiteDevice): Driver {
    switch (device.protocol) {
      case "opcua":
        return new OpcuaDriver(device, this.#ctx, () => this.#loadOpcua());
      case undefined:
      case "modbus":
        return new ModbusDriver(device, this.#ctx, this.#lines.opener(device));
    }
  }

  createAll(devices: readonly SiteDevice[]): Driver[] {
    return devices.map((d) => this.create(d));
  }

  /** Close the shared RTU lines (every driver stopped first: a line closes when its last unit detaches anyway). */
  close(): Promise<void> {
    return this.#lines.close();
  }

  #loadOpcua(): Promise<SubscriberClass> {
    this.#opcua ??= import("./opcua/library-log.js").then(async ({ routeLibraryLog }) => {
      routeLibraryLog(this.#ctx.log); // it adds component "node-opcua" to each line itself
      return (await import("./opcua/subscriber.js")).OpcuaSubscriber;
    });
    return this.#opcua;
  }
}
