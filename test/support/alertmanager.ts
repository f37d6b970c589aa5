// Starts a real Alertmanager (Debian's prometheus-alertmanager) for integration tests: a temp
// config with one receiver that notifies no one, its own storage path, the web API on a free
// loopback port and clustering off (no gossip port). Stopped by pid.
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { startService, type Service } from "./service.js";

export interface Alertmanager {
  readonly url: string;
  readonly service: Service;
  /** GET /api/v2/alerts: the alerts Alertmanager holds as firing (active, silenced or inhibited). */
  alerts(): Promise<AmAlert[]>;
  destroy(): Promise<void>;
}

export interface AmAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly status: { readonly state: string; readonly silencedBy: string[]; readonly inhibitedBy: string[] };
}

export function findAlertmanager(): string {
  for (const p of ["/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager", "/usr/bin/alertmanager"]) if (existsSync(p)) return p;
  throw new Error("Alertmanager not found: apt-get install prometheus-alertmanager (the test suite needs a real one and never skips)");
}

export async function startAlertmanager(): Promise<Alertmanager> {
  const bin = findAlertmanager();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "firebreak-am-"));
  const conf = join(dir, "alertmanager.yml");
  await writeFile(conf, ["route:", "  receiver: nobody", "  group_wait: 1s", "receivers:", "  - name: nobody", ""].join("\n"));
  const url = `http://127.0.0.1:${port}`;
  const service = await startService({
    name: "alertmanager",
    bin,
    args: [`--config.file=${conf}`, `--storage.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address=", "--log.level=warn"],
    readyUrl: `${url}/-/ready`,
  });
  return {
    url,
    service,
    async alerts() {
      const res = await fetch(`${url}/api/v2/alerts`);
      if (!res.ok) throw new Error(`GET /api/v2/alerts: HTTP ${res.status}`);
      return (await res.json()) as AmAlert[];
    },
    async destroy() {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
