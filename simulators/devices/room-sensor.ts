// A battery-room temperature/humidity transmitter as config/profiles/room-sensor.yaml reads it:
// input registers 0 tempC (i16, 0.1 °C), 1 humidity (u16, 0.1 %RH), 2 status bits.
import type { Device } from "../../src/config/types.js";
import type { RegisterBank } from "../modbus-server.js";
import type { SensorNoise } from "../sensor-noise.js";
import type { ThermalModel } from "../thermal-model.js";
import { i16, declarePlain, locatePlain, measured, u16, type DeviceEncoder } from "./encoder.js";

export function roomSensor(device: Device, model: ThermalModel, noise: SensorNoise): DeviceEncoder {
  const tempNoise = noise.channel(`${device.id}/tempC`);
  const humidityNoise = noise.channel(`${device.id}/humidity`);
  return {
    encode(bank: RegisterBank, nowMs: number): void {
      const air = model.zone(device.zone);
      if (air === undefined) return;
      bank.input[0] = i16(measured(air.airC, 10, tempNoise, nowMs) * 10);
      bank.input[1] = u16(Math.min(100, measured(air.humidityPct, 10, humidityNoise, nowMs)) * 10);
      bank.input[2] = 0; // bit 0 sensing element fault: never, unless a test injects a sentinel
    },
    locate: (pointId) => locatePlain(device, pointId),
    declareMap: (bank) => declarePlain(device, bank),
  };
}
