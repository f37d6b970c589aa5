// TCP_NODELAY on an MQTT client's socket, set on every connect. mqtt.js leaves the socket as Node
// makes it, with Nagle's algorithm on: a small packet sent while the previous one waits for its TCP
// acknowledgement sits in the kernel until the peer's delayed ACK (40 ms on Linux). For alarms that
// was most of the daemon's latency: overhead p50/p99 14/40 ms against 4-5/8-9 ms with it off
// (bench/README.md, fourth round).

/** Turn Nagle off on `stream` (a plain TCP or TLS socket); a WebSocket stream has no such switch. */
export function noDelay(stream: unknown): void {
  const s = stream as { setNoDelay?: unknown } | undefined;
  if (typeof s?.setNoDelay === "function") (s as { setNoDelay(on: boolean): void }).setNoDelay(true);
}
