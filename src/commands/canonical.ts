// Canonical JSON: one byte sequence per value, so a signature made over an object on one machine
// verifies over the same object parsed on another. Used for operator commands (./verify.ts) and
// meant for anything else firebreak signs (evacuation triggers). Written by hand: it is twenty
// lines, and the libraries that do it (RFC 8785 / JCS) would be a dependency for that.
import { CanonicalJsonError } from "../errors.js";

export { CanonicalJsonError };

/** The JSON values that have exactly one canonical form. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Keys sorted recursively (by UTF-16 code units, JavaScript's default sort, as RFC 8785 does), no
 * whitespace, strings and numbers as JSON.stringify writes them. Refuses what JSON cannot carry
 * faithfully: NaN and ±Infinity (JSON.stringify would write null), undefined, functions, bigint,
 * symbols and objects that are not plain (Date, Map, class instances), each named by its path.
 */
export function canonicalJson(value: unknown): string {
  return write(value, "$");
}

/** UTF-8 bytes of canonicalJson(value): what is signed and verified. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), "utf8");
}

function write(v: unknown, path: string): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "string":
      return JSON.stringify(v);
    case "number":
      if (!Number.isFinite(v)) throw new CanonicalJsonError(path, `${String(v)} is not a finite number`);
      return JSON.stringify(v);
    case "object":
      if (Array.isArray(v)) return `[${v.map((x, i) => write(x, `${path}[${i}]`)).join(",")}]`;
      if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
        throw new CanonicalJsonError(path, `a ${(v as object).constructor?.name ?? "non-plain"} object has no canonical JSON form`);
      }
      return `{${Object.keys(v)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${write((v as Record<string, unknown>)[k], `${path}.${k}`)}`)
        .join(",")}}`;
    default:
      throw new CanonicalJsonError(path, `a ${typeof v} has no JSON form`);
  }
}
