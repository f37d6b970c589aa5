// Starts a real Prometheus server (Debian's prometheus) for integration tests: a generated config
// with one scrape job (`firebreak`, the job name packaging/prometheus/firebreak-rules.yml expects)
// over the given targets at a short interval, optional rule files, a temp TSDB dir, the web API on
// a free loopback port. Stopped by pid; destroy() removes the data.
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { startService, type Service } from "./service.js";

export interface PromSeries {
  readonly metric: Record<string, string>;
  /** Instant vector: [unix seconds, value as text]. */
  readonly value: [number, string];
}

export interface PromRule {
  readonly name: string;
  readonly query: string;
  readonly health: string;
  readonly lastError?: string;
  readonly type: string;
}

export interface Prometheus {
  readonly url: string;
  readonly service: Service;
  /** GET /api/v1/query: an instant query now. Throws with Prometheus's error text when it refuses the expression. */
  query(expr: string): Promise<{ resultType: string; result: PromSeries[] }>;
  /** GET /api/v1/rules: every loaded rule with its health after its last evaluation. */
  rules(): Promise<PromRule[]>;
  /** GET /api/v1/targets: the scrape targets' health (up/down/unknown) and last error. */
  targets(): Promise<{ scrapeUrl: string; health: string; lastError: string }[]>;
  destroy(): Promise<void>;
}

export function findPrometheus(): string {
  for (const p of ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]) if (existsSync(p)) return p;
  throw new Error("prometheus not found: apt-get install prometheus (the test suite needs a real one and never skips)");
}

export interface PrometheusOptions {
  /** host:port of each firebreak /metrics endpoint. */
  readonly targets: readonly string[];
  readonly scrapeIntervalS?: number;
  /** Absolute paths of rule files to load (evaluated at the scrape interval). */
  readonly ruleFiles?: readonly string[];
}

export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const bin = findPrometheus();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "firebreak-prometheus-"));
  const conf = join(dir, "prometheus.yml");
  const every = `${opts.scrapeIntervalS ?? 1}s`;
  await writeFile(
    conf,
    JSON.stringify({
      global: { scrape_interval: every, evaluation_interval: every, scrape_timeout: every },
      rule_files: opts.ruleFiles ?? [],
      scrape_configs: [{ job_name: "firebreak", static_configs: [{ targets: opts.targets }] }],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const service = await startService({
    name: "prometheus",
    bin,
    args: [`--config.file=${conf}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    readyUrl: `${url}/-/ready`,
    readyTimeoutMs: 30_000,
  });
  async function api<T>(path: string): Promise<T> {
    const res = await fetch(url + path);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== "success") throw new Error(`Prometheus ${path}: ${body.errorType ?? res.status}: ${body.error ?? ""}`);
    return body.data;
  }
  return {
    url,
    service,
    query: (expr) => api(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    async rules() {
      const d = await api<{ groups: { rules: PromRule[] }[] }>("/api/v1/rules");
      return d.groups.flatMap((g) => g.rules);
    },
    async targets() {
      const d = await api<{ activeTargets: { scrapeUrl: string; health: string; lastError: string }[] }>("/api/v1/targets");
      return d.activeTargets;
    },
    async destroy() {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
