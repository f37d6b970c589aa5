// Measurement noise of the simulated sensors. A real analogue reading goes through an ADC and its
// last count flickers (docs/sources.md "Plausibility": about one count): a good sensor in a still
// room is never perfectly flat, a stuck one is. Without this, a stuck sensor looks exactly like a
// good one until the temperature around it moves, and the `stuck` rule can only find it then.
//
// The noise is a pure function of (seed, channel, sample index): the same seed and the same clock
// give the same registers, so tests are reproducible, and a step of the model at any rate reads the
// same sample until the next measurement cycle. Stuck and sentinel overrides are written after the
// encoders (simulators/simulation.ts), so a stuck sensor returns exactly its frozen raw value.

/** How the simulated sensors' readings are dithered. */
export interface SensorNoiseConfig {
  /** Off: every reading is the model's value rounded to its register, as before. */
  readonly enabled: boolean;
  /** Same seed, same clock: same readings. */
  readonly seed: number;
  /** Standard deviation of the noise in counts of each register's resolution (0.1 °C, 1 mV, 0.1 ppm …). */
  readonly sigmaCounts: number;
  /** How often a new sample is drawn, clock ms: the device's measurement cycle. */
  readonly periodMs: number;
}

/**
 * On by default: one count of standard deviation, a new sample every second (the daemon's default
 * poll). Figures and source: docs/sources.md "Plausibility" (sensor noise) [unverified].
 */
export const DEFAULT_SENSOR_NOISE: SensorNoiseConfig = { enabled: true, seed: 1, sigmaCounts: 1, periodMs: 1000 };

/** Noise never exceeds this many standard deviations: a reading is never a wild outlier. */
const CLIP_SIGMAS = 3;

/** One noise source: the noise, in counts, to add before rounding a reading taken at clock time nowMs. */
export type NoiseChannel = (nowMs: number) => number;

const silent: NoiseChannel = () => 0;

/** A 32-bit integer hash with good avalanche (Chris Wellons' "lowbias32"). */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a of a string: a channel's name to 32 bits, once per channel. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A uniform number in (0, 1) from the seed, the channel, the sample and a lane (two per Gaussian). */
function uniform(seed: number, channel: number, sample: number, lane: number): number {
  const hi = Math.floor(sample / 0x1_0000_0000);
  const h = mix32(seed ^ mix32(channel ^ mix32((sample >>> 0) ^ mix32(hi * 2 + lane + 0x9e3779b9))));
  return (h + 0.5) / 0x1_0000_0000;
}

export class SensorNoise {
  readonly config: SensorNoiseConfig;
  readonly #startMs: number;

  /** `startMs`: the clock time sample 0 begins at (the simulation's start). */
  constructor(config: SensorNoiseConfig, startMs: number) {
    if (!(config.sigmaCounts >= 0) || !Number.isFinite(config.sigmaCounts)) throw new RangeError(`sensor noise: sigma_counts must be a finite number >= 0, got ${config.sigmaCounts}`);
    if (!(config.periodMs > 0) || !Number.isFinite(config.periodMs)) throw new RangeError(`sensor noise: the sample period must be > 0 ms, got ${config.periodMs}`);
    if (!Number.isInteger(config.seed)) throw new RangeError(`sensor noise: seed must be an integer, got ${config.seed}`);
    this.config = config;
    this.#startMs = startMs;
  }

  /** No noise at all: the readings are the model's values rounded, as without a sensor model. */
  static off(): SensorNoise {
    return new SensorNoise({ ...DEFAULT_SENSOR_NOISE, enabled: false }, 0);
  }

  /** The noise source of one reading, named uniquely within the room (`cab2/s1/m3/c7/tempC`). */
  channel(name: string): NoiseChannel {
    const { enabled, sigmaCounts, periodMs } = this.config;
    if (!enabled || sigmaCounts === 0) return silent;
    const seed = mix32(this.config.seed);
    const id = hashName(name);
    const start = this.#startMs;
    const clip = CLIP_SIGMAS * sigmaCounts;
    return (nowMs) => {
      const sample = Math.max(0, Math.floor((nowMs - start) / periodMs));
      // Box–Muller: two uniforms to one standard normal.
      const z = Math.sqrt(-2 * Math.log(uniform(seed, id, sample, 0))) * Math.cos(2 * Math.PI * uniform(seed, id, sample, 1));
      return Math.max(-clip, Math.min(clip, z * sigmaCounts));
    };
  }
}
