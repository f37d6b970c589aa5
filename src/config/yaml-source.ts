// YAML parsing that remembers where every key came from, so that every config error can name
// file:line:column and the key path (README.md#configuration).
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { type ConfigIssue, FileReadError } from "../errors.js";
import { readConfigFile } from "./config-file.js";
import { checkYamlLimits } from "./yaml-limits.js";

export type KeyPath = readonly (string | number)[];

export class YamlSource {
  private constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** Parse text; syntax errors and limits passed come back as located issues, never thrown. */
  static parse(file: string, text: string): { source: YamlSource; issues: ConfigIssue[] } {
    const lines = new LineCounter();
    // uniqueKeys off: the library compares every key with every other (quadratic);
    // checkYamlLimits finds duplicates in one pass. prettyErrors off keeps messages to one line;
    // the position comes from the error's offset.
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
    const source = new YamlSource(file, doc, lines);
    // The parser reports running out of stack once per level it unwinds: keep the first.
    let exhausted = false;
    const errors = doc.errors.filter((e) => e.code !== "RESOURCE_EXHAUSTION" || (!exhausted && (exhausted = true)));
    const syntax = errors.map((e): ConfigIssue => {
      const pos = lines.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, path: "", message: yamlMessage(e.code, e.message) };
    });
    const issues = syntax.length > 0 ? syntax : checkYamlLimits(file, doc, lines);
    return { source, issues: capIssues(issues) };
  }

  /** Read and parse a file of at most `maxBytes`; `namedBy` says where its name came from, for the message. */
  static async read(file: string, maxBytes: number, namedBy: string): Promise<{ source?: YamlSource; issues: ConfigIssue[] }> {
    const r = await readConfigFile(file, maxBytes);
    if (!r.ok) return { issues: [{ file, line: 1, column: 1, path: "", message: `cannot read ${file} (${namedBy}): ${r.reason}` }] };
    return YamlSource.parse(file, r.text);
  }

  /** The site config named on the command line; an unreadable one is FB_FILE_READ (exit 2). */
  static async readConfig(file: string, maxBytes: number): Promise<{ source: YamlSource; issues: ConfigIssue[] }> {
    const r = await readConfigFile(file, maxBytes);
    if (!r.ok) throw new FileReadError(file, new Error(r.reason));
    return YamlSource.parse(file, r.text);
  }

  /** The document as plain data. checkYamlLimits has bounded it; a failure here is still an issue, never a throw. */
  toJS(): { value: unknown; issues: ConfigIssue[] } {
    try {
      return { value: this.doc.toJS({ maxAliasCount: -1 }), issues: [] };
    } catch (e) {
      return { value: undefined, issues: [{ file: this.file, line: 1, column: 1, path: "", message: `cannot turn the YAML into data: ${(e as Error).message}` }] };
    }
  }

  /**
   * Where a key path is in the file. With `key`, point at that key inside the map at `path` (for
   * unknown keys); a path that does not exist (a missing key) points at its nearest parent.
   */
  position(path: KeyPath, key?: string): { line: number; column: number } {
    let node: unknown = undefined;
    if (key !== undefined) {
      const map = this.doc.getIn(path, true);
      if (isMap(map)) {
        const pair = map.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
        if (pair !== undefined && isScalar(pair.key)) node = pair.key;
      }
    }
    for (let n = path.length; node === undefined && n >= 0; n--) {
      const found = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      if (found !== undefined && found !== null) node = found;
    }
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range === undefined) return { line: 1, column: 1 };
    const pos = this.lines.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  }

  issue(path: KeyPath, message: string, key?: string): ConfigIssue {
    const pos = this.position(path, key);
    const full = key === undefined ? path : [...path, key];
    return { file: this.file, line: pos.line, column: pos.column, path: formatPath(full), message };
  }

  /**
   * Turn a zod error into located issues, one per problem, at most MAX_ISSUES. Unknown keys are
   * listed up to MAX_UNKNOWN_KEYS per map and counted beyond, so that a file of 200,000 stray
   * keys is refused in linear time with a readable message.
   */
  zodIssues(error: z.ZodError): ConfigIssue[] {
    const out: ConfigIssue[] = [];
    let more = 0;
    for (const i of error.issues) {
      if (out.length >= MAX_ISSUES) {
        more += i.code === "unrecognized_keys" ? i.keys.length : 1;
        continue;
      }
      const path = i.path.filter((p): p is string | number => typeof p === "string" || typeof p === "number");
      if (i.code === "unrecognized_keys") {
        for (const k of i.keys.slice(0, MAX_UNKNOWN_KEYS)) out.push(this.issue(path, `unknown key "${clip(k)}"; check its spelling against the README's config reference`, k));
        const rest = i.keys.length - MAX_UNKNOWN_KEYS;
        if (rest > 0) out.push(this.issue(path, `and ${rest} more unknown key${rest === 1 ? "" : "s"} in this map`));
      } else {
        out.push(this.issue(path, describeZodIssue(i)));
      }
    }
    if (more > 0) out.push({ file: this.file, line: 1, column: 1, path: "", message: `and ${more} more problem${more === 1 ? "" : "s"} not listed; fix these first` });
    return out;
  }
}

/** Issues listed per refusal; past this they are counted. Nobody reads the 101st. */
export const MAX_ISSUES = 100;
/** Unknown keys listed per map; past this they are counted. */
export const MAX_UNKNOWN_KEYS = 20;

/** At most MAX_ISSUES issues, the rest counted in a last one. */
export function capIssues(issues: ConfigIssue[]): ConfigIssue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  const rest = issues.length - MAX_ISSUES;
  const first = issues[0]!;
  return [...issues.slice(0, MAX_ISSUES), { file: first.file, line: 1, column: 1, path: "", message: `and ${rest} more problem${rest === 1 ? "" : "s"} not listed; fix these first` }];
}

/** Keys and values quoted in messages are cut to a readable length. */
function clip(s: string): string {
  return s.length <= 80 ? s : `${s.slice(0, 77)}...`;
}

/** The library's first line, without its own "at line X, column Y" (the issue carries the position). */
function yamlMessage(code: string, m: string): string {
  if (code === "RESOURCE_EXHAUSTION") return "nesting too deep for the YAML parser; a site config needs fewer than 10 levels";
  if (m.startsWith("Source contains multiple documents")) return "a config is one YAML document: remove the `---` separator and what follows it";
  return (m.split("\n")[0] ?? m).replace(/ at line \d+, column \d+:?$/, "");
}

export function formatPath(path: KeyPath): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? clip(p) : `.${clip(p)}`;
  return s;
}

function describeZodIssue(i: z.core.$ZodIssue): string {
  switch (i.code) {
    case "invalid_value":
      return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return i.message;
  }
}
