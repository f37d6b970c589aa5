// CPU per request of firebreak's Modbus TCP client (src/drivers/modbus/tcp-client.ts) against
// modbus-serial's, in the same run, against the simulators' Modbus server in a forked process (so
// the server's CPU is not counted): N sequential reads of 125 holding registers each, 3 runs per
// client, alternating, median reported.
// Usage: npm run build && node dist/bench/modbus-client-cpu.js [REQUESTS]
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import ModbusSerial from "modbus-serial";
import type { ModbusRTU } from "modbus-serial/ModbusRTU.js";
import { ModbusTcpClient } from "../src/drivers/modbus/tcp-client.js";
import { RegisterBank, startModbusTcpServer } from "../simulators/modbus-server.js";

const COUNT = 125;
const RUNS = 3;

if (process.argv[2] === "serve") {
  const bank = new RegisterBank();
  for (let i = 0; i < 65536; i++) bank.holding[i] = i;
  const server = await startModbusTcpServer({ port: 0, units: new Map([[1, bank]]) });
  process.send?.({ port: server.port });
  process.on("disconnect", () => void server.close().then(() => process.exit(0)));
} else {
  const requests = Number(process.argv[2] ?? 20_000);
  const child = fork(fileURLToPath(import.meta.url), ["serve"], { stdio: "inherit" });
  const port = await new Promise<number>((resolve) => child.once("message", (m: { port: number }) => resolve(m.port)));

  type Read = () => Promise<unknown>;
  const clients: Record<string, () => Promise<{ read: Read; close: () => Promise<void> }>> = {
    firebreak: async () => {
      const c = await ModbusTcpClient.connect({ device: "bench", host: "127.0.0.1", port, unitId: 1, timeoutMs: 5000 });
      return { read: () => c.read(3, 0, COUNT), close: () => c.close() };
    },
    "modbus-serial": async () => {
      const c = new (ModbusSerial as unknown as new () => ModbusRTU)();
      await c.connectTCP("127.0.0.1", { port, timeout: 5000 });
      c.setID(1);
      c.setTimeout(5000);
      return { read: () => c.readHoldingRegisters(0, COUNT), close: () => new Promise<void>((r) => c.close(() => r())) };
    },
  };

  const results: Record<string, { cpuUsPerRequest: number[]; requestsPerS: number[] }> = {};
  for (let run = 0; run < RUNS; run++) {
    for (const [name, open] of Object.entries(clients)) {
      const c = await open();
      for (let i = 0; i < 1000; i++) await c.read(); // warm-up: JIT, socket buffers
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < requests; i++) await c.read();
      const cpu = process.cpuUsage(cpu0);
      const seconds = (performance.now() - t0) / 1000;
      await c.close();
      const r = (results[name] ??= { cpuUsPerRequest: [], requestsPerS: [] });
      r.cpuUsPerRequest.push((cpu.user + cpu.system) / requests);
      r.requestsPerS.push(requests / seconds);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const out = Object.fromEntries(
    Object.entries(results).map(([name, r]) => [name, { cpuUsPerRequestMedian: +median(r.cpuUsPerRequest).toFixed(2), cpuUsPerRequest: r.cpuUsPerRequest.map((x) => +x.toFixed(2)), requestsPerSMedian: Math.round(median(r.requestsPerS)) }]),
  );
  console.log(JSON.stringify({ node: process.version, requests, registersPerRequest: COUNT, runs: RUNS, clients: out }, null, 2));
  child.disconnect();
}
