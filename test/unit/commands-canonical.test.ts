import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, CanonicalJsonError } from "../../src/commands/canonical.js";

describe("canonical JSON", () => {
  it("sorts keys, recursively, and writes no whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: "x" } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it("gives the same text whatever order the keys were inserted in", () => {
    const a = { verb: "ack", alarm: "offgas-a", v: 1, nested: { q: 1, p: [{ k: 2, j: 1 }] } };
    const b = { nested: { p: [{ j: 1, k: 2 }], q: 1 }, alarm: "offgas-a", v: 1, verb: "ack" };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it("keeps array order (arrays are ordered data)", () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it("sorts by UTF-16 code units: upper case before lower case, as RFC 8785", () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, é: 4 })).toBe('{"B":2,"a":3,"b":1,"é":4}');
  });

  it("writes strings and numbers as JSON.stringify does", () => {
    expect(canonicalJson({ s: 'quote " and \\ and \n and \u0001', n: 1e21, m: 0.1, z: -0 })).toBe(`{"m":0.1,"n":1e+21,"s":${JSON.stringify('quote " and \\ and \n and \u0001')},"z":0}`);
  });

  it("round-trips: parsing canonical text and canonicalising again changes nothing (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const once = canonicalJson(v);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      }),
    );
  });

  it.each([
    ["NaN", { a: NaN }, "$.a"],
    ["Infinity", { a: [1, Infinity] }, "$.a[1]"],
    ["undefined", { a: { b: undefined } }, "$.a.b"],
    ["a Date", { when: new Date(0) }, "$.when"],
    ["a bigint", { n: 1n }, "$.n"],
    ["a Map", new Map(), "$"],
  ])("refuses %s, naming where it is", (_what, value, path) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(value)).toThrow(new RegExp(`^${path.replace(/[$.[\]]/g, "\\$&")}: `));
  });
});
