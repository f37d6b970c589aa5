import { describe, expect, it } from "vitest";
import { DEFAULT_SENSOR_NOISE, SensorNoise } from "../../simulators/sensor-noise.js";
import { measured } from "../../simulators/devices/encoder.js";

const T0 = Date.UTC(2026, 10, 25, 3, 0, 0);

/** `n` samples of one channel, one per period. */
function samples(noise: SensorNoise, name: string, n: number): number[] {
  const ch = noise.channel(name);
  return Array.from({ length: n }, (_, i) => ch(T0 + i * noise.config.periodMs));
}

describe("sensor noise", () => {
  it("is reproducible: the same seed, channel and clock give the same noise", () => {
    const a = samples(new SensorNoise(DEFAULT_SENSOR_NOISE, T0), "cab2/s1/m3/c7/tempC", 50);
    const b = samples(new SensorNoise(DEFAULT_SENSOR_NOISE, T0), "cab2/s1/m3/c7/tempC", 50);
    expect(a).toEqual(b);
    const otherSeed = samples(new SensorNoise({ ...DEFAULT_SENSOR_NOISE, seed: 2 }, T0), "cab2/s1/m3/c7/tempC", 50);
    const otherChannel = samples(new SensorNoise(DEFAULT_SENSOR_NOISE, T0), "cab2/s1/m3/c8/tempC", 50);
    expect(otherSeed).not.toEqual(a);
    expect(otherChannel).not.toEqual(a);
  });

  it("holds one sample per period, whatever the rate it is read at", () => {
    const noise = new SensorNoise(DEFAULT_SENSOR_NOISE, T0);
    const ch = noise.channel("room-a/tempC");
    expect(ch(T0 + 250)).toBe(ch(T0));
    expect(ch(T0 + 999)).toBe(ch(T0));
    expect(ch(T0 + 1000)).not.toBe(ch(T0));
  });

  it("has zero mean, the configured standard deviation and no sample past 3 sigma", () => {
    const noise = new SensorNoise({ ...DEFAULT_SENSOR_NOISE, sigmaCounts: 1 }, T0);
    const xs = samples(noise, "cab1/s1/m1/c1/tempC", 20_000);
    const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(sd).toBeGreaterThan(0.95);
    expect(sd).toBeLessThan(1.03);
    expect(Math.max(...xs.map(Math.abs))).toBeLessThanOrEqual(3);
  });

  it("makes a still reading flicker by about a count: a good sensor is never flat for 30 readings", () => {
    const noise = new SensorNoise(DEFAULT_SENSOR_NOISE, T0);
    // 256 cells at exactly 24.0 °C (the worst case: the true value in the middle of a count), one hour each.
    let longestFlat = 0;
    for (let cell = 0; cell < 256; cell++) {
      const ch = noise.channel(`cab${(cell >> 6) + 1}/s1/m1/c${cell}/tempC`);
      let run = 0;
      let anchor = Number.NaN;
      for (let s = 0; s < 3600; s++) {
        const v = measured(24, 10, ch, T0 + s * 1000);
        // As the stuck rule counts it (src/rules/stuck.ts): a move is a change of one count from where the flat run began.
        if (Number.isNaN(anchor) || Math.abs(v - anchor) >= 0.1 - 1e-9) {
          anchor = v;
          run = 0;
        } else run++;
        longestFlat = Math.max(longestFlat, run);
      }
    }
    // The example site's neighbour stuck rule waits 30 s (config/example-site.yaml cell-stuck-a).
    console.log(`longest flat run of a good sensor: ${longestFlat} readings`);
    expect(longestFlat).toBeLessThan(20);
  });

  it("off, or a sigma of 0, adds nothing: the model's value rounded to its register", () => {
    for (const noise of [SensorNoise.off(), new SensorNoise({ ...DEFAULT_SENSOR_NOISE, sigmaCounts: 0 }, T0)]) {
      const ch = noise.channel("room-a/tempC");
      expect(measured(24.04, 10, ch, T0 + 12_345)).toBe(24);
      expect(samples(noise, "x", 10)).toEqual(Array<number>(10).fill(0));
    }
  });

  it("refuses settings that make no sense, naming them", () => {
    expect(() => new SensorNoise({ ...DEFAULT_SENSOR_NOISE, sigmaCounts: -1 }, T0)).toThrow(/sigma_counts/);
    expect(() => new SensorNoise({ ...DEFAULT_SENSOR_NOISE, periodMs: 0 }, T0)).toThrow(/period/);
    expect(() => new SensorNoise({ ...DEFAULT_SENSOR_NOISE, seed: 1.5 }, T0)).toThrow(/seed/);
  });
});
