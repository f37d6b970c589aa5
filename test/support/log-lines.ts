// Reads pino JSON lines as text. JSON.parse keeps the last of two equal keys, so a repeated key
// (`"component":"daemon","component":"mqtt"`) is only visible in the raw line: this scans it.

/** The keys of a JSON object line's top level, in order, repeats included. Throws on a line that is not an object. */
export function topLevelKeys(line: string): string[] {
  const text = line.trim();
  if (!text.startsWith("{")) throw new Error(`not a JSON object line: ${text.slice(0, 80)}`);
  JSON.parse(text); // valid JSON, so the scan below can trust the structure
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1;
    } else if (c === "}" || c === "]") {
      depth--;
    } else if (c === "," && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

/** Keys that occur more than once at the top level of a JSON line. */
export function repeatedKeys(line: string): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const k of topLevelKeys(line)) (seen.has(k) ? repeated : seen).add(k);
  return [...repeated];
}

/** pino's `isoTime`: `"time":"2026-11-25T03:12:09.412Z"`. */
export const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
