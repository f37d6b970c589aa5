// Writes a site config for a test: the example site with its devices moved to the ports the test's
// simulators listen on, its MQTT pointed at the test's broker, and faster polling if asked.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseDocument } from "yaml";

export interface SiteFileOptions {
  readonly ports: ReadonlyMap<string, number>;
  readonly mqttUrl?: string;
  readonly logLevel?: string;
  readonly source?: string;
  /** Per device; on an accelerated clock a loaded test machine needs more room than 3 polls. */
  readonly staleAfterMs?: number;
  /** The state directory; default a fresh one beside the written file. */
  readonly stateDir?: string;
  /** More keys of the `mqtt` section, in YAML spelling (e.g. `{ heartbeat_s: 2 }`). */
  readonly mqtt?: Readonly<Record<string, unknown>>;
  /** Operators allowed to send signed commands: id and public key file. */
  readonly operators?: readonly { readonly id: string; readonly publicKeyFile: string }[];
}

export async function writeSiteFile(opts: SiteFileOptions): Promise<string> {
  const doc = parseDocument(await readFile(opts.source ?? "config/example-site.yaml", "utf8"));
  const devices = doc.get("devices") as { items: unknown[] };
  devices.items.forEach((_, i) => {
    const id = String(doc.getIn(["devices", i, "id"]));
    const port = opts.ports.get(id);
    if (port === undefined) throw new Error(`no simulator port for device ${id}`);
    doc.setIn(["devices", i, "modbus", "port"], port);
    if (opts.staleAfterMs !== undefined) doc.setIn(["devices", i, "stale_after_ms"], opts.staleAfterMs);
  });
  if (opts.mqttUrl !== undefined) doc.setIn(["mqtt", "url"], opts.mqttUrl);
  for (const [k, v] of Object.entries(opts.mqtt ?? {})) doc.setIn(["mqtt", k], v);
  doc.setIn(["profiles_dir"], resolve("config/profiles"));
  doc.setIn(["log"], doc.createNode({ level: opts.logLevel ?? "info" }));
  const dir = await mkdtemp(join(tmpdir(), "fb-site-"));
  doc.setIn(["state_dir"], opts.stateDir ?? join(dir, "state"));
  if (opts.operators !== undefined) doc.setIn(["operators"], doc.createNode(opts.operators.map((o) => ({ id: o.id, public_key_file: o.publicKeyFile }))));
  const file = join(dir, "site.yaml");
  await writeFile(file, doc.toString());
  return file;
}
