// Point-key globs in rules: `*` matches one path segment, `**` any number of segments (one or more).
// Written by hand: the glob libraries match file paths with their own rules (dotfiles, brace sets)
// that point keys must not inherit.

export function globToRegExp(glob: string): RegExp {
  const parts = glob.split("/").map((seg) => {
    if (seg === "**") return "(?:[^/]+(?:/[^/]+)*)";
    return seg
      .split("*")
      .map((lit) => lit.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join("[^/]*");
  });
  return new RegExp(`^${parts.join("/")}$`);
}

export function matchPoints(globs: readonly string[], keys: readonly string[]): { matched: string[]; unmatched: string[] } {
  const seen = new Set<string>();
  const unmatched: string[] = [];
  for (const g of globs) {
    const re = globToRegExp(g);
    let any = false;
    for (const k of keys) {
      if (re.test(k)) {
        any = true;
        seen.add(k);
      }
    }
    if (!any) unmatched.push(g);
  }
  // Keep the order of the device list so evidence and history are stable.
  return { matched: keys.filter((k) => seen.has(k)), unmatched };
}
