#!/usr/bin/env python3
"""What an open connection costs a `taskflow serve` process: its RSS with N keep-alive
connections that each made one `GET /health` and stay open, and then with N open event
streams (`GET /events`), on a fresh SQLite database. Separates the cost of an HTTP
connection from that of a stream.

    benches/http/stream_rss.py --bin target/release/taskflow --connections 5000

Standard library only; reuses the helpers of events.py beside it.
"""

import argparse
import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events  # noqa: E402


async def measure(bin_path, n, kind):
    work = tempfile.mkdtemp()
    secret = os.path.join(work, "secret")
    with open(secret, "w") as f:
        f.write("benchmark secret of at least 32 bytes!!")
    os.chmod(secret, 0o600)
    server, port = events.start(bin_path, f"sqlite://{work}/rss.db", secret, work)
    try:
        email = "rss@example.com"
        await events.request(port, "POST", "/api/v1/auth/register",
                             {"email": email, "password": events.PASSWORD, "name": "rss"})
        _, pair = await events.request(port, "POST", "/api/v1/auth/login",
                                       {"email": email, "password": events.PASSWORD})
        base = events.rss_mib(server.pid)
        held = []
        for _ in range(n):
            if kind == "idle":
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n\r\n")
                held.append(writer)
            else:
                opened = asyncio.get_running_loop().create_future()
                held.append(asyncio.create_task(
                    events.stream(port, pair["access_token"], [], opened)))
                await opened
        await asyncio.sleep(1)
        loaded = events.rss_mib(server.pid)
        label = {"idle": "idle keep-alive connections after one request",
                 "streams": "open event streams"}[kind]
        print(f"{n} {label}: RSS {base:.0f} -> {loaded:.0f} MiB, "
              f"{(loaded - base) * 1024 / n:.1f} KiB each")
    finally:
        server.kill()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--connections", type=int, default=5000)
    args = p.parse_args()
    await measure(args.bin, args.connections, "idle")
    await measure(args.bin, args.connections, "streams")


if __name__ == "__main__":
    asyncio.run(main())
