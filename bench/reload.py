#!/usr/bin/env python3
"""Time from a publish to the new version serving, on a worker with an admin
link to its repo, while wrk keeps it under load.

    reload.py PIPY [ROUNDS]

Starts a repo (fresh store) and a worker of codebase /bench on 127.0.0.1,
publishes ROUNDS versions one after the other, and for each polls the worker
(new connections) until it answers with the new text. Meanwhile `wrk -t1 -c20`
runs against the worker: its error and non-2xx counts say whether a reload
cost a request. Prints the times (ms) and wrk's summary.
"""

import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PIPY = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
REPO, SERVE = 16161, 9111


def request(port, method, path, body=b"", timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def wait_port(port, limit=20):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} not up")


def script(version):
    return f"pipy().listen({SERVE}).serveHTTP(new Message('{version}'))".encode()


def publish(version):
    assert request(REPO, "POST", "/api/v1/repo-files/bench/main.js", script(version))[0] == 201
    assert request(REPO, "PATCH", "/api/v1/repo/bench", f'{{"version":"{version}"}}'.encode())[0] == 201


def main():
    work = tempfile.mkdtemp(prefix="pipy-reload-")
    repo = subprocess.Popen([PIPY, f"--admin-port=127.0.0.1:{REPO}", "--log-level=warn"], cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    load = None
    try:
        wait_port(REPO)
        assert request(REPO, "POST", "/api/v1/repo/bench")[0] == 201
        publish("v0")
        worker = subprocess.Popen([PIPY, f"http://127.0.0.1:{REPO}/repo/bench/", "--log-level=warn"], cwd=work,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(SERVE)
        # The admin link comes up on the worker's first 5-second tick.
        time.sleep(6)
        duration = int(ROUNDS * 0.5) + 4
        load = subprocess.Popen(["wrk", "-t1", "-c20", f"-d{duration}s", f"http://127.0.0.1:{SERVE}/"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)
        times = []
        for n in range(1, ROUNDS + 1):
            version = f"v{n}"
            start = time.monotonic()
            publish(version)
            while True:
                try:
                    if request(SERVE, "GET", "/", timeout=2)[1] == version.encode():
                        break
                except OSError:
                    pass
                if time.monotonic() - start > 15:
                    raise SystemExit(f"{version} not served after 15 s")
            times.append((time.monotonic() - start) * 1000)
            time.sleep(0.3)
        # wrk's summary once its run (which spans every reload) ends.
        out = load.communicate(timeout=duration + 30)[0]
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"reloads={len(times)} publish_to_serving_ms p50={statistics.median(times):.1f} "
              f"p99={p99:.1f} max={times[-1]:.1f}")
        errors = re.search(r"Socket errors: (.*)", out)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        total = re.search(r"(\d+) requests in", out)
        print(f"under load: requests={total.group(1) if total else '?'} "
              f"socket_errors={errors.group(1) if errors else 'none'} non_2xx={non2xx.group(1) if non2xx else 0}")
    finally:
        for p in (load, worker, repo):
            if p and p.poll() is None:
                p.kill()


main()
