// The simulator's small HTTP control on 127.0.0.1, for tests and demos: POST /inject applies an
// injection (JSON), GET /state returns the room (cells hottest first, zone gas, vents, runaways).
import http from "node:http";
import type { Logger } from "pino";
import { z } from "zod";
import { injectSchema, toInjectCommand } from "./scenario.js";
import type { Simulation } from "./simulation.js";

export interface ControlServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Largest request body accepted, bytes: an injection is a few hundred. */
const MAX_BODY = 16 * 1024;

export function startControlServer(opts: { sim: Pick<Simulation, "inject" | "state">; port: number; host?: string; log: Logger }): Promise<ControlServer> {
  const { sim, log } = opts;
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body) + "\n");
    };
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method === "GET" && url.pathname === "/state") {
      const state = sim.state();
      const top = Number(url.searchParams.get("top") ?? "10");
      reply(200, { ...state, cells: Number.isInteger(top) && top > 0 ? state.cells.slice(0, top) : state.cells });
      return;
    }
    if (req.method !== "POST" || url.pathname !== "/inject") {
      reply(404, { error: `no ${req.method} ${url.pathname}; use POST /inject or GET /state` });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => {
      if (size > MAX_BODY) return reply(413, { error: `body larger than ${MAX_BODY} bytes` });
      let json: unknown;
      try {
        json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch (e) {
        return reply(400, { error: `body is not JSON: ${e instanceof Error ? e.message : String(e)}` });
      }
      const parsed = injectSchema.safeParse(json);
      if (!parsed.success) return reply(400, { error: describe(parsed.error) });
      const cmd = toInjectCommand(parsed.data);
      try {
        sim.inject(cmd);
      } catch (e) {
        return reply(400, { error: e instanceof Error ? e.message : String(e) });
      }
      log.info({ command: cmd }, "injected over HTTP");
      reply(200, { ok: true, command: cmd });
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      const addr = server.address();
      resolve({
        port: typeof addr === "object" && addr !== null ? addr.port : opts.port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

function describe(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.map(String).join(".");
      if (i.code === "invalid_union" || (i.code === "invalid_value" && path === "kind")) return `kind: must be one of heat, silent, stuck, sentinel, panel`;
      if (i.code === "unrecognized_keys") return `unknown key${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => `"${k}"`).join(", ")}`;
      return `${path === "" ? "(body)" : path}: ${i.message}`;
    })
    .join("; ");
}
