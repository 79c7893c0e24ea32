#!/usr/bin/env python3
"""Peak memory of avatar uploads (issue #7, finding 3): how much a server's peak RSS grows
when people upload hostile and large-but-allowed profile images, one at a time and several
at once. Not a test: a measurement, reported in BENCHMARKS.md.

    FULCRUM_BIN=target/release/fulcrum python3 bench/avatar_memory.py

Starts its own server on SQLite in a temporary directory, creates a user and a key with the
admin CLI, and reads the server's VmHWM (peak resident set) from /proc after each step. The
images are real PNGs written with the standard library (zlib): an 8000 x 8000 RGBA image of
one colour (about 250 kB compressed, 256 MB decoded: the review's bomb) and a 4096 x 4096
noisy one (the largest image the server decodes).
"""

import base64
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor


def png(width, height, noisy):
    """An RGBA PNG; rows of one colour, or of random bytes in blocks (compressible enough)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    comp = zlib.compressobj(6)
    parts = []
    rng = random.Random(7)
    plain = b"\x00" + bytes([30, 120, 200, 255]) * width
    for y in range(height):
        if noisy:
            block = bytes(rng.getrandbits(8) for _ in range(64))
            row = b"\x00" + (block * (width * 4 // 64 + 1))[: width * 4]
        else:
            row = plain
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def upload(base, key, data):
    boundary = "fulcrumbench"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(base + "/api/v1/avatar", data=body, method="POST")
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"api:{key}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    binary = os.environ.get("FULCRUM_BIN", "target/release/fulcrum")
    tmp = tempfile.mkdtemp(prefix="fulcrum-avatar-bench-")
    env = dict(os.environ, FULCRUM_DATA_DIR=tmp, FULCRUM_LOG_LEVEL="warn")
    cli = [binary, "admin", "--data-dir", tmp]
    subprocess.run(cli + ["create-user", "--username", "bench", "--email", "b@example.com"],
                   input=b"bench password 123\n", check=True, env=env, capture_output=True)
    key = subprocess.run(cli + ["create-key", "--username", "bench", "--name", "b"],
                         check=True, env=env, capture_output=True).stdout.decode().strip()
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--data-dir", tmp, "--listen", f"127.0.0.1:{port}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        print("generating images …", file=sys.stderr)
        bomb = png(8000, 8000, noisy=False)
        largest = png(4096, 4096, noisy=True)
        rows = []
        start = peak_rss_mib(server.pid)
        rows.append(("idle server", "-", "-", start))
        status = upload(base, key, bomb)
        rows.append((f"8000x8000 RGBA PNG ({len(bomb) // 1024} kB)", 1, status, peak_rss_mib(server.pid)))
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: upload(base, key, bomb), range(8)))
        rows.append(("same, 8 at once", 8, ",".join(map(str, sorted(set(statuses)))), peak_rss_mib(server.pid)))
        status = upload(base, key, largest)
        rows.append((f"4096x4096 RGBA PNG ({len(largest) // 1024} kB)", 1, status, peak_rss_mib(server.pid)))
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: upload(base, key, largest), range(8)))
        rows.append(("same, 8 at once", 8, ",".join(map(str, sorted(set(statuses)))), peak_rss_mib(server.pid)))
        print("| upload | requests | status | server peak RSS (MiB) | growth over idle (MiB) |")
        print("|---|---|---|---|---|")
        for name, n, status, peak in rows:
            print(f"| {name} | {n} | {status} | {peak:.1f} | {peak - start:.1f} |")
        print(json.dumps({"rows": rows}), file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
