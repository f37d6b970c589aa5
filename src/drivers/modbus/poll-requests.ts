// Carries out one poll's planned requests over a link (README "Reading close to the wire limit"): one
// after the other, or up to the link's `maxInFlight` at once when the device pipelines (Modbus TCP
// `max_in_flight`), answers matched by transaction id in ./tcp-client.ts and arriving in any order.
// A Modbus exception fails only its own request; any other failure (timeout, lost or reset
// connection) ends the poll: nothing more is sent, the requests already on the wire are waited
// for (each settles by its answer or its own timeout), and the first failure is the poll's.
import { bad, type PointValue } from "../../points/point.js";
import { classifyFailure, type ModbusLink, type ReadFailure } from "./connection.js";
import { RegisterImage } from "./decode.js";
import type { PlannedRequest } from "./planner.js";

/** The failure that ended a poll: its request and where it was (`holding 40002+125: no answer …`). */
export interface PollFailure {
  readonly request: number;
  readonly failure: ReadFailure;
  readonly at: string;
}

export interface RequestsOutcome {
  readonly image: RegisterImage;
  /** Requests answered with a Modbus exception: the bad value their points get. */
  readonly failed: Map<number, PointValue>;
  /** Clock time each answered request's data arrived, by request index. */
  readonly readAt: number[];
  /** Set when the poll as a whole failed (not for exceptions). */
  readonly fatal?: PollFailure;
}

/**
 * Send `requests` over `link`, at most `link.maxInFlight` (default 1) at once, in plan order.
 * Never rejects: every failure is in the outcome. `now` is the injected clock; `timeoutMs` names
 * the configured timeout in details.
 */
export async function runRequests(link: ModbusLink, requests: readonly PlannedRequest[], now: () => number, timeoutMs: number): Promise<RequestsOutcome> {
  const window = Math.max(1, link.maxInFlight ?? 1);
  return window === 1 ? runOneByOne(link, requests, now, timeoutMs) : runPipelined(link, requests, now, timeoutMs, window);
}

function describe(req: PlannedRequest, f: ReadFailure): string {
  return `${req.table} ${req.start}+${req.count}: ${f.detail}`;
}

/** The common case, kept as a plain loop: one promise per request and nothing else. */
async function runOneByOne(link: ModbusLink, requests: readonly PlannedRequest[], now: () => number, timeoutMs: number): Promise<RequestsOutcome> {
  const image = new RegisterImage();
  const failed = new Map<number, PointValue>();
  const readAt: number[] = [];
  for (let i = 0; i < requests.length; i++) {
    const req = requests[i]!;
    try {
      image.add(req.table, req.start, await link.read(req.table, req.start, req.count));
      readAt[i] = now();
    } catch (e) {
      const f = classifyFailure(e, timeoutMs);
      const at = describe(req, f);
      if (f.reason !== "device_exception") return { image, failed, readAt, fatal: { request: i, failure: f, at } };
      failed.set(i, bad("device_exception", now(), at));
    }
  }
  return { image, failed, readAt };
}

function runPipelined(link: ModbusLink, requests: readonly PlannedRequest[], now: () => number, timeoutMs: number, window: number): Promise<RequestsOutcome> {
  const image = new RegisterImage();
  const failed = new Map<number, PointValue>();
  const readAt: number[] = [];
  let fatal: PollFailure | undefined;
  let next = 0;
  let inFlight = 0;
  return new Promise((resolve) => {
    const done = (): void => resolve(fatal === undefined ? { image, failed, readAt } : { image, failed, readAt, fatal });
    const settle = (): void => {
      inFlight--;
      fill();
      if (inFlight === 0) done();
    };
    const send = (i: number): void => {
      const req = requests[i]!;
      inFlight++;
      link.read(req.table, req.start, req.count).then(
        (values) => {
          image.add(req.table, req.start, values);
          readAt[i] = now();
          settle();
        },
        (e: unknown) => {
          const f = classifyFailure(e, timeoutMs);
          const at = describe(req, f);
          if (f.reason === "device_exception") failed.set(i, bad("device_exception", now(), at));
          else fatal ??= { request: i, failure: f, at };
          settle();
        },
      );
    };
    const fill = (): void => {
      while (fatal === undefined && inFlight < window && next < requests.length) send(next++);
    };
    fill();
    if (inFlight === 0) done();
  });
}
