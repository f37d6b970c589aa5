// An off-gas (electrolyte vapour) detector as config/profiles/offgas-detector.yaml reads it: input
// registers 0 ppm (0.1 ppm), 1 %LFL (0.1 %), 2 status bits (0 sensor fault, 1 warming up).
import type { Device } from "../../src/config/types.js";
import type { RegisterBank } from "../modbus-server.js";
import type { SensorNoise } from "../sensor-noise.js";
import type { ThermalModel } from "../thermal-model.js";
import { declarePlain, locatePlain, measured, u16, type DeviceEncoder } from "./encoder.js";

/** The detector's full scale, ppm: the profile's range [0, 5000]. Above it the reading saturates. */
const FULL_SCALE_PPM = 5000;

export function offgasDetector(device: Device, model: ThermalModel, noise: SensorNoise): DeviceEncoder {
  const ppmNoise = noise.channel(`${device.id}/ppm`);
  const lflNoise = noise.channel(`${device.id}/lflPct`);
  return {
    encode(bank: RegisterBank, nowMs: number): void {
      // Clean air reads 0 to a few tenths: the noise is clipped at zero (the register is unsigned).
      const ppm = Math.min(FULL_SCALE_PPM, measured(model.zonePpm(device.zone), 10, ppmNoise, nowMs));
      const lfl = Math.min(100, measured(model.zoneLflPct(device.zone), 10, lflNoise, nowMs));
      bank.input[0] = u16(ppm * 10);
      bank.input[1] = u16(lfl * 10);
      bank.input[2] = 0;
    },
    locate: (pointId) => locatePlain(device, pointId),
    declareMap: (bank) => declarePlain(device, bank),
  };
}
