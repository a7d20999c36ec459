#!/usr/bin/env python3
"""Opens N keep-alive connections to a server, one request on each, and holds
them idle: prints the server's resident memory per connection.

    idle_conns.py HOST:PORT PID [N] [HOLD_SECONDS]

PID is the process whose memory counts (nginx: its worker). The memory is
VmRSS before the connections and once every connection has had its answer
(after a short settle), divided by N. While the connections are held the
script waits HOLD_SECONDS (the caller measures active-connection latency
meanwhile), then closes them all.
"""

import asyncio
import resource
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def one(host, port, ready):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await asyncio.wait_for(reader.readexactly(length), 30)
    ready.append(1)
    return writer


async def main():
    host, port = sys.argv[1].rsplit(":", 1)
    pid = int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 8000
    hold = float(sys.argv[4]) if len(sys.argv) > 4 else 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 1024)), hard))
    before = rss_kib(pid)
    ready = []
    writers = []
    # Opened in batches, so that the listen backlog is never the limit.
    for start in range(0, n, 500):
        batch = [one(host, int(port), ready) for _ in range(min(500, n - start))]
        writers += await asyncio.gather(*batch)
    await asyncio.sleep(1.0)
    after = rss_kib(pid)
    print(f"connections={len(ready)} rss_before_kib={before} rss_after_kib={after} "
          f"per_connection_bytes={(after - before) * 1024 / max(1, len(ready)):.0f}", flush=True)
    end = time.monotonic() + hold
    while time.monotonic() < end:
        await asyncio.sleep(0.2)
    for w in writers:
        w.close()


asyncio.run(main())
