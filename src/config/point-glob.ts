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

/** A key list indexed once: as a set, and by first segment (the device) in the list's order. */
interface KeyIndex {
  readonly set: ReadonlySet<string>;
  readonly byDevice: ReadonlyMap<string, { readonly order: number; readonly keys: readonly string[] }>;
}
const indexes = new WeakMap<readonly string[], KeyIndex>();

function indexOf(keys: readonly string[]): KeyIndex {
  let index = indexes.get(keys);
  if (index !== undefined) return index;
  const byDevice = new Map<string, { order: number; keys: string[] }>();
  for (const k of keys) {
    const device = k.slice(0, k.indexOf("/") >>> 0); // no "/": -1 >>> 0 is past the end, the whole key
    let d = byDevice.get(device);
    if (d === undefined) byDevice.set(device, (d = { order: byDevice.size, keys: [] }));
    d.keys.push(k);
  }
  index = { set: new Set(keys), byDevice };
  indexes.set(keys, index);
  return index;
}

export function matchPoints(globs: readonly string[], keys: readonly string[]): { matched: string[]; unmatched: string[] } {
  const seen = new Set<string>();
  const unmatched: string[] = [];
  const index = indexOf(keys);
  // A glob whose device (first segment) is spelled out can only match that device's keys: at
  // 100,000 points, matching every rule's globs against every key took a minute to load a site.
  const devices = new Set<string>();
  let anyDevice = false;
  for (const g of globs) {
    if (!g.includes("*")) {
      // A plain key matches itself only.
      if (index.set.has(g)) seen.add(g);
      else unmatched.push(g);
      devices.add(g.slice(0, g.indexOf("/") >>> 0));
      continue;
    }
    const first = g.slice(0, g.indexOf("/") >>> 0);
    const candidates = first.includes("*") ? keys : (index.byDevice.get(first)?.keys ?? []);
    if (first.includes("*")) anyDevice = true;
    else devices.add(first);
    const glob = new PointGlob(g);
    let any = false;
    for (const k of candidates) {
      if (glob.matches(k)) {
        any = true;
        seen.add(k);
      }
    }
    if (!any) unmatched.push(g);
  }
  // Keep the order of the device list so evidence and history are stable.
  if (anyDevice) return { matched: keys.filter((k) => seen.has(k)), unmatched };
  const ordered = [...devices].flatMap((d) => { const e = index.byDevice.get(d); return e === undefined ? [] : [e]; }).sort((a, b) => a.order - b.order);
  return { matched: ordered.flatMap((e) => e.keys.filter((k) => seen.has(k))), unmatched };
}
