// A cheap TCP probe of the broker's port between reconnect attempts: the moment the broker
// accepts connections again we try at once, instead of waiting out the backoff.
import { connect } from "node:net";

export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

/** Host and port of an `mqtt://` or `mqtts://` URL (1883 and 8883 by default); undefined if it does not parse. */
export function brokerAddress(url: string): BrokerAddress | undefined {
  try {
    const u = new URL(url);
    const port = u.port === "" ? (u.protocol === "mqtts:" ? 8883 : 1883) : Number(u.port);
    const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
    return host === "" || !Number.isInteger(port) ? undefined : { host, port };
  } catch {
    return undefined;
  }
}

/** True when a TCP connection to `addr` opens within `timeoutMs` (it is closed at once). */
export function probeTcp(addr: BrokerAddress, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: addr.host, port: addr.port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}
