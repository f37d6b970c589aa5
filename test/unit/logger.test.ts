// The logger factory every firebreak log comes from: ISO times in every destination, and no key
// written twice in a line (the raw text is checked: JSON.parse would keep only the last).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/runtime/logger.js";
import { ISO_TIME, repeatedKeys, topLevelKeys } from "../support/log-lines.js";

function capture(): { lines: string[]; destination: { write(s: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (s: string) => void lines.push(...s.split("\n").filter((l) => l !== "")) } };
}

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("log lines", () => {
  it("the key scanner sees a repeated key that JSON.parse hides", () => {
    const line = '{"level":30,"component":"daemon","msg":"a \\"quoted\\", {odd} text","component":"mqtt","nested":{"component":1},"list":[{"device":2}]}';
    expect(topLevelKeys(line)).toEqual(["level", "component", "msg", "component", "nested", "list"]);
    expect(repeatedKeys(line)).toEqual(["component"]);
    expect(repeatedKeys('{"a":1,"b":{"a":2}}')).toEqual([]);
  });

  it("pino repeats a key bound twice (why the daemon never re-binds one)", () => {
    const { lines, destination } = capture();
    createLogger("info", { pretty: false, destination }).child({ component: "daemon" }).child({ component: "mqtt" }).info("x");
    expect(repeatedKeys(lines[0]!)).toEqual(["component"]);
  });

  it("a child logger's line carries each key once, with an ISO time", () => {
    const { lines, destination } = capture();
    const log = createLogger("info", { pretty: false, destination });
    log.child({ component: "modbus" }).warn({ device: "cab1", state: "disconnected" }, "modbus device not answering");
    expect(lines).toHaveLength(1);
    expect(repeatedKeys(lines[0]!)).toEqual([]);
    const parsed = JSON.parse(lines[0]!) as { time: unknown; component: string; device: string };
    expect(parsed).toMatchObject({ component: "modbus", device: "cab1" });
    expect(parsed.time).toMatch(ISO_TIME);
  });

  it("the demo's log file gets ISO times too (the same factory, `file` option)", async () => {
    dir = await mkdtemp(join(tmpdir(), "fb-logger-"));
    const file = join(dir, "sub", "demo.log");
    const log = createLogger("info", { file });
    log.child({ component: "sim" }).info({ event: "vent" }, "a cell vents");
    const lines = (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(repeatedKeys(lines[0]!)).toEqual([]);
    expect((JSON.parse(lines[0]!) as { time: unknown }).time).toMatch(ISO_TIME);
  });
});
