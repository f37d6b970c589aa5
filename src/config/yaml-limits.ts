// Checks a parsed YAML document before it becomes JavaScript: keys unique per map, aliases
// resolved, alias expansion and nesting bounded. Each problem is located at its node. One walk in
// document order, linear in the size of the document (the yaml library's own `uniqueKeys` check
// compares every key with every other, which takes minutes on a file of 100,000 keys).
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter } from "yaml";
import type { ConfigIssue } from "../errors.js";

/**
 * Alias uses per file. A real config repeats a layout or a rack list a few hundred times at most;
 * 10,000 leaves room for generated files and still refuses a file built to exhaust the loader.
 */
export const MAX_ALIASES = 10_000;
/**
 * Nodes that aliases may add to the document when expanded. Catches "billion laughs" (aliases of
 * aliases, each level multiplying the size) long before it costs memory or time: 10,000 uses of
 * a 7-node layout are 70,000.
 */
export const MAX_ALIAS_NODES = 200_000;
/** Nesting depth. The deepest key of a site config is 7 levels down (rooms[].zones[].racks[].hosts[]). */
export const MAX_DEPTH = 64;

interface Located {
  readonly range?: readonly [number, number, number] | null;
}

/** Problems in `doc`; empty if it may be turned into JavaScript. Stops at the first limit passed. */
export function checkYamlLimits(file: string, doc: Document, lines: LineCounter): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (node: unknown, message: string): void => {
    const start = (node as Located | null)?.range?.[0] ?? 0;
    const pos = lines.linePos(start);
    issues.push({ file, line: pos.line, column: pos.col, path: "", message });
  };
  const anchors = new Map<string, unknown>();
  const sizes = new WeakMap<object, number>();
  const open = new Set<unknown>();
  let aliases = 0;
  let aliasNodes = 0;
  let stopped = false;

  /** Nodes under `node`, counting what its aliases expand to. */
  const walk = (node: unknown, depth: number): number => {
    if (stopped || node === null || node === undefined) return 0;
    if (depth > MAX_DEPTH) {
      at(node, `nesting is deeper than ${MAX_DEPTH} levels; a site config needs fewer than 10`);
      stopped = true;
      return 0;
    }
    if (isAlias(node)) {
      aliases++;
      if (aliases > MAX_ALIASES) {
        at(node, `more than ${MAX_ALIASES} aliases (*name); write the repeated part out, or split the file`);
        stopped = true;
        return 0;
      }
      const target = anchors.get(node.source);
      if (target === undefined) {
        at(node, `alias *${node.source} has no anchor &${node.source} before it; define the anchor first`);
        return 0;
      }
      if (open.has(target)) {
        at(node, `alias *${node.source} is inside its own anchor &${node.source}, which makes an endless structure`);
        return 0;
      }
      const size = sizes.get(target as object) ?? 0;
      aliasNodes += size;
      if (aliasNodes > MAX_ALIAS_NODES) {
        at(node, `aliases expand to more than ${MAX_ALIAS_NODES} nodes (aliases of aliases multiply); write the repeated part out`);
        stopped = true;
        return 0;
      }
      return size;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor !== undefined) anchors.set(anchor, node);
    let size = 1;
    if (isMap(node)) {
      open.add(node);
      const keys = new Map<string, unknown>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const name = String(pair.key.value);
          const first = keys.get(name);
          if (first !== undefined) {
            const p = lines.linePos((first as Located).range?.[0] ?? 0);
            at(pair.key, `key "${name}" appears twice in this map (first at line ${p.line}:${p.col}); keys are unique`);
          } else keys.set(name, pair.key);
        }
        size += walk(pair.key, depth + 1) + walk(pair.value, depth + 1);
      }
      open.delete(node);
    } else if (isSeq(node)) {
      open.add(node);
      for (const item of node.items) size += isPair(item) ? walk(item.key, depth + 1) + walk(item.value, depth + 1) : walk(item, depth + 1);
      open.delete(node);
    }
    sizes.set(node as object, size);
    return size;
  };
  walk(doc.contents, 0);
  return issues;
}
