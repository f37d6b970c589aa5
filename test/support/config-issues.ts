// What a refused site config reports, in the form the config tests compare: one line per issue.
// A config that loads fails the test, so a refusal that silently stopped happening cannot pass.
import { expect } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";

export async function configIssues(file: string, opts: { readonly positions?: boolean } = {}): Promise<string[]> {
  try {
    await loadSiteConfig(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${opts.positions === true ? `${i.line}:${i.column} ` : ""}${i.path}: ${i.message}`);
  }
  throw new Error(`config ${file} was accepted`);
}
