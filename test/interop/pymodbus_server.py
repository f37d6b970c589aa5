#!/usr/bin/python3
"""A Modbus server from another implementation (pymodbus, Debian's python3-pymodbus) for
firebreak's interop tests: it serves the register map in a JSON file over Modbus TCP, or RTU on a
serial device (a socat PTY in the tests), and prints one line "ready <port or device>" on stdout
once it listens. It stops when its stdin closes or on SIGTERM.

The JSON file: {"units": {"<unit id>": {"holding": {"<start>": [words...]}, "input": {...},
"coil": {...}, "discrete": {...}}}}. Each table is served as one block from its lowest start to the
end of its highest run, so addresses outside it answer exception 02, as a device's do.

Written against pymodbus 3.0 (Debian 12's python3-pymodbus 3.0.0), whose API differs from later
releases: zero_mode=True makes protocol address N register N (no +1).
"""
import argparse
import asyncio
import json
import signal
import socket
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext


def block(table):
    if not table:
        # Nothing defined: a one-register block at 65535 that no test reads, so reads answer 02.
        return ModbusSequentialDataBlock(65535, [0])
    runs = sorted((int(start), words) for start, words in table.items())
    lo = runs[0][0]
    hi = max(start + len(words) for start, words in runs)
    values = [0] * (hi - lo)
    for start, words in runs:
        values[start - lo:start - lo + len(words)] = words
    return ModbusSequentialDataBlock(lo, values)


def context(spec):
    slaves = {}
    for unit, tables in spec["units"].items():
        slaves[int(unit)] = ModbusSlaveContext(
            hr=block(tables.get("holding")),
            ir=block(tables.get("input")),
            co=block(tables.get("coil")),
            di=block(tables.get("discrete")),
            zero_mode=True,
        )
    return ModbusServerContext(slaves=slaves, single=False)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("map", help="JSON register map")
    ap.add_argument("--port", type=int, default=0, help="TCP port (0: a free one, printed)")
    ap.add_argument("--serial", help="serve RTU on this serial device instead of TCP")
    ap.add_argument("--baud", type=int, default=19200)
    args = ap.parse_args()
    with open(args.map) as f:
        ctx = context(json.load(f))

    if args.serial:
        from pymodbus.server import StartAsyncSerialServer
        from pymodbus.transaction import ModbusRtuFramer

        server = asyncio.ensure_future(
            StartAsyncSerialServer(context=ctx, framer=ModbusRtuFramer, port=args.serial, baudrate=args.baud, bytesize=8, parity="N", stopbits=1, timeout=0.005)
        )
        where = args.serial
    else:
        from pymodbus.server import StartAsyncTcpServer

        port = args.port or free_port()
        server = asyncio.ensure_future(StartAsyncTcpServer(context=ctx, address=("127.0.0.1", port)))
        where = str(port)
    await asyncio.sleep(0.5)
    if server.done() and server.exception() is not None:
        raise server.exception()
    print(f"ready {where}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin, lambda: stop.set() if not sys.stdin.readline() else None)
    await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
