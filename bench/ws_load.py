"""WebSocket echo load: N connections each send a 64-byte message and wait for
its echo, for D seconds. Prints "messages/s errors"."""
import asyncio, sys, time
import websockets

async def one(url, deadline, counts):
    try:
        async with websockets.connect(url, compression=None, max_size=None) as ws:
            msg = 'x' * 64
            while time.monotonic() < deadline:
                await ws.send(msg)
                if await ws.recv() != msg:
                    counts[1] += 1
                counts[0] += 1
    except Exception:
        counts[1] += 1

async def main(url, conns, duration):
    counts = [0, 0]
    start = time.monotonic()
    deadline = start + duration
    await asyncio.gather(*(one(url, deadline, counts) for _ in range(conns)))
    print(f"{counts[0] / (time.monotonic() - start):.0f} {counts[1]}")

asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
