// A battery-room temperature/humidity transmitter as config/profiles/room-sensor.yaml reads it:
// input registers 0 tempC (i16, 0.1 °C), 1 humidity (u16, 0.1 %RH), 2 status bits.
import type { Device } from "../../src/config/types.js";
import type { RegisterBank } from "../modbus-server.js";
import type { ThermalModel } from "../thermal-model.js";
import { i16, declarePlain, locatePlain, u16, type DeviceEncoder } from "./encoder.js";

export function roomSensor(device: Device, model: ThermalModel): DeviceEncoder {
  return {
    encode(bank: RegisterBank): void {
      const air = model.zone(device.zone);
      if (air === undefined) return;
      bank.input[0] = i16(air.airC * 10);
      bank.input[1] = u16(air.humidityPct * 10);
      bank.input[2] = 0; // bit 0 sensing element fault: never, unless a test injects a sentinel
    },
    locate: (pointId) => locatePlain(device, pointId),
    declareMap: (bank) => declarePlain(device, bank),
  };
}
