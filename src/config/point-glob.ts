// Point-key globs in rules: `*` matches within one path segment, `**` (a whole segment) one or
// more segments. Written by hand: the glob libraries match file paths with their own rules
// (dotfiles, brace sets) that point keys must not inherit. Matched segment by segment, without
// regular expressions, so a long or hostile glob costs time linear in its length (a compiled
// regular expression of a long glob overflowed V8: "Regular expression too large").

// Longest glob a rule may hold. Real ones are under 40 characters (`cab1/*/*/*/tempC`).
export const MAX_GLOB_LENGTH = 256;

type Segment = { readonly any: true } | { readonly any: false; readonly parts: readonly string[] };

export class PointGlob {
  readonly #segments: readonly Segment[];
  readonly #hasAny: boolean;

  constructor(readonly glob: string) {
    this.#segments = glob.split("/").map((seg): Segment => (seg === "**" ? { any: true } : { any: false, parts: seg.split("*") }));
    this.#hasAny = this.#segments.some((s) => s.any);
  }

  /** Whether `key` (`device/point/...`) matches. O(glob segments × key segments × segment length). */
  matches(key: string): boolean {
    const keySegs = key.split("/");
    const g = this.#segments;
    if (!this.#hasAny && keySegs.length !== g.length) return false;
    // reach[k]: the first i glob segments can match the first k key segments.
    let reach: boolean[] = Array.from({ length: keySegs.length + 1 }, (_, k) => k === 0);
    for (const seg of g) {
      const next: boolean[] = new Array<boolean>(keySegs.length + 1).fill(false);
      if (seg.any) {
        // One or more segments: reachable from any earlier reached position.
        let seen = false;
        for (let k = 0; k <= keySegs.length; k++) {
          if (seen) next[k] = true;
          if (reach[k]) seen = true;
        }
      } else {
        for (let k = 0; k < keySegs.length; k++) if (reach[k] && matchSegment(seg.parts, keySegs[k]!)) next[k + 1] = true;
      }
      reach = next;
    }
    return reach[keySegs.length] === true;
  }
}

/** `parts` is a segment split at its `*`s; the first part is a prefix, the last a suffix, the rest in order. */
function matchSegment(parts: readonly string[], s: string): boolean {
  if (parts.length === 1) return parts[0] === s;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (s.length < first.length + last.length || !s.startsWith(first) || !s.endsWith(last)) return false;
  // Leftmost match of each middle part is optimal for `*`-only patterns.
  let at = first.length;
  const end = s.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const p = parts[i]!;
    const found = s.indexOf(p, at);
    if (found < 0 || found + p.length > end) return false;
    at = found + p.length;
  }
  return true;
}

/** The keys as a set, once per key list: a rule that names thousands of points by key costs a lookup each. */
const keySets = new WeakMap<readonly string[], ReadonlySet<string>>();

export function matchPoints(globs: readonly string[], keys: readonly string[]): { matched: string[]; unmatched: string[] } {
  const seen = new Set<string>();
  const unmatched: string[] = [];
  for (const g of globs) {
    if (!g.includes("*")) {
      // A plain key matches itself only: no scan of every key.
      let set = keySets.get(keys);
      if (set === undefined) keySets.set(keys, (set = new Set(keys)));
      if (set.has(g)) seen.add(g);
      else unmatched.push(g);
      continue;
    }
    const glob = new PointGlob(g);
    let any = false;
    for (const k of keys) {
      if (glob.matches(k)) {
        any = true;
        seen.add(k);
      }
    }
    if (!any) unmatched.push(g);
  }
  // Keep the order of the device list so evidence and history are stable.
  return { matched: keys.filter((k) => seen.has(k)), unmatched };
}
