// Starts a real InfluxDB 1.x (Debian's influxdb) for integration tests: a temp config with the
// HTTP API on a free loopback port, the RPC (backup) bind address moved off 8088 to another free
// loopback port, every other listener off, no reporting, no self-monitoring store, and a temp
// data dir. stop()/start() keep the data (an outage); destroy() removes it. Stopped by pid.
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { startService, type Service } from "./service.js";

export interface Influxd {
  readonly url: string;
  readonly port: number;
  readonly service: Service;
  /** Run InfluxQL (GET /query) and return the JSON results. */
  query(db: string, q: string): Promise<InfluxResult[]>;
  destroy(): Promise<void>;
}

export interface InfluxSeries {
  readonly name: string;
  readonly tags?: Record<string, string>;
  readonly columns: string[];
  readonly values: unknown[][];
}

export interface InfluxResult {
  readonly statement_id: number;
  readonly series?: InfluxSeries[];
  readonly error?: string;
}

export function findInfluxd(): string {
  for (const p of ["/usr/bin/influxd", "/usr/local/bin/influxd"]) if (existsSync(p)) return p;
  throw new Error("influxd not found: apt-get install influxdb (the test suite needs a real one and never skips)");
}

export async function startInfluxd(): Promise<Influxd> {
  const bin = findInfluxd();
  const port = await freePort();
  const rpcPort = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "firebreak-influxd-"));
  const conf = join(dir, "influxdb.conf");
  await writeFile(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
`,
  );
  const url = `http://127.0.0.1:${port}`;
  const service = await startService({ name: "influxd", bin, args: ["-config", conf], readyUrl: `${url}/ping` });
  return {
    url,
    port,
    service,
    async query(db, q) {
      const res = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`);
      if (!res.ok) throw new Error(`InfluxQL ${q}: HTTP ${res.status} ${await res.text()}`);
      return ((await res.json()) as { results: InfluxResult[] }).results;
    },
    async destroy() {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
