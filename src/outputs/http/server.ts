// The HTTP listener for operations (README "Health and metrics"): GET /healthz (the process
// answers), /readyz (devices started, state restored, broker connected) and /metrics (Prometheus
// text). Plain node:http/https: three read-only paths need no framework. A bearer token, when
// configured, guards all three (compared in constant time).
import { timingSafeEqual, createHash } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { HttpConfig } from "../../config/types.js";
import { isReady, type DaemonFigures } from "./figures.js";
import type { FirebreakMetrics } from "./metrics.js";

export interface HttpOutputContext {
  readonly config: HttpConfig;
  readonly figures: DaemonFigures;
  readonly metrics: FirebreakMetrics;
  readonly log: Logger;
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

export class HttpOutput {
  readonly #ctx: HttpOutputContext;
  readonly #token: Buffer | undefined;
  #server: Server | undefined;
  #requests = 0;

  constructor(ctx: HttpOutputContext) {
    this.#ctx = ctx;
    this.#token = ctx.config.bearerToken === undefined ? undefined : digest(ctx.config.bearerToken);
  }

  /** Listen; rejects (with the address in the message) when the port cannot be bound. */
  async start(): Promise<void> {
    const { config, log } = this.#ctx;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#requests++;
      this.#handle(req, res).catch((err: unknown) => {
        log.error({ err, path: req.url }, "http request failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error\n");
      });
    };
    const server = config.tls === undefined ? createHttpServer(handler) : createHttpsServer({ cert: config.tls.cert, key: config.tls.key }, handler);
    // Slow or idle clients must not hold sockets: a scrape is one small request.
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(new Error(`http: cannot listen on ${config.host}:${config.port}: ${err.message}`));
      server.once("error", fail);
      server.listen(config.port, config.host, () => {
        server.off("error", fail);
        resolve();
      });
    });
    server.on("error", (err) => log.error({ err }, "http server error"));
    this.#server = server;
    log.info({ listen: `${config.host}:${this.port}`, tls: config.tls !== undefined, auth: this.#token !== undefined }, "health and metrics listening");
  }

  /** The bound port (differs from the config's when it was 0, as in tests). */
  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? this.#ctx.config.port;
  }

  get requests(): number {
    return this.#requests;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #authorised(req: IncomingMessage): boolean {
    if (this.#token === undefined) return true;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    return m !== null && timingSafeEqual(digest(m[1]!), this.#token);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "only GET and HEAD\n", { allow: "GET, HEAD" });
    if (!this.#authorised(req)) return send(res, 401, "text/plain", "bearer token required\n", { "www-authenticate": 'Bearer realm="firebreak"' });
    switch (path) {
      case "/healthz":
        return send(res, 200, "text/plain", "ok\n");
      case "/readyz": {
        const r = this.#ctx.figures.readiness();
        const ready = isReady(r);
        return send(res, ready ? 200 : 503, "application/json", `${JSON.stringify({ ready, ...r })}\n`);
      }
      case "/metrics":
        return send(res, 200, this.#ctx.metrics.contentType(), await this.#ctx.metrics.text());
      default:
        return send(res, 404, "text/plain", "not found: /healthz, /readyz, /metrics\n");
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
  res.end(body);
}
