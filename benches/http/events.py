#!/usr/bin/env python3
"""Live-update benchmark: two `taskflow serve` instances on one database; event streams
(GET /events) held open on instance B while tasks are created through instance A at a
steady rate. Prints the write-to-delivery delay (from the moment A acknowledged the write
to the moment a stream on B received its event: p50, p99, max), how many deliveries
arrived, and B's RSS with every stream open.

    benches/http/events.py --bin target/release/taskflow --database-url postgres://... \
        --streams 5000 --users 100 --rate 500 --seconds 10 [--load-bin target/release/events_load]

Standard library only (asyncio, raw HTTP/1.1), so it needs nothing installed. With
`--load-bin` the streams and the writes come from `events_load` (benches/src/bin, built by
`cargo build --release -p taskflow-benches --bin events_load`) instead of this process: at
thousands of streams a Python client takes a large share of a small machine's cores, and
its delays are then counted as the server's.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PASSWORD = "benchmark password"
# In an event's data line the task object comes first, and its id first within it.
TASK_ID = b'"task":{"id":"'


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(bin_path, database_url, secret, workdir, extra=()):
    port = free_port()
    args = [
        bin_path, "serve", "--bind", f"127.0.0.1:{port}", "--database-url", database_url,
        "--jwt-secret-file", secret, "--rate-limit-per-ip", "0",
        "--auth-rate-limit-per-ip", "0", "--rate-limit-per-user", "0",
        "--max-connections", "20000", "--max-connections-per-client", "20000", *extra,
    ]
    env = dict(os.environ, RUST_LOG="warn")
    proc = subprocess.Popen(args, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"the server on port {port} did not start")


async def request(port, method, path, body=None, token=None):
    """One request on a new connection; (status, parsed JSON or None)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} {path} HTTP/1.1", "Host: bench", "Connection: close",
            f"Content-Length: {len(data)}"]
    if body is not None:
        head.append("Content-Type: application/json")
    if token:
        head.append(f"Authorization: Bearer {token}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, (json.loads(payload) if payload.strip() else None)


class Writer:
    """A keep-alive connection for creates."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    async def create(self, token, title):
        if self.conn is None:
            self.conn = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.conn
        data = json.dumps({"title": title}).encode()
        writer.write((f"POST /api/v1/tasks HTTP/1.1\r\nHost: bench\r\n"
                      f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length)
        assert head.startswith(b"HTTP/1.1 201"), head[:40]
        return json.loads(body)["id"]


async def stream(port, token, arrivals, opened):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # HTTP/1.0: the body comes unchunked until the connection closes, so SSE lines arrive
    # whole (a chunk boundary may fall inside a data line).
    writer.write((f"GET /api/v1/events HTTP/1.0\r\nHost: bench\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"200", head[:60]
    if not opened.done():
        opened.set_result(None)
    # Read whatever has arrived and pick each event's task id out of its data line without
    # parsing the JSON: at 25,000 deliveries a second the client shares two cores with the
    # servers and the database, and time it spends parsing would be counted as delay.
    rest = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        now = time.monotonic()
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line.startswith(b"data: "):
                at = line.find(TASK_ID)
                if at < 0:
                    raise SystemExit(f"an event without a task id: {line[:200]!r}")
                at += len(TASK_ID)
                arrivals.append((line[at:at + 36].decode(), now))


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def rust_client(args, a_port, b_port, tokens, b_pid, rss_before, work):
    """Runs events_load against the two servers; prints the same lines as the Python client,
    with B's RSS sampled every 100 ms while the load runs."""
    tokens_file = os.path.join(work, "tokens")
    with open(tokens_file, "w") as f:
        f.write("\n".join(tokens) + "\n")
    proc = await asyncio.create_subprocess_exec(
        args.load_bin, "--a", f"127.0.0.1:{a_port}", "--b", f"127.0.0.1:{b_port}",
        "--tokens", tokens_file, "--streams", str(args.streams), "--rate", str(args.rate),
        "--seconds", str(args.seconds), stdout=subprocess.PIPE)
    opened = json.loads(await proc.stdout.readline())
    rss_open = rss_mib(b_pid)
    peak = rss_open
    report = asyncio.ensure_future(proc.stdout.readline())
    while not report.done():
        peak = max(peak, rss_mib(b_pid))
        await asyncio.wait([report], timeout=0.1)
    if await proc.wait() != 0:
        sys.exit("events_load failed")
    r = json.loads(report.result())
    per_user = args.streams // args.users
    print(f"streams on B: {opened['opened']} ({per_user} per user, {args.users} users); "
          f"writes through A: {r['writes']} in {r['write_seconds']:.1f} s "
          f"({r['writes'] / r['write_seconds']:.0f}/s); client: events_load")
    print(f"deliveries: {r['deliveries']} of {r['expected']}; write-to-delivery from A's ack: "
          f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms")
    print(f"B RSS: {rss_before:.0f} MiB before the streams, {rss_open:.0f} MiB with "
          f"them open, {peak:.0f} MiB at most while the writes ran")


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--database-url", required=True)
    p.add_argument("--streams", type=int, default=5000)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--rate", type=int, default=500)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--load-bin", help="events_load binary: streams and writes from Rust")
    args = p.parse_args()

    work = tempfile.mkdtemp()
    secret = os.path.join(work, "secret")
    with open(secret, "w") as f:
        f.write("benchmark secret of at least 32 bytes!!")
    os.chmod(secret, 0o600)
    a, a_port = start(args.bin, args.database_url, secret, work)
    b, b_port = start(args.bin, args.database_url, secret, work)
    try:
        tokens = []
        for i in range(args.users):
            email = f"u{i}-{os.getpid()}@example.com"
            await request(a_port, "POST", "/api/v1/auth/register",
                          {"email": email, "password": PASSWORD, "name": f"u{i}"})
            _, pair = await request(a_port, "POST", "/api/v1/auth/login",
                                    {"email": email, "password": PASSWORD})
            tokens.append(pair["access_token"])
        rss_before = rss_mib(b.pid)
        if args.load_bin:
            await rust_client(args, a_port, b_port, tokens, b.pid, rss_before, work)
            return
        arrivals = []
        tasks = []
        for i in range(args.streams):
            opened = asyncio.get_running_loop().create_future()
            tasks.append(asyncio.create_task(
                stream(b_port, tokens[i % args.users], arrivals, opened)))
            await opened
        rss_open = rss_mib(b.pid)
        per_user = args.streams // args.users
        writers = [Writer(a_port) for _ in range(8)]
        acked = {}
        interval = 1 / args.rate
        total = int(args.rate * args.seconds)
        start_at = time.monotonic()

        async def write(n):
            w = writers[n % len(writers)]
            task_id = await w.create(tokens[n % args.users], f"bench {n}")
            acked[task_id] = time.monotonic()

        # One request at a time per keep-alive connection; eight connections in all.
        locks = [asyncio.Lock() for _ in writers]

        async def one(n):
            async with locks[n % len(writers)]:
                await write(n)

        pending = []
        for n in range(total):
            delay = start_at + n * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(one(n)))
        await asyncio.gather(*pending)
        took = time.monotonic() - start_at
        await asyncio.sleep(2)
        rss_peak = rss_mib(b.pid)
        delays = sorted((t - acked[tid]) * 1000 for tid, t in arrivals if tid in acked)
        expected = total * per_user
        q = statistics.quantiles(delays, n=100) if len(delays) > 1 else [float("nan")] * 99
        print(f"streams on B: {args.streams} ({per_user} per user, {args.users} users); "
              f"writes through A: {total} in {took:.1f} s ({total / took:.0f}/s)")
        print(f"deliveries: {len(delays)} of {expected}; write-to-delivery from A's ack: "
              f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {delays[-1]:.1f} ms")
        print(f"B RSS: {rss_before:.0f} MiB before the streams, {rss_open:.0f} MiB with "
              f"them open, {rss_peak:.0f} MiB after the writes")
        for t in tasks:
            t.cancel()
    finally:
        a.kill()
        b.kill()


if __name__ == "__main__":
    asyncio.run(main())
