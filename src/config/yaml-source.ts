// YAML parsing that remembers where every key came from, so that every config error can name
// file:line:column and the key path (README.md#configuration).
import { readFile } from "node:fs/promises";
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { type ConfigIssue, FileReadError } from "../errors.js";

export type KeyPath = readonly (string | number)[];

export class YamlSource {
  private constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** Parse text; syntax errors come back as issues, never thrown. */
  static parse(file: string, text: string): { source: YamlSource; issues: ConfigIssue[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const source = new YamlSource(file, doc, lines);
    const issues = doc.errors.map((e): ConfigIssue => {
      const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
      return { file, line: pos.line, column: pos.col, path: "", message: e.message.split("\n")[0] ?? e.message };
    });
    return { source, issues };
  }

  static async read(file: string): Promise<{ source: YamlSource; issues: ConfigIssue[] }> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new FileReadError(file, e);
    }
    return YamlSource.parse(file, text);
  }

  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 100 });
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
        const pair = map.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
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

  /** Turn a zod error into located issues, one per problem. */
  zodIssues(error: z.ZodError): ConfigIssue[] {
    const out: ConfigIssue[] = [];
    for (const i of error.issues) {
      const path = i.path.filter((p): p is string | number => typeof p === "string" || typeof p === "number");
      if (i.code === "unrecognized_keys") {
        for (const k of i.keys) out.push(this.issue(path, `unknown key "${k}"; check its spelling against the README's config reference`, k));
      } else {
        out.push(this.issue(path, describeZodIssue(i)));
      }
    }
    return out;
  }
}

export function formatPath(path: KeyPath): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? p : `.${p}`;
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
