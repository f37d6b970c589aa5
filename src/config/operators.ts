// The `operators:` and `commands:` sections: each operator's public key read from its file and
// checked now, so a bad key stops start-up with its location instead of refusing commands later.
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { ConfigIssue } from "../errors.js";
import { publicKeyFromPem } from "../commands/keys.js";
import type { SiteParsed } from "./site-schema.js";
import type { CommandsConfig, Operator } from "./types.js";
import type { YamlSource } from "./yaml-source.js";

export async function buildOperators(file: string, parsed: SiteParsed["operators"], src: YamlSource, issues: ConfigIssue[]): Promise<Operator[]> {
  const firstIndex = new Map<string, number>();
  parsed.forEach((o, i) => {
    const first = firstIndex.get(o.id);
    if (first !== undefined) issues.push(src.issue(["operators", i, "id"], `operator id "${o.id}" is already used at operators[${first}]; each operator has one entry (one key)`));
    else firstIndex.set(o.id, i);
  });
  // Read in parallel, reported in file order.
  const built = await Promise.all(
    parsed.map(async (o, i): Promise<Operator | ConfigIssue> => {
      const path = resolve(dirname(file), o.public_key_file);
      const at = ["operators", i, "public_key_file"];
      let pem: string;
      try {
        pem = await readFile(path, "utf8");
      } catch (e) {
        return src.issue(at, `cannot read ${o.public_key_file} (${path}): ${(e as Error).message}`);
      }
      try {
        publicKeyFromPem(pem, o.public_key_file);
      } catch (e) {
        return src.issue(at, (e as Error).message);
      }
      return { id: o.id, publicKeyPem: pem, publicKeyFile: path };
    }),
  );
  const operators: Operator[] = [];
  for (const b of built) {
    if ("message" in b) issues.push(b);
    else operators.push(b);
  }
  return operators;
}

export function buildCommands(parsed: SiteParsed["commands"]): CommandsConfig {
  return { maxSkewMs: parsed.max_skew_s * 1000 };
}
