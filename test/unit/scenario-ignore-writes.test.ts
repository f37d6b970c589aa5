import { describe, expect, it } from "vitest";
import { parseScenario } from "../../simulators/scenario.js";

describe("the ignore_writes scenario step", () => {
  it("parses into an injection that makes a device echo writes and carry none out", () => {
    const s = parseScenario("t.yaml", "name: t\ndescription: a cabinet that ignores its commands\nsteps:\n  - { at_s: 0, ignore_writes: { device: cab2 } }\n  - { at_s: 9, ignore_writes: { device: cab2, on: false } }\n");
    expect(s.steps.map((x) => x.command)).toEqual([
      { kind: "ignore_writes", device: "cab2", on: true },
      { kind: "ignore_writes", device: "cab2", on: false },
    ]);
  });
  it("is one thing a step does, like the others", () => {
    expect(() => parseScenario("t.yaml", "name: t\ndescription: d\nsteps:\n  - { at_s: 0, ignore_writes: { device: cab2 }, silent: { device: cab2 } }\n")).toThrow(/give one of heat, silent, stuck, sentinel, panel, ignore_writes/);
  });
});
